"""DepthSync: binance-reference §5.2 (spot) and §5.4 (COIN-M) with hand-built sequences."""
from __future__ import annotations

import logging

import pytest

from arbitrage.marketdata import book as book_module
from arbitrage.marketdata.book import DepthSync
from arbitrage.models import DepthDiff, DepthSnapshot

SPOT_SYM = "BTCUSDT"
CM_SYM = "BTCUSD_PERP"


def diff(first: int, final: int, bids=(), asks=(), pu: int | None = None,
         symbol: str = SPOT_SYM) -> DepthDiff:
    return DepthDiff(symbol=symbol, first_id=first, final_id=final, prev_final_id=pu,
                     bids=list(bids), asks=list(asks), event_ms=final * 10, recv_ns=final * 1_000)


def cm(first: int, final: int, pu: int, bids=(), asks=()) -> DepthDiff:
    return diff(first, final, bids, asks, pu=pu, symbol=CM_SYM)


def snap(last: int, symbol: str = SPOT_SYM, bids=((100.0, 1.0), (99.0, 2.0)),
         asks=((101.0, 1.0), (102.0, 2.0))) -> DepthSnapshot:
    return DepthSnapshot(symbol=symbol, last_update_id=last, bids=list(bids), asks=list(asks),
                         event_ms=None, recv_ns=0)


def resync_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "arbitrage.book" and r.levelno == logging.WARNING and "[RESYNC]" in r.getMessage()]


def synced_spot() -> DepthSync:
    s = DepthSync(SPOT_SYM, "spot")
    s.on_diff(diff(104, 106))
    assert not s.on_snapshot(snap(105))
    assert s.ready and s.book.last_update_id == 106
    return s


# --- spot -----------------------------------------------------------------------------------------

def test_spot_buffers_until_snapshot_and_asks_for_it_once():
    s = DepthSync(SPOT_SYM, "spot")
    assert s.state == "buffering" and not s.ready
    assert s.on_diff(diff(100, 103)) is True          # first diff: fetch the snapshot now
    assert s.state == "awaiting_snapshot"
    assert s.on_diff(diff(104, 106, bids=[(100.0, 5.0)])) is False
    assert s.on_diff(diff(107, 108, asks=[(101.0, 0.0)])) is False
    assert not s.ready and s.book.best_bid() is None  # nothing applied before the snapshot
    assert s.on_snapshot(snap(105)) is False
    assert s.ready and s.state == "synced"
    # 100-103 dropped (u <= 105); 104-106 bridges (104 <= 106 <= 106); 107-108 follows
    assert s.applied == 2 and s.book.last_update_id == 108
    assert s.book.best_bid() == (100.0, 5.0)
    assert s.book.best_ask() == (102.0, 2.0)
    assert s.resyncs == 0


def test_spot_drops_event_ending_at_snapshot_id():
    s = DepthSync(SPOT_SYM, "spot")
    s.on_diff(diff(101, 105, bids=[(100.0, 9.0)]))    # u == lastUpdateId: already in the snapshot
    s.on_diff(diff(106, 107))
    s.on_snapshot(snap(105))
    assert s.ready and s.applied == 1 and s.book.best_bid() == (100.0, 1.0)


def test_spot_snapshot_older_than_first_buffered_event_is_fetched_again():
    s = DepthSync(SPOT_SYM, "spot")
    s.on_diff(diff(110, 112))
    assert s.on_snapshot(snap(105)) is True           # 106..109 would be missing
    assert not s.ready and s.state == "awaiting_snapshot" and s.resyncs == 0
    assert s.on_snapshot(snap(111)) is False
    assert s.ready and s.book.last_update_id == 112


def test_spot_snapshot_just_before_first_event_is_contiguous():
    s = DepthSync(SPOT_SYM, "spot")
    s.on_diff(diff(106, 108))
    assert s.on_snapshot(snap(105)) is False           # U == lastUpdateId + 1
    assert s.ready


def test_spot_snapshot_ahead_of_the_buffer_waits_for_a_bridging_event():
    s = DepthSync(SPOT_SYM, "spot")
    s.on_diff(diff(100, 103))
    assert s.on_snapshot(snap(110)) is False
    assert not s.ready                                 # not verified by any event yet
    assert s.on_diff(diff(104, 109)) is False          # stale, dropped
    assert not s.ready
    assert s.on_diff(diff(110, 115)) is False          # 110 <= 111 <= 115
    assert s.ready and s.applied == 1


def test_spot_pending_snapshot_then_a_gap_asks_again():
    s = DepthSync(SPOT_SYM, "spot")
    s.on_diff(diff(100, 103))
    s.on_snapshot(snap(110))
    assert s.on_diff(diff(115, 120)) is True           # 111..114 never seen
    assert not s.ready


def test_spot_gap_after_sync_resyncs_once_and_recovers(caplog):
    s = synced_spot()
    with caplog.at_level(logging.WARNING, logger="arbitrage.book"):
        assert s.on_diff(diff(108, 110)) is True       # 107 missing
    assert not s.ready and s.resyncs == 1
    assert "gap" in s.last_resync_reason
    assert resync_lines(caplog) == [f"[RESYNC] {SPOT_SYM} {s.last_resync_reason}"]
    assert s.book.best_bid() is None                   # the untrusted book is gone
    assert s.on_diff(diff(111, 112)) is False          # buffered, snapshot already asked for
    assert s.on_snapshot(snap(109)) is False           # bridges the kept 108-110 event
    assert s.ready and s.book.last_update_id == 112 and s.resyncs == 1


def test_spot_old_event_after_sync_is_ignored():
    s = synced_spot()
    s.on_diff(diff(107, 108))
    assert s.on_diff(diff(100, 104, bids=[(100.0, 0.0)])) is False
    assert s.ready and s.book.best_bid() == (100.0, 1.0) and s.book.last_update_id == 108


def test_spot_gap_inside_the_buffer_is_caught_while_bridging():
    s = DepthSync(SPOT_SYM, "spot")
    s.on_diff(diff(104, 106))
    s.on_diff(diff(109, 110))                          # 107-108 lost before the snapshot came
    assert s.on_snapshot(snap(105)) is True
    assert not s.ready and s.resyncs == 1


def test_crossed_book_forces_resync(caplog):
    s = synced_spot()
    with caplog.at_level(logging.WARNING, logger="arbitrage.book"):
        assert s.on_diff(diff(107, 107, bids=[(101.5, 1.0)])) is True
    assert not s.ready and s.resyncs == 1 and "crossed" in s.last_resync_reason
    assert len(resync_lines(caplog)) == 1


def test_zero_qty_and_unknown_level_removal_through_the_stream():
    s = synced_spot()
    s.on_diff(diff(107, 108, bids=[(100.0, 0.0), (42.0, 0.0)], asks=[(101.0, 0.0)]))
    assert s.ready
    assert s.book.best_bid() == (99.0, 2.0) and s.book.best_ask() == (102.0, 2.0)
    assert (s.book.last_event_ms, s.book.last_recv_ns) == (1080, 108_000)


def test_disconnect_makes_book_not_ready_until_resynced():
    s = synced_spot()
    s.on_disconnect("socket closed")
    assert not s.ready and s.state == "buffering" and s.resyncs == 1
    assert "disconnect" in s.last_resync_reason
    assert s.on_diff(diff(200, 202)) is True           # the new connection's first diff
    assert s.on_snapshot(snap(201)) is False
    assert s.ready


def test_disconnect_before_any_data_is_not_a_resync():
    s = DepthSync(SPOT_SYM, "spot")
    s.on_disconnect("never connected")
    assert s.resyncs == 0 and s.state == "buffering"


def test_buffer_is_bounded(monkeypatch):
    monkeypatch.setattr(book_module, "MAX_BUFFER", 5)
    s = DepthSync(SPOT_SYM, "spot")
    asks = [s.on_diff(diff(i, i)) for i in range(1, 13)]
    assert len(s._buffer) <= 5
    assert asks[0] is True and asks[5] is True         # overflow: start over, fetch again
    assert s.resyncs >= 1 and "overflow" in s.last_resync_reason


def test_late_snapshot_while_synced_is_ignored():
    s = synced_spot()
    assert s.on_snapshot(snap(50, bids=[(1.0, 1.0)])) is False
    assert s.ready and s.book.best_bid() == (100.0, 1.0)


def test_unknown_rule():
    with pytest.raises(ValueError):
        DepthSync(SPOT_SYM, "usdm")


# --- COIN-M ---------------------------------------------------------------------------------------

def test_coinm_keeps_event_ending_at_snapshot_id():
    s = DepthSync(CM_SYM, "coinm")
    assert s.on_diff(cm(90, 100, pu=80)) is True
    s.on_diff(cm(101, 105, pu=100, bids=[(100.0, 7.0)]))  # u == lastUpdateId: kept (u < L drops)
    s.on_diff(cm(130, 140, pu=105))                       # ids may jump; pu carries continuity
    assert s.on_snapshot(snap(105, CM_SYM)) is False
    assert s.ready and s.applied == 2 and s.book.last_update_id == 140
    assert s.book.best_bid() == (100.0, 7.0)


def test_coinm_first_event_must_straddle_the_snapshot():
    s = DepthSync(CM_SYM, "coinm")
    s.on_diff(cm(106, 110, pu=105))
    # spot would accept U == lastUpdateId+1; COIN-M needs U <= lastUpdateId
    assert s.on_snapshot(snap(105, CM_SYM)) is True
    assert not s.ready
    assert s.on_snapshot(snap(107, CM_SYM)) is False
    assert s.ready


def test_coinm_pu_mismatch_resyncs(caplog):
    s = DepthSync(CM_SYM, "coinm")
    s.on_diff(cm(101, 105, pu=100))
    s.on_snapshot(snap(103, CM_SYM))
    assert s.ready
    with caplog.at_level(logging.WARNING, logger="arbitrage.book"):
        assert s.on_diff(cm(106, 108, pu=104)) is True    # previous u was 105
    assert not s.ready and s.resyncs == 1
    assert "pu=104" in s.last_resync_reason
    assert resync_lines(caplog) == [f"[RESYNC] {CM_SYM} {s.last_resync_reason}"]


def test_coinm_repeated_event_breaks_the_chain():
    s = DepthSync(CM_SYM, "coinm")
    s.on_diff(cm(101, 105, pu=100))
    s.on_snapshot(snap(103, CM_SYM))
    s.on_diff(cm(106, 108, pu=105))
    assert s.on_diff(cm(106, 108, pu=105)) is True


def test_coinm_disconnect():
    s = DepthSync(CM_SYM, "coinm")
    s.on_diff(cm(101, 105, pu=100))
    s.on_snapshot(snap(103, CM_SYM))
    s.on_disconnect("pong timeout")
    assert not s.ready and s.book.best_ask() is None
