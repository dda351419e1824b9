"""Capture I/O and app.check_capture on captures the tests write themselves."""
from __future__ import annotations

import gzip
import json

import pytest

from app.check_capture import check_capture, main
from arbitrage.marketdata.capture import CaptureWriter, iter_capture

NS0 = 1_723_161_254_000_000_000


def test_roundtrip_plain_and_gzip_with_append(tmp_path):
    for name in ("cap.txt", "cap.gz"):
        path = tmp_path / name
        with CaptureWriter(path) as w:
            w.write(NS0, '{"a":1}')
            w.write(NS0 + 1, b'{"b":2}')
        with CaptureWriter(path) as w:                  # appending to an existing capture
            w.write(NS0 + 2, '{"c":\n3}')               # a line break must not split the record
        assert list(iter_capture(path)) == [(NS0, '{"a":1}'), (NS0 + 1, '{"b":2}'), (NS0 + 2, '{"c": 3}')]
    assert gzip.open(tmp_path / "cap.gz", "rt").read().startswith(f"{NS0} ")


def test_lines_reach_the_file_before_close(tmp_path):
    for name in ("live.txt", "live.gz"):
        w = CaptureWriter(tmp_path / name)
        w.write(NS0, '{"x":1}')
        assert list(iter_capture(tmp_path / name)) == [(NS0, '{"x":1}')]  # still open
        w.close()
        with pytest.raises(ValueError):
            w.write(NS0, "{}")


def test_bad_lines_and_truncated_gzip_are_survived(tmp_path):
    path = tmp_path / "odd.txt"
    path.write_text(f'{NS0} {{"a":1}}\nnot-a-time {{"b":2}}\n\n{NS0 + 5} {{"c":3}}\n')
    assert list(iter_capture(path)) == [(NS0, '{"a":1}'), (NS0 + 5, '{"c":3}')]
    full = gzip.compress("".join(f"{NS0 + i} {{\"i\":{i}}}\n" for i in range(2000)).encode())
    cut = tmp_path / "cut.gz"
    cut.write_bytes(full[: len(full) // 2])
    got = list(iter_capture(cut))
    assert 0 < len(got) < 2000 and got[0] == (NS0, '{"i":0}')


# --- a synthetic capture in the recorded files' shape ------------------------------------------------

def spot_depth(U: int, u: int, bids, asks) -> str:
    data = {"e": "depthUpdate", "E": 1_000 + u, "s": "BTCUSDT", "U": U, "u": u,
            "b": [[f"{p:.8f}", f"{q:.8f}"] for p, q in bids], "a": [[f"{p:.8f}", f"{q:.8f}"] for p, q in asks]}
    return json.dumps({"stream": "btcusdt@depth@100ms", "data": data})


def spot_ticker(u: int, bid, ask) -> str:
    data = {"u": u, "s": "BTCUSDT", "b": f"{bid[0]:.8f}", "B": f"{bid[1]:.8f}",
            "a": f"{ask[0]:.8f}", "A": f"{ask[1]:.8f}"}
    return json.dumps({"stream": "btcusdt@bookTicker", "data": data})


def cm_depth(U: int, u: int, pu: int, bids, asks) -> str:
    data = {"e": "depthUpdate", "E": 1_000 + u, "T": 999 + u, "s": "BTCUSD_PERP", "ps": "BTCUSD",
            "U": U, "u": u, "pu": pu, "b": [[f"{p:.1f}", str(q)] for p, q in bids],
            "a": [[f"{p:.1f}", str(q)] for p, q in asks]}
    return json.dumps({"stream": "btcusd_perp@depth@0ms", "data": data})


def cm_ticker(u: int, bid, ask) -> str:
    data = {"u": u, "e": "bookTicker", "s": "BTCUSD_PERP", "ps": "BTCUSD", "b": f"{bid[0]:.1f}",
            "B": str(bid[1]), "a": f"{ask[0]:.1f}", "A": str(ask[1]), "T": 1_000 + u, "E": 1_000 + u}
    return json.dumps({"stream": "btcusd_perp@bookTicker", "data": data})


def write(path, messages: list[str]) -> None:
    with CaptureWriter(path) as w:
        for i, raw in enumerate(messages):
            w.write(NS0 + i * 1_000_000, raw)


def spot_messages(ticker_bid_qty: float = 2.0) -> list[str]:
    return [
        spot_depth(100, 103, [(100.0, 9.0)], []),                     # dropped: u <= 105
        spot_ticker(106, (100.0, 1.0), (101.0, 1.0)),                 # before sync: not comparable
        spot_depth(104, 106, [(100.0, 1.0)], []),                     # bridges the snapshot
        json.dumps({"lastUpdateId": 105, "bids": [["100.00000000", "5.00000000"], ["99.00000000", "1.00000000"]],
                    "asks": [["101.00000000", "1.00000000"]]}),
        spot_ticker(108, (100.0, 1.5), (101.0, 1.0)),                 # mid-range of 107-109: never a diff's u
        spot_ticker(109, (100.0, ticker_bid_qty), (101.0, 1.0)),      # arrives before its diff
        '{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","T":1,"m":true,"M":true}}',
        spot_depth(107, 109, [(100.0, 2.0)], []),
        spot_ticker(109, (100.0, ticker_bid_qty), (101.0, 1.0)),      # arrives after its diff
        spot_depth(110, 110, [], [(100.5, 3.0)]),
        spot_ticker(110, (100.0, 2.0), (100.5, 3.0)),
    ]


def cm_messages() -> list[str]:
    return [
        cm_depth(90, 100, 80, [(60_000.0, 1)], []),                   # dropped: u < 105
        cm_depth(101, 105, 100, [(60_000.0, 4)], []),                 # kept: U <= 105 <= u
        json.dumps({"lastUpdateId": 105, "E": 1, "T": 1, "symbol": "BTCUSD_PERP", "pair": "BTCUSD",
                    "bids": [["60000.0", "3"]], "asks": [["60000.1", "7"]]}),
        cm_ticker(140, (60_000.0, 4), (60_000.1, 2)),
        cm_depth(130, 140, 105, [], [(60_000.1, 2)]),
    ]


def test_check_capture_on_a_clean_synthetic_capture(tmp_path):
    write(tmp_path / "spot.gz", spot_messages())
    write(tmp_path / "cm.txt", cm_messages())
    reports = check_capture([tmp_path / "spot.gz", tmp_path / "cm.txt"])
    spot, perp = reports["BTCUSDT"], reports["BTCUSD_PERP"]
    assert (spot.rule, spot.diffs, spot.applied, spot.resyncs, spot.snapshots) == ("spot", 4, 3, 0, 1)
    assert (spot.tickers.tickers, spot.tickers.compared, spot.tickers.mismatches) == (5, 3, 0)
    assert (spot.tickers.before_sync, spot.tickers.no_matching_diff) == (1, 1)
    assert spot.ok
    assert (perp.rule, perp.applied, perp.tickers.compared, perp.tickers.mismatches, perp.resyncs) == ("coinm", 2, 1, 0, 0)
    assert main([str(tmp_path / "spot.gz"), str(tmp_path / "cm.txt")]) == 0


def test_check_capture_reports_a_ticker_mismatch(tmp_path, capsys):
    write(tmp_path / "bad.txt", spot_messages(ticker_bid_qty=2.5))
    rep = check_capture([tmp_path / "bad.txt"])["BTCUSDT"]
    assert rep.tickers.mismatches == 2 and rep.tickers.compared == 3 and not rep.ok
    assert "u=109" in rep.tickers.first_mismatches[0]
    assert main([str(tmp_path / "bad.txt")]) == 1
    assert "mismatch: BTCUSDT u=109" in capsys.readouterr().out


def test_check_capture_reports_a_gap_as_resync(tmp_path):
    messages = spot_messages()
    messages.remove(spot_depth(107, 109, [(100.0, 2.0)], []))        # a lost diff
    write(tmp_path / "gap.txt", messages)
    rep = check_capture([tmp_path / "gap.txt"])["BTCUSDT"]
    assert rep.resyncs == 1 and "gap" in rep.resync_reasons[0]
    assert main([str(tmp_path / "gap.txt")]) == 1


def test_check_capture_survives_an_unreadable_line(tmp_path):
    messages = spot_messages()
    messages.insert(5, '{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpd')
    write(tmp_path / "torn.txt", messages)
    errors: list[str] = []
    rep = check_capture([tmp_path / "torn.txt"], errors)["BTCUSDT"]
    assert rep.ok and len(errors) == 1 and "depthUpd" in errors[0]
    assert main([str(tmp_path / "torn.txt")]) == 1
