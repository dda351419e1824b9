"""The ws path's sweeps (arbitrage/accounting/sweep_cadence.py) on the local exchange with the real bot: while
both user streams are live and quiet about anything but the bot's own orders, the account fetch
after each pair skips the trade lists (weight 20 + 20); an execution outside the bot's pairs (an
ADL) is swept at once; the ledger reproduces the exchange exactly either way."""
from __future__ import annotations

import pytest

from arbitrage.models import COINM
from arbitrage.sim import LocalExchange
from arbitrage.accounting.sweep_cadence import BACKSTOP_S
from arbitrage.accounting.tradelog import read_rows
from tests.conftest import wait_for
from tests.harness import EASY, PERP, BotRun
from tests.test_ws_exec import HOLD, WS, _exact


@pytest.fixture
def sim():
    ex = LocalExchange(source="synthetic", seed=3).start()
    yield ex
    ex.stop()


def _trade_list_reads(sim: LocalExchange) -> int:
    return sum(sim.meter.calls[f"REST GET {path}"] for path in ("/api/v3/myTrades",
                                                                "/dapi/v1/userTrades"))


def test_live_quiet_streams_spare_the_trade_list_reads_and_the_ledger_stays_exact(sim):
    r = BotRun(sim, *EASY, *WS)
    wait_for(lambda: r.bot.lanes.live() and len(r.trader.closed) >= 1 and not r.trader.in_flight,
             timeout=90, what="a first round trip over the fast lanes")
    spot_reads = sim.meter.calls["REST GET /api/v3/myTrades"]
    fetches = sim.meter.calls["REST GET /api/v3/account"]
    skipped = r.bot.sweeps.skipped
    r.wait_closed_trades(len(r.trader.closed) + 3)
    fetches = sim.meter.calls["REST GET /api/v3/account"] - fetches
    # a sweep reads both trade lists at every account fetch and exit (REST path); here every
    # account fetch skipped it, and spot's trades came with the orders' FULL answers: no myTrades
    # at all (the COIN-M legs' own userTrades are still read, one per leg)
    assert fetches >= 3 and r.bot.sweeps.skipped - skipped >= fetches, (fetches, r.bot.sweeps.skipped)
    assert sim.meter.calls["REST GET /api/v3/myTrades"] == spot_reads
    _exact(r, sim)


def test_an_adl_pushed_on_the_ws_path_is_swept_and_closed_well_before_the_backstop(sim):
    r = BotRun(sim, *EASY, *WS, *HOLD)
    wait_for(lambda: r.trader.state == "HEDGED" and r.bot.sweeps.skipped >= 1, timeout=120,
             what="a hedged trade with sweeps skipped")
    trade = r.trader.trade
    sim.reduce_position(PERP, 1, adl=True)
    wait_for(lambda: r.trader.outside_changes == 1 and r.trader.state == "FLAT",
             timeout=BACKSTOP_S / 3, what="the ADL swept and the trade closed")
    assert r.trader.halt_reason is None
    r.close()
    events = [row.event for row in read_rows(r.trades_log) if row.trade_id == trade.trade_id]
    assert events == ["open", "adl", "close"]
    assert r.bot.last_invariant is not None and r.bot.last_invariant.ok, r.bot.last_invariant.describe()
    r.assert_exchange_agrees(hedged_ok=False)


def test_an_adl_whose_events_were_lost_is_swept_once_the_position_disagrees(sim):
    # nothing pushed says "outside": the COIN-M position read by REST disagrees with the bot's,
    # and the account read that checks it again sweeps (not the 60 s backstop, not a HALT)
    r = BotRun(sim, *EASY, *WS, *HOLD)
    wait_for(lambda: r.trader.state == "HEDGED" and r.bot.sweeps.skipped >= 1, timeout=120,
             what="a hedged trade with sweeps skipped")
    outside = r.bot.lanes.hub.outside
    sim.lose_next_user_events(COINM, 2)
    sim.reduce_position(PERP, 1, adl=True)
    wait_for(lambda: r.trader.outside_changes == 1 and r.trader.state == "FLAT",
             timeout=BACKSTOP_S / 3, what="the ADL swept and the trade closed")
    assert r.bot.lanes.hub.outside == outside, "an event said it: the test proves nothing"
    assert r.trader.halt_reason is None
    r.close()
    assert r.bot.last_invariant is not None and r.bot.last_invariant.ok, r.bot.last_invariant.describe()
    r.assert_exchange_agrees(hedged_ok=False)
