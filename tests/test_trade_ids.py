"""Trade ids (and so client order ids) never repeat, and the history kept to ensure it is bounded:
the state file is rewritten on every change and must not grow with every trade ever made."""
from __future__ import annotations

from decimal import Decimal as D

from arbitrage.models import BUY, SELL
from arbitrage.strategy.engine import FLAT
from arbitrage.strategy.entry import FRONTIER, TAKER, EntryPlan
from arbitrage.strategy.frontier import BUY_SPOT
from arbitrage.engine.trader import ENTRY_IDS_KEPT
from tests.test_outside_fills import hedged_trader


def test_a_clock_that_goes_back_never_repeats_an_id():
    trader, _ = hedged_trader(opened_ms=2_000)
    trader.entry_ids = ["T5000"]
    assert trader._fresh_trade_id(now_ms=1_000) == "T5001"
    trader.next_trade_id = "T5001"
    assert trader._fresh_trade_id(now_ms=1_000) == "T5002"       # the reserved one is taken too
    assert trader._fresh_trade_id(now_ms=9_000) == "T9000"


def test_the_history_of_ids_is_bounded_and_new_ids_stay_above_it():
    trader, sent = hedged_trader(opened_ms=2_000)
    plan = EntryPlan(BUY_SPOT, FRONTIER, TAKER, BUY, SELL, D("0.01"), D(6), None, None, 60000.0,
                     60040.0, 6.6, 30.0, -23.4, 600.0, D(600), False, 0.0, 0.0, 0.0)
    used = []
    for i in range(ENTRY_IDS_KEPT + 20):
        trader.state, trader.trade = FLAT, None
        used.append(trader.next_trade_id)
        trader.start_entry(plan, 8.0, now_ms=1_000 + i // 3, trigger_ns=0)   # a slow clock
    assert len(set(used)) == len(used) == len(sent.specs)                      # never repeated
    assert [s.trade_id for s in sent.specs] == used
    assert len(trader.entry_ids) == ENTRY_IDS_KEPT and trader.entry_ids == used[-ENTRY_IDS_KEPT:]
    assert int(trader.next_trade_id[1:]) > int(used[-1][1:])


def test_the_summary_reports_event_to_order_times_of_the_entries():
    from types import SimpleNamespace
    from app.summary import _entry_latency
    stats = SimpleNamespace(entry_latency=[("T1", 1_000_000, 1_400_000, 1_900_000),
                                           ("T2", 5_000_000, 5_300_000, 7_500_000)])
    assert _entry_latency(stats) == ("entries: event -> order sent 0.90 ms median, 2.50 ms max "
                                     "over 4 legs")
    assert _entry_latency(SimpleNamespace(entry_latency=[])) is None
