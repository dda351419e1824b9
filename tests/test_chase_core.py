"""The pure decision core of issue 15 (not wired into the executor yet): chase, hedge on fill,
race exit, emergency unwind, and their settings. Every expected figure is worked out by hand."""
from __future__ import annotations

from decimal import Decimal

import pytest

from arbitrage.config import SettingsError, load_settings
from arbitrage.strategy.chase import (
    AMEND_QTY, GIVE_UP, KEEP, REPLACE, ChaseSettings, RestingOrder, decide_chase, slip_bps,
)
from arbitrage.strategy.emergency import emergency_unwind
from arbitrage.strategy.frontier import BUY_SPOT, SELL_SPOT
from arbitrage.strategy.hedge_fill import hedge_for_fill
from arbitrage.strategy.race_exit import (
    CANCEL_HEDGE, CANCEL_WAY_BACK, CLOSE_EXCESS, DONE, LOWER_WAY_BACK, RaceState, decide_race,
    race_prices,
)

D = Decimal
S = ChaseSettings(interval_ms=200, max_slip_bps=D("5"))


def buy(price="50000.00", orig="0.10000", executed="0", start="50000.00", last_ms=0) -> RestingOrder:
    return RestingOrder("BUY", D(price), D(orig), D(executed), D(start), last_ms)


# -- chase --------------------------------------------------------------------------------------
def test_chase_keeps_an_order_at_the_touch_and_within_the_interval():
    # at the best bid: keep
    assert decide_chase(buy(), D("50000.00"), D("50000.01"), D("0.1"), True, 1000, S).action == KEEP
    # the touch moved up, but only 150 ms since the last request: wait
    i = decide_chase(buy(last_ms=850), D("50001.00"), D("50001.01"), D("0.1"), True, 1000, S)
    assert (i.action, i.price) == (KEEP, None)


def test_chase_replaces_at_the_new_touch_for_what_is_still_needed():
    # bid 50001: 0.2 bps above the start; 0.03 filled of 0.1, so 0.07 is still needed
    i = decide_chase(buy(executed="0.03"), D("50001.00"), D("50001.01"), D("0.07"), True, 1000, S)
    assert (i.action, i.price, i.qty) == (REPLACE, D("50001.00"), D("0.07"))
    sell = RestingOrder("SELL", D("50000.01"), D("0.1"), D("0"), D("50000.01"), 0)
    i = decide_chase(sell, D("49999.00"), D("49999.01"), D("0.1"), True, 1000, S)
    assert (i.action, i.price) == (REPLACE, D("49999.01"))


def test_chase_lowers_the_quantity_in_place_when_less_is_needed():
    # 0.04 filled, 0.06 open, the plan now wants only 0.05 more: total 0.04 + 0.05 = 0.09
    i = decide_chase(buy(executed="0.04"), D("50000.00"), D("50000.01"), D("0.05"), True, 1000, S)
    assert (i.action, i.qty) == (AMEND_QTY, D("0.09"))


def test_chase_gives_up_when_the_entry_rule_fails_or_the_touch_ran_away():
    assert decide_chase(buy(), D("50000.00"), D("50000.01"), D("0.1"), False, 1000, S).action == GIVE_UP
    # 50025.00 is (25 / 50000) × 10 000 = 5.0 bps from the start: still allowed
    assert slip_bps("BUY", D("50000"), D("50025")) == D("5")
    assert decide_chase(buy(), D("50025.00"), D("50025.01"), D("0.1"), True, 1000, S).action == REPLACE
    # 50025.01 is 5.002 bps: beyond
    i = decide_chase(buy(), D("50025.01"), D("50025.02"), D("0.1"), True, 1000, S)
    assert i.action == GIVE_UP and "CHASE_MAX_SLIP_BPS" in i.reason
    assert decide_chase(buy(), D("50000"), D("50000.01"), D("0"), True, 1000, S).action == GIVE_UP


# -- hedge on fill --------------------------------------------------------------------------------
def test_each_fill_is_hedged_in_whole_contracts_and_the_rest_is_carried():
    # at 50 000 a 100 USD contract is 0.002 BTC
    first = hedge_for_fill("BUY", D("0.0050"), D("0"), D("50000"), D("100"))   # 2.5 contracts
    assert (first.contracts, first.side, first.carried_base, first.naked_usd) == (2, "SELL", D("0.001"), D("50"))
    second = hedge_for_fill("BUY", D("0.0013"), first.carried_base, D("50000"), D("100"))  # 0.0023: 1.15
    assert (second.contracts, second.carried_base, second.naked_usd) == (1, D("0.0003"), D("15"))
    # a spot sell is hedged by buying contracts; the carried part converts at the new price
    third = hedge_for_fill("SELL", D("0.0037"), D("0.0003"), D("40000"), D("100"))  # 0.004 × 40 000 = 160
    assert (third.contracts, third.side, third.carried_base, third.naked_usd) == (1, "BUY", D("0.0015"), D("60"))
    with pytest.raises(ValueError):
        hedge_for_fill("BUY", D("-1"), D("0"), D("50000"), D("100"))


# -- race exit -------------------------------------------------------------------------------------
def test_race_prices_never_undo_the_entry_at_a_loss():
    p = race_prices(BUY_SPOT, D("50000"), D("49990"), D("49991"), D("50040"), D("50041"))
    assert (p.hedge_price, p.way_back_price) == (D("50041"), D("50000"))      # max(ask 49991, entry)
    p = race_prices(SELL_SPOT, D("50000"), D("50010"), D("50011"), D("49960"), D("49961"))
    assert (p.hedge_price, p.way_back_price) == (D("49960"), D("50000"))      # min(bid 50010, entry)


def race(**kw) -> RaceState:
    base = dict(direction=BUY_SPOT, spot_entry_base=D("0.01"), way_back_filled=D("0"),
                way_back_open=D("0.01"), hedge_filled=0, hedge_open=5)
    base.update(kw)
    return RaceState(**base)


ACTIONS = lambda intents: [(i.action, i.qty) for i in intents]  # noqa: E731


def test_race_won_by_the_hedge_cancels_the_way_back():
    # 0.01 BTC at 50 000 is 5 contracts of 100 USD: all filled
    out = decide_race(race(hedge_filled=5, hedge_open=0), D("50000"), D("100"), D("0.00001"))
    assert ACTIONS(out) == [(CANCEL_WAY_BACK, 0), (DONE, 0)]


def test_race_won_by_the_way_back_cancels_the_hedge():
    out = decide_race(race(way_back_filled=D("0.01"), way_back_open=D("0")), D("50000"), D("100"),
                      D("0.00001"))
    assert ACTIONS(out) == [(CANCEL_HEDGE, 0), (DONE, 0)]


def test_both_filled_closes_the_excess_perp_at_once():
    # the way back sold 0.006 (0.004 held: 2 contracts needed) and the hedge filled 5
    out = decide_race(race(way_back_filled=D("0.006"), way_back_open=D("0.004"), hedge_filled=5,
                           hedge_open=0), D("50000"), D("100"), D("0.00001"))
    assert ACTIONS(out) == [(CANCEL_WAY_BACK, 0), (CLOSE_EXCESS, D(3))]


def test_partial_fills_on_both_sides_that_meet_end_the_race():
    # the way back sold 0.006 (0.004 held: 2 contracts) and the hedge filled exactly 2 of 5
    out = decide_race(race(way_back_filled=D("0.006"), way_back_open=D("0.004"), hedge_filled=2,
                           hedge_open=3), D("50000"), D("100"), D("0.00001"))
    assert ACTIONS(out) == [(CANCEL_HEDGE, 0), (CANCEL_WAY_BACK, 0), (DONE, 0)]


def test_a_partial_hedge_lowers_the_way_back_to_what_is_unhedged():
    # 2 of 5 contracts filled hedge 0.004 BTC: 0.006 is left for the way back
    out = decide_race(race(hedge_filled=2, hedge_open=3), D("50000"), D("100"), D("0.00001"))
    assert ACTIONS(out) == [(LOWER_WAY_BACK, D("0.006"))]
    # nothing filled yet: keep racing
    assert decide_race(race(), D("50000"), D("100"), D("0.00001")) == []


# -- emergency unwind ------------------------------------------------------------------------------
def test_emergency_unwind_on_the_spread_signed_by_the_entry_and_off_at_zero():
    assert emergency_unwind(25.0, BUY_SPOT, D("25")).startswith("emergency_unwind")
    assert emergency_unwind(24.99, BUY_SPOT, D("25")) is None
    assert emergency_unwind(-30.0, BUY_SPOT, D("25")) is None          # moved in its favour
    assert emergency_unwind(-30.0, SELL_SPOT, D("25")) is not None
    assert emergency_unwind(500.0, BUY_SPOT, D("0")) is None           # off
    assert emergency_unwind(500.0, BUY_SPOT, D("-1")) is None
    assert emergency_unwind(None, BUY_SPOT, D("25")) is None


# -- settings ----------------------------------------------------------------------------------------
def test_chase_settings_defaults_and_one_line_per_problem():
    s = load_settings([], {}, None)
    assert (s.chase_interval_ms, s.chase_max_slip_bps, s.emergency_unwind_bps) == (200.0, D(5), D(0))
    with pytest.raises(SettingsError) as err:
        load_settings(["--chase-interval-ms", "0", "--chase-max-slip-bps", "-1",
                       "--emergency-unwind-bps", "3"], {}, None)
    assert err.value.problems == [
        "CHASE_INTERVAL_MS: '0' is zero (expected a number of milliseconds > 0, e.g. 200) "
        "[from --chase-interval-ms]",
        "CHASE_MAX_SLIP_BPS: '-1' is negative (expected a decimal number >= 0, e.g. 5) "
        "[from --chase-max-slip-bps]",
        "EMERGENCY_UNWIND_BPS: 3 is not above ENTER_BPS 6 (expected EMERGENCY_UNWIND_BPS > "
        "ENTER_BPS, or <= 0 = off: every entry would be unwound at once)"]
    assert load_settings(["--emergency-unwind-bps", "-5"], {}, None).emergency_unwind_bps == D(-5)
