"""The bot's answer to each fault of the local exchange (issue 5), asserting the recovery and the
end state — not just "no exception". Each test ends with the exchange checked against the bot."""
from __future__ import annotations

import pytest

from arbitrage.sim import LocalExchange
from arbitrage.accounting.tradelog import read_rows
from tests.conftest import wait_for
from tests.harness import EASY, PERP, SPOT, BotRun

HOLD = ("--exit-bps", "-50", "--stop-bps", "50", "--max-hold-sec", "600")


@pytest.fixture
def sim():
    ex = LocalExchange(source="synthetic", seed=3).start()
    yield ex
    ex.stop()


def test_a_hedge_reduced_by_adl_is_recorded_and_closed(sim):
    r = BotRun(sim, *EASY, *HOLD)
    wait_for(lambda: r.trader.state == "HEDGED", timeout=120, what="a hedged trade")
    trade = r.trader.trade
    sim.reduce_position(PERP, 1, adl=True)
    wait_for(lambda: r.trader.outside_changes == 1 and r.trader.state == "FLAT", timeout=60,
             what="the reduction to be noticed and the trade closed")
    assert r.trader.halt_reason is None
    r.close()
    events = [row.event for row in read_rows(r.trades_log) if row.trade_id == trade.trade_id]
    assert events == ["open", "adl", "close"]
    assert r.bot.last_invariant is not None and r.bot.last_invariant.ok, r.bot.last_invariant.describe()
    r.assert_exchange_agrees(hedged_ok=False)


@pytest.mark.parametrize("kind", ["truncated", "html", "missing", "extra"])
def test_malformed_stream_messages_are_skipped_and_the_books_recover(sim, kind):
    r = BotRun(sim)
    wait_for(lambda: r.md.spot.ready and r.md.perp.ready, what="both books synced")
    errors, resyncs = r.bot.stats.parse_errors, r.md.resyncs
    sim.malformed_next(SPOT, kind, n=2)
    sim.malformed_next(PERP, kind, n=2)
    if kind == "extra":               # an unexpected field is tolerated: nothing lost
        wait_for(lambda: r.md.counters.diffs > 50, what="more diffs")
        assert r.bot.stats.parse_errors == errors and r.md.resyncs == resyncs
    else:                             # logged and skipped; the lost diff is a gap: resync
        wait_for(lambda: r.bot.stats.parse_errors >= errors + 4, what="the bad messages")
        wait_for(lambda: r.md.resyncs >= resyncs + 2, what="the resyncs")
    wait_for(lambda: r.md.spot.ready and r.md.perp.ready and not r.bot.evaluation.blocks,
             what="the books fit to trade again")
    assert r.thread.is_alive()
    r.close()


def test_a_server_clock_shift_is_answered_by_a_clock_resync(sim):
    r = BotRun(sim, *EASY)            # synced to the exchange's clock at start ...
    wait_for(lambda: r.md.spot.ready and r.md.perp.ready, what="both books synced")
    sim.shift_clock(-4000)            # ... which then falls 4 s behind: our timestamps look ahead
    r.wait_closed_trades(1)           # signed calls got -1021, re-synced, and went on
    http = (r.bot.spot_client.http, r.bot.coinm_client.http)
    assert sum(getattr(h, "clock_resyncs", 0) for h in http) >= 1
    r.assert_exchange_agrees()


def test_http_5xx_pages_are_retried_for_reads_and_resolved_for_orders(sim):
    r = BotRun(sim, *EASY)
    wait_for(lambda: r.md.spot.ready and r.md.perp.ready, what="both books synced")
    sim.http_errors_next(4, status=502)          # nginx-style HTML pages, nothing executed
    r.wait_closed_trades(1)
    http = (r.bot.spot_client.http, r.bot.coinm_client.http)
    assert sim.fault_counts()["http5xx"] == 4
    assert sum(h.retries for h in http) + r.bot.executor.unknown_resolved >= 1
    r.assert_exchange_agrees()


def test_a_rate_limit_is_waited_out_without_earning_a_ban(sim):
    r = BotRun(sim, *EASY)
    wait_for(lambda: r.md.spot.ready and r.md.perp.ready, what="both books synced")
    sim.rate_limit_next(2.0)
    wait_for(lambda: sum(h.bans for h in (r.bot.spot_client.http, r.bot.coinm_client.http)) >= 1,
             what="a 429 seen by the bot")
    r.wait_closed_trades(1)
    assert sim.fault_counts()["ban"] == 0           # Retry-After was honoured: never a 418
    r.assert_exchange_agrees()


def test_slow_answers_do_not_break_the_pair(sim):
    r = BotRun(sim, *EASY)
    wait_for(lambda: r.md.spot.ready and r.md.perp.ready, what="both books synced")
    sim.slow_next(3, 1.5)
    r.wait_closed_trades(1)
    assert sim.fault_counts()["slow"] == 3
    r.assert_exchange_agrees()

