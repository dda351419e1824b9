"""The sweep's cut (arbitrage/accounting/sweep.py): which executions no ledger row holds are booked now, and
how far the cursor moves."""
from __future__ import annotations

from decimal import Decimal as D

from arbitrage.models import BUY, COINM, SPOT, Fill
from arbitrage.accounting.sweep import LAG_MS, MAX_WINDOWS, SPOT_SPAN_MS, cut, windows


def fill(market: str, order_id: int, time_ms: int) -> Fill:
    return Fill(market, "X", order_id, order_id * 10, BUY, D("60000"), D(1), D("0.001"), D(0),
                "BTC", D(0), time_ms, False)


def test_what_the_ledger_holds_is_not_booked_again_and_the_rest_is():
    fills = [fill(COINM, 1, 100_000), fill(SPOT, 1, 100_500), fill(COINM, 2, 101_000)]
    got = cut(fills, {(COINM, "1")}, floor_ms=0, cursor_ms=0, hold_from_ms=None)
    assert [(f.market, f.order_id) for f in got.book] == [(SPOT, 1), (COINM, 2)]
    assert got.cursor_ms == 101_000 - LAG_MS


def test_executions_before_the_floor_are_not_this_ledgers():
    got = cut([fill(COINM, 5, 999), fill(COINM, 6, 1_000)], set(), floor_ms=1_000, cursor_ms=1_000,
              hold_from_ms=None)
    assert [f.order_id for f in got.book] == [6]
    assert got.cursor_ms == 1_000                  # never behind the floor


def test_a_pair_in_flight_holds_back_everything_from_its_start_and_the_cursor_waits():
    fills = [fill(COINM, 7, 50_000), fill(COINM, 8, 80_000), fill(SPOT, 9, 90_000)]
    got = cut(fills, set(), floor_ms=0, cursor_ms=40_000, hold_from_ms=70_000)
    assert [f.order_id for f in got.book] == [7]
    assert got.cursor_ms == 69_999                 # the pair's own and order 8 are read again
    after = cut(fills, {(COINM, "7")}, floor_ms=0, cursor_ms=got.cursor_ms, hold_from_ms=None)
    assert [f.order_id for f in after.book] == [8, 9]


def test_an_empty_sweep_leaves_the_cursor():
    assert cut([], set(), floor_ms=0, cursor_ms=1234, hold_from_ms=None).cursor_ms == 1234


def test_a_quiet_read_moves_the_cursor_to_where_it_read():
    got = cut([], set(), floor_ms=0, cursor_ms=1_000, hold_from_ms=None, read_to_ms=500_000)
    assert got.cursor_ms == 500_000 - LAG_MS
    held = cut([], set(), floor_ms=0, cursor_ms=1_000, hold_from_ms=300_000, read_to_ms=500_000)
    assert held.cursor_ms == 299_999               # a pair in flight: its own may not show yet


def test_reads_after_a_long_stop_follow_the_venues_window():
    day = SPOT_SPAN_MS + 1
    assert windows(0, day - 1, SPOT_SPAN_MS) == [(0, None)]
    got = windows(0, 2 * day + 5, SPOT_SPAN_MS)
    assert got == [(0, day - 1), (day, 2 * day - 1), (2 * day, None)]
    assert len(windows(0, 100 * day, SPOT_SPAN_MS)) == MAX_WINDOWS
