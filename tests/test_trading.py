"""Issue 3's paths, each against the local exchange over loopback with the real bot, and each ending
with the exchange's own view checked against the bot's records (tests/harness.py)."""
from __future__ import annotations

import time

import pytest

from arbitrage.sim import LocalExchange
from tests.conftest import wait_for
from tests.harness import EASY, PERP, SPOT, BotRun


@pytest.fixture
def sim():
    ex = LocalExchange(source="synthetic", seed=3).start()
    yield ex
    ex.stop()


def run(sim, *flags):
    return BotRun(sim, *EASY, *flags)


def test_taker_round_trip_exits_on_convergence(sim):
    r = run(sim)
    r.wait_closed_trades(1)
    t = r.trader.closed[0]
    assert t.exit_reason == "converged" and t.rescues == 0
    assert t.spot_btc > 0 or t.spot_btc < 0
    assert abs(t.contracts) >= 1
    spot_order = r.bot.spot_client.get_order(SPOT, f"{t.trade_id}-s-e1")
    perp_order = r.bot.coinm_client.get_order(PERP, f"{t.trade_id}-p-e1")
    assert spot_order.type == "MARKET" and perp_order.type == "MARKET"
    exit_perp = r.bot.coinm_client.get_order(PERP, f"{t.trade_id}-p-x1")
    assert exit_perp.reduce_only and exit_perp.status == "FILLED"
    r.assert_exchange_agrees()


def test_maker_round_trip(sim):
    r = run(sim, "--execution-mode", "maker", "--pair-timeout-sec", "4")
    wait_for(lambda: any(t.rescues == 0 for t in r.trader.closed) or r.trader.halt_reason,
             timeout=120, what="a maker trade that filled on both legs and closed")
    assert r.trader.halt_reason is None
    t = next(t for t in r.trader.closed if t.rescues == 0)
    spot_order = r.bot.spot_client.get_order(SPOT, f"{t.trade_id}-s-e1")
    perp_order = r.bot.coinm_client.get_order(PERP, f"{t.trade_id}-p-e1")
    assert spot_order.type == "LIMIT_MAKER" and perp_order.type == "LIMIT"
    r.assert_exchange_agrees()


def test_spot_fills_perp_rejected_rescue_flattens_spot(sim):
    sim.reject_next_orders("coinm", 1)
    r = run(sim)
    r.wait_entries(1)
    r.close()
    assert r.trader.rescued_entries == 1 and r.trader.halt_reason is None
    rescue = r.bot.spot_client.get_order(SPOT, r.trader.entry_ids[0] + "-s-r1")
    assert rescue.status == "FILLED" and rescue.type == "MARKET"
    r.assert_exchange_agrees()


def test_perp_fills_spot_rejected_rescue_closes_contracts_reduce_only(sim):
    sim.reject_next_orders("spot", 1)
    r = run(sim)
    r.wait_entries(1)
    r.close()
    assert r.trader.rescued_entries == 1 and r.trader.halt_reason is None
    rescue = r.bot.coinm_client.get_order(PERP, r.trader.entry_ids[0] + "-p-r1")
    assert rescue.status == "FILLED" and rescue.reduce_only
    r.assert_exchange_agrees()


def test_both_legs_partial_with_unequal_amounts(sim):
    sim.fill_next_orders_partially("spot", 0.5)
    sim.fill_next_orders_partially("coinm", 0.9)
    r = run(sim, "--max-q-btc-frontier", "0.2")
    r.wait_closed_trades(1)
    t = r.trader.closed[0]
    assert t.rescues >= 1                      # the excess contracts were closed reduce-only
    rescue = r.bot.coinm_client.get_order(PERP, f"{t.trade_id}-p-r1")
    assert rescue.reduce_only and rescue.status == "FILLED"
    r.assert_exchange_agrees()


def test_exit_by_stop(sim):
    r = run(sim, "--exit-bps", "-50", "--stop-bps", "0.6")
    r.wait_closed_trades(1)
    assert r.trader.closed[0].exit_reason == "stop"
    r.assert_exchange_agrees()


def test_exit_by_timeout(sim):
    r = run(sim, "--exit-bps", "-50", "--stop-bps", "50", "--max-hold-sec", "1")
    r.wait_closed_trades(1)
    t = r.trader.closed[0]
    assert t.exit_reason == "timeout" and t.closed_ms - t.opened_ms >= 1000
    r.assert_exchange_agrees()


def test_a_failing_rescue_halts_and_sends_nothing_more(sim):
    sim.fill_next_orders_partially("spot", 1)      # the entry's spot leg fills ...
    sim.fill_next_orders_partially("spot", 0, n=3) # ... its rescue fills nothing, three times
    sim.reject_next_orders("coinm", 1)             # and the perp leg is refused
    r = run(sim)
    wait_for(lambda: r.trader.halt_reason, timeout=90, what="the halt")
    assert r.trader.state == "HALTED" and "rescue" in r.trader.halt_reason
    sent = (sim.orders_received("spot"), sim.orders_received("coinm"))
    time.sleep(3)                                  # the market keeps offering entries meanwhile
    assert (sim.orders_received("spot"), sim.orders_received("coinm")) == sent
    assert r.thread.is_alive()                     # halted, not crashed
    r.assert_exchange_agrees()


def test_a_503_whose_order_executed_is_resolved_by_query_without_a_duplicate(sim):
    sim.answer_503_after_executing("spot", 1)
    r = run(sim)
    r.wait_closed_trades(1)
    t = r.trader.closed[0]
    assert t.rescues == 0                          # resolved as filled: nothing to rescue
    r.close()
    assert sim.orders_received("spot") == r.bot.executor.orders_sent - sim.orders_received("coinm")
    r.assert_exchange_agrees()


def test_dry_run_sends_no_order_at_all(sim):
    r = run(sim, "--dry-run")
    r.wait_closed_trades(1)
    r.close()
    assert sim.orders_received("spot") == 0 and sim.orders_received("coinm") == 0
    assert r.bot.executor.orders_sent == 0



def test_a_stop_during_an_entry_finishes_the_pair_first(sim):
    # maker legs rest at the touch for up to 3 s: stop right then
    r = run(sim, "--execution-mode", "maker", "--pair-timeout-sec", "3")
    wait_for(lambda: r.trader.state == "ENTERING", timeout=90, what="an entry in flight")
    r.close()                                      # the stop arrives mid-pair
    assert r.trader.state in ("FLAT", "HEDGED") and r.trader.halt_reason is None
    r.assert_exchange_agrees()                     # nothing left open, nothing unhedged
