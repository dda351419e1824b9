"""The carry decisions (arbitrage/strategy/carry.py): pure, numbers in, decision and numbers out."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from arbitrage.models import FundingSettlement
from arbitrage.strategy.carry import (BASIS, ENTER, EXIT, FUNDING_TURNED, MAX_HOLD, RISK, SKIP,
                                      CarryParams, FundingState, carry_direction, carry_numbers,
                                      entry_decision, exit_decision, rate_estimate)
from arbitrage.strategy.frontier import BUY_SPOT, SELL_SPOT

INTERVAL = 20_000                     # a settlement every 20 s (a compressed schedule)
NOW = 1_000_000_000
P = CarryParams(invest_usd=Decimal(10000), min_net_apr=10.0, min_net_bps=0.0,
                hold_hours=0.05, max_hold_hours=0.1, lookback=3, funding_buffer_sec=5.0)


def history(*rates: str, end: int = NOW - 5_000) -> tuple[FundingSettlement, ...]:
    n = len(rates)
    return tuple(FundingSettlement("BTCUSD_PERP", end - (n - 1 - i) * INTERVAL, Decimal(r), None)
                 for i, r in enumerate(rates))


def state(predicted: float | None, *rates: str, next_ms: int = NOW + 15_000) -> FundingState:
    return FundingState(predicted, next_ms, history(*rates))


def test_numbers_follow_the_definitions():
    f = state(0.002, "0.001", "0.002", "0.003")
    n = carry_numbers(BUY_SPOT, f, basis_bps=1.5, fee_bps=30.0, p=P)
    assert rate_estimate(f, 3) == pytest.approx(0.002)
    assert n.settlements == pytest.approx(0.05 * 3600 / 20)          # 9 settlements in the hold
    assert n.expected_bps == pytest.approx(0.002 * 9 * 1e4)          # 180 bps
    assert n.net_bps == pytest.approx(180 + 1.5 - 30)
    assert n.net_apr == pytest.approx(151.5 / 1e4 * 8760 / 0.05 * 100)
    assert n.funding_apr == pytest.approx(0.002 * 8760 * 3600 / 20 * 100)
    assert "expected funding +180.00 bps" in n.describe()


def test_positive_funding_opens_positive_carry():
    f = state(0.002, "0.002", "0.002", "0.002")
    assert carry_direction(f, 3) == BUY_SPOT
    d = entry_decision(BUY_SPOT, 0.0, 30.0, Decimal("0.1"), Decimal(0), f, P, NOW)
    assert d.action == ENTER, d.describe()


def test_negative_funding_no_positive_carry_and_reverse_only_with_the_coin_on_hand():
    f = state(-0.002, "-0.002", "-0.002", "-0.002")
    assert carry_direction(f, 3) == SELL_SPOT
    positive = entry_decision(BUY_SPOT, 0.0, 30.0, Decimal("0.1"), Decimal(5), f, P, NOW)
    assert positive.action == SKIP and positive.numbers.expected_bps < 0
    without = entry_decision(SELL_SPOT, 0.0, 30.0, Decimal("0.1"), Decimal("0.09"), f, P, NOW)
    assert without.action == SKIP and "never borrowed" in without.reason
    unknown = entry_decision(SELL_SPOT, 0.0, 30.0, Decimal("0.1"), None, f, P, NOW)
    assert unknown.action == SKIP
    held = entry_decision(SELL_SPOT, 0.0, 30.0, Decimal("0.1"), Decimal("0.1"), f, P, NOW)
    assert held.action == ENTER, held.describe()
    assert held.numbers.expected_bps > 0


def test_fees_not_covered_and_min_net_apr():
    f = state(0.0001, "0.0001", "0.0001", "0.0001")       # 1 bps × 9 settlements < 30 bps of fees
    d = entry_decision(BUY_SPOT, 0.0, 30.0, Decimal("0.1"), None, f, P, NOW)
    assert d.action == SKIP and "not positive" in d.reason
    f = state(0.0004, "0.0004", "0.0004", "0.0004")       # 36 bps − 30: +6 bps in 3 minutes, APR 10 512 %
    strict = replace(P, min_net_apr=20000.0)
    d = entry_decision(BUY_SPOT, 0.0, 30.0, Decimal("0.1"), None, f, strict, NOW)
    assert d.action == SKIP and "CARRY_MIN_NET_APR 20000%" in d.reason
    assert entry_decision(BUY_SPOT, 0.0, 30.0, Decimal("0.1"), None, f, P, NOW).action == ENTER


def test_basis_counts_with_the_funding():
    f = state(0.0003, "0.0003", "0.0003", "0.0003")       # 27 bps of funding < 30 of fees
    assert entry_decision(BUY_SPOT, 0.0, 30.0, Decimal("0.1"), None, f, P, NOW).action == SKIP
    assert entry_decision(BUY_SPOT, 5.0, 30.0, Decimal("0.1"), None, f, P, NOW).action == ENTER


def test_settlement_buffer_only_against_the_side():
    # history strongly positive, the next settlement predicted negative: a carry opened 3 s before
    # it would pay it
    f = state(-0.0005, "0.004", "0.004", "0.004", next_ms=NOW + 3_000)
    d = entry_decision(BUY_SPOT, 0.0, 30.0, Decimal("0.1"), None, f, P, NOW)
    assert d.action == SKIP and "FUNDING_BUFFER_SEC 5" in d.reason
    # outside the buffer the same numbers enter
    later = state(-0.0005, "0.004", "0.004", "0.004", next_ms=NOW + 6_000)
    assert entry_decision(BUY_SPOT, 0.0, 30.0, Decimal("0.1"), None, later, P, NOW).action == ENTER
    # a settlement paid in favour inside the buffer does not block
    favour = state(0.004, "0.004", "0.004", "0.004", next_ms=NOW + 3_000)
    assert entry_decision(BUY_SPOT, 0.0, 30.0, Decimal("0.1"), None, favour, P, NOW).action == ENTER


def test_no_funding_history_no_entry():
    d = entry_decision(BUY_SPOT, 10.0, 30.0, Decimal("0.1"), None, FundingState(None, None), P, NOW)
    assert d.action == SKIP and "funding history not known yet" in d.reason
    # a predicted rate alone (the history not fetched yet) is one tick: the basis would carry it
    d = entry_decision(BUY_SPOT, 40.0, 30.0, Decimal("0.1"), None, FundingState(0.002, NOW + 9_000),
                       P, NOW)
    assert d.action == SKIP and "funding history not known yet" in d.reason


def test_flip_during_the_hold_exits_by_the_rule_not_on_one_tick():
    opened = NOW - 60_000
    # one tick of a negative predicted rate after positive settlements: hold
    f = state(-0.003, "0.002", "0.002", "0.002")
    assert exit_decision(BUY_SPOT, opened, -20.0, f, P, NOW) is None
    # the last settlement paid against too, and the estimate is against: exit
    f = state(-0.003, "0.002", "-0.002", "-0.003")
    d = exit_decision(BUY_SPOT, opened, -20.0, f, P, NOW)
    assert d.action == EXIT and d.reason.startswith(FUNDING_TURNED)
    # the same history is the reverse carry's income: it holds
    assert exit_decision(SELL_SPOT, opened, -20.0, f, P, NOW) is None


def test_basis_exit_when_closing_earns_more_than_the_carry_left():
    f = state(0.001, "0.001", "0.001", "0.001")
    opened = NOW - 90_000                      # 0.025 h of 0.05: 4.5 settlements left ≈ 45 bps
    assert exit_decision(BUY_SPOT, opened, 40.0, f, P, NOW) is None
    d = exit_decision(BUY_SPOT, opened, 50.0, f, P, NOW)
    assert d.action == EXIT and d.reason.startswith(BASIS)


def test_max_hold_and_risk():
    f = state(0.001, "0.001", "0.001", "0.001")
    d = exit_decision(BUY_SPOT, NOW - 360_000, None, f, P, NOW)
    assert d.reason.startswith(MAX_HOLD)
    d = exit_decision(BUY_SPOT, NOW - 1_000, None, f, P, NOW, risk_reason="liquidation distance 2%")
    assert d.reason.startswith(RISK)
    assert exit_decision(BUY_SPOT, NOW - 1_000, None, f, P, NOW) is None
