"""ORDER_TRANSPORT=ws (issue 13): the real bot sends its orders over the local exchange's
WebSocket API and its pair monitor is woken by the user data streams. Every test ends with the
exchange checked against the bot and the ledger reproducing the exchange's balances exactly."""
from __future__ import annotations

import time

import pytest

from arbitrage.models import COINM, SPOT as SPOT_MARKET
from arbitrage.execution.pair_watch import PushedUpdates
from arbitrage.sim import LocalExchange
from tests.conftest import wait_for
from tests.harness import EASY, BotRun
from tests.test_restart import Scenario

WS = ("--order-transport", "ws")
HOLD = ("--exit-bps", "-50", "--stop-bps", "50", "--max-hold-sec", "600")


@pytest.fixture
def sim():
    ex = LocalExchange(source="synthetic", seed=3).start()
    yield ex
    ex.stop()


def _synced(r: BotRun) -> None:
    wait_for(lambda: r.md.spot.ready and r.md.perp.ready and r.bot.lanes.live(),
             what="both books synced and both user streams live")


def _exact(r: BotRun, sim: LocalExchange, hedged_ok: bool = True) -> None:
    """Stopped; nothing sent twice; the exchange agrees; the ledger is exact."""
    r.close()
    for desk in (sim.trading.spot, sim.trading.coinm):
        ids = [o.client_order_id for o in desk.orders.values()]
        assert len(ids) == len(set(ids)), "an order was sent twice"
    inv = r.bot.last_invariant
    assert inv is not None and inv.ok, inv.describe() if inv else "no invariant"
    r.assert_exchange_agrees(hedged_ok)


def test_taker_round_trips_go_over_the_ws_api(sim):
    r = BotRun(sim, *EASY, *WS)
    r.wait_closed_trades(2)
    counts = r.bot.lanes.counts()
    assert counts["orders_ws"] >= 8 and counts["orders_rest_fallback"] == 0, counts
    assert counts["events"] >= 8, counts               # every execution pushed by both streams
    assert isinstance(r.bot.executor.updates, PushedUpdates)
    _exact(r, sim)


def test_maker_pairs_are_watched_by_pushed_events_not_polls(sim):
    # a REST poll every 10 minutes: a pair whose legs rest would wait that long to be looked
    # at. Over the user streams each leg is read the moment its event comes, and a lone fill is
    # rescued at the deadline without waiting for a poll.
    r = BotRun(sim, *EASY, *WS, "--execution-mode", "maker", "--pair-poll-interval", "600",
               "--pair-timeout-sec", "3", "--max-hold-sec", "3")
    wait_for(lambda: r.trader.entries >= 2 and not r.trader.in_flight, timeout=150,
             what="two maker entries completed")
    updates = r.bot.executor.updates
    assert updates.polled == 0 and updates.pushed >= 1, (updates.polled, updates.pushed)
    assert r.trader.halt_reason is None, r.trader.halt_reason
    _exact(r, sim)


def test_a_lone_fill_pushed_before_its_late_answer_is_rescued_at_once(sim):
    # the spot leg is refused; the perp leg executes at once but its answer comes 20 s late, and
    # REST would poll once every 10 minutes. The perp's fill is known from its user stream: the
    # leg is read by client id and rescued then — not after the answer, not after a poll.
    sim.reject_next_orders(SPOT_MARKET, 1)         # scripted before the bot starts: they meet
    sim.delay_next_ws_answers(COINM, 20.0)          # its first entry, not an exit
    began = time.monotonic()
    r = BotRun(sim, *EASY, *WS, "--http-timeout", "30", "--pair-poll-interval", "600")
    wait_for(lambda: r.trader.rescued_entries >= 1 and not r.trader.in_flight, timeout=60,
             what="the lone perp leg rescued")
    assert time.monotonic() - began < 20.0, "the rescue waited for the late answer"
    assert sim.fault_counts()["wsapi_late"] == 1
    assert r.bot.executor.unknown_resolved >= 1        # read by client id, not answered
    _exact(r, sim)


def test_a_lost_ws_api_answer_is_resolved_and_never_resent(sim):
    r = BotRun(sim, *EASY, *WS, "--http-timeout", "2")
    _synced(r)
    sim.lose_next_ws_answers(SPOT_MARKET)          # the order executes, its answer never comes
    r.wait_closed_trades(1)
    assert sim.fault_counts()["wsapi_lost"] == 1
    assert r.bot.executor.unknown_resolved >= 1
    assert r.bot.lanes.counts()["orders_rest_fallback"] == 0
    _exact(r, sim)                                 # includes: no client order id sent twice


def test_user_streams_dropped_mid_pair_are_reconciled_before_the_next_entry(sim):
    r = BotRun(sim, *EASY, *WS, "--execution-mode", "maker", "--pair-timeout-sec", "4",
               "--max-hold-sec", "3")
    _synced(r)
    wait_for(lambda: r.trader.in_flight, timeout=120, what="a pair in flight")
    assert sim.drop_user_streams() >= 2            # the spot subscription and the listenKey stream
    hub = r.bot.lanes.hub
    wait_for(lambda: hub.gaps >= 2, timeout=60, what="both gaps reported")
    wait_for(lambda: hub.entry_block() is None, timeout=60, what="a REST reconciliation")
    assert hub.reconciled_ms > hub.gap_until_ms
    wait_for(lambda: len(r.trader.closed) >= 1 and not r.trader.in_flight, timeout=150,
             what="a closed trade after the gap")
    _exact(r, sim)


def test_an_expired_listen_key_is_renewed_and_trading_goes_on(sim):
    r = BotRun(sim, *EASY, *WS)
    _synced(r)
    assert sim.expire_listen_keys() >= 1
    wait_for(lambda: r.bot.lanes.coinm_user.renewals >= 1 and r.bot.lanes.live(), timeout=60,
             what="a new listenKey followed")
    closed = len(r.trader.closed)
    r.wait_closed_trades(closed + 1)
    assert r.bot.lanes.hub.gaps >= 1
    _exact(r, sim)


def test_orders_go_by_rest_while_the_ws_api_is_down(sim):
    r = BotRun(sim, *EASY, *WS, "--max-hold-sec", "2", "--exit-bps", "-50", "--stop-bps", "50")
    wait_for(lambda: r.trader.state == "HEDGED", timeout=120, what="a hedged trade")
    for conn in (r.bot.lanes.spot_api.conn, r.bot.lanes.coinm_api.conn):
        conn.stop()                                 # down for good: the exit has REST only
    wait_for(lambda: len(r.trader.closed) >= 1 and not r.trader.in_flight, timeout=60,
             what="the exit by REST")
    assert r.bot.lanes.counts()["orders_rest_fallback"] >= 2
    assert r.bot.lanes.hub.entry_block() is not None   # no spot user stream: no new entry
    _exact(r, sim)


def test_killed_while_hedged_on_the_ws_path_resumes_and_exits_over_it(sim, tmp_path):
    # (killed while HEDGED: with a maker entry resting at the kill, a fill landing between the
    # restart's balance read and its start time is counted by neither, on either transport —
    # a start-up race of app/main.py's _starting_point, reported, not this item's)
    s = Scenario(sim, tmp_path)
    first = s.bot(*WS, *HOLD)
    wait_for(lambda: s.saved_state("HEDGED"), timeout=120, what="a hedged trade")
    assert first.saw(r"\[WSAPI\] order transport ws: WebSocket API up, user streams live")
    s.kill(first)
    second = s.last_bot(*WS, "--exit-bps", "-50", "--stop-bps", "50", "--max-hold-sec", "1")
    wait_for(lambda: second.saw(r"\[STATE\] state matches the exchange: resuming HEDGED"),
             timeout=60, what="the resume")
    wait_for(lambda: second.saw(r"\[EXIT\] T\d+ flat"), timeout=60, what="the exit by timeout")
    wait_for(lambda: second.saw(r"\[STATUS\] FLAT"), timeout=60, what="FLAT")
    code, err = s.stop(second)
    assert code == 0 and "[HALT]" not in err, err[-4000:]
    assert second.saw(r"\[WSAPI\] order transport ws: WebSocket API up, user streams live")
    assert "by REST" not in err                    # the exit went over the WebSocket API
    s.check()
