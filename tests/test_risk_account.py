"""Account gates (design §6): each gate alone, with its own reason, against hand-computed numbers."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from arbitrage.models import CoinmAccount, MarginAsset, Position, SpotAccount
from arbitrage.strategy.entry import EntryPlan, plan_entry
from arbitrage.strategy.frontier import BUY_SPOT, SELL_SPOT
from arbitrage.strategy.risk import AccountLimits, AccountView, account_blocks, funding_notice
from tests.test_entry import BTCUSD_PERP, BTCUSDT, FEES, params

D = Decimal
NOW = 1_700_000_000_000
LIMITS = AccountLimits(liq_dist_min_pct=D("3"), margin_ratio_max=D("70"), reopen_cooldown_sec=5,
                       max_hold_sec=30, funding_buffer_sec=20, account_stale_ms=10_000)

# BUY_SPOT: Q 0.49982 BTC @ 60020.55, 300 contracts (30000 USD) @ 60082.4 (see test_entry)
BUY_PLAN = plan_entry(BUY_SPOT, [(60020.55, 1.0)], [(60082.4, 5000.0)], BTCUSDT, BTCUSD_PERP,
                      params(), FEES)
# SELL_SPOT: Q 0.2 BTC @ 60060, 120 contracts (12000 USD) @ 60000
SELL_PLAN = plan_entry(SELL_SPOT, [(60060.00, 0.2)], [(60000.0, 1000.0)], BTCUSDT, BTCUSD_PERP,
                       params(), FEES)
assert isinstance(BUY_PLAN, EntryPlan) and isinstance(SELL_PLAN, EntryPlan)

MARGIN = MarginAsset("BTC", wallet_balance=D("1"), unrealized_profit=D("0"), margin_balance=D("1"),
                     maint_margin=D("0"), initial_margin=D("0"), available_balance=D("1"))
VIEW = AccountView(spot_free_quote=D("100000"), spot_free_base=D("1"), margin=MARGIN,
                   position_amt=D("0"), liquidation_price=D("0"), mark_price=60082.4, leverage=20,
                   fetched_ms=NOW - 1000, fetch_error=None, last_exit_ms=None, next_funding_ms=None,
                   spot_taker_rate=D("0.001"))


def blocks(plan=BUY_PLAN, direction=None, limits=LIMITS, **changes):
    view = replace(VIEW, **changes)
    return account_blocks(direction or plan.direction, plan, view, limits, NOW)


def test_a_healthy_account_passes_both_directions():
    assert blocks(BUY_PLAN) == []
    assert blocks(SELL_PLAN) == []


def test_account_data_missing_stale_or_failed_blocks():
    assert blocks(fetch_error="HTTP 503") == ["account data fetch failed (HTTP 503)"]
    assert blocks(fetched_ms=None) == ["account data not fetched yet"]
    assert blocks(fetched_ms=NOW - 12_000) == ["account data stale (12000 ms > 10000 ms)"]
    assert blocks(fetched_ms=NOW - 10_000) == []                      # exactly the limit: fresh
    assert blocks(margin=None) == ["COIN-M margin data missing"]
    assert blocks(spot_free_quote=None) == ["spot balances unknown"]
    assert blocks(SELL_PLAN, spot_free_base=None) == ["spot balances unknown"]


def test_margin_ratio():
    # 0.75 / 1 = 75 % > 70 %
    assert blocks(margin=replace(MARGIN, maint_margin=D("0.75"))) == \
        ["margin ratio 75.00% > MARGIN_RATIO_MAX 70%"]
    assert blocks(margin=replace(MARGIN, maint_margin=D("0.70"))) == []   # 70 % is not above 70 %
    zero = replace(MARGIN, wallet_balance=D("0"), available_balance=D("0"))
    r = blocks(margin=zero)
    assert "COIN-M BTC walletBalance 0: margin ratio undefined" in r
    assert any(x.startswith("COIN-M availableBalance 0 BTC <") for x in r)


def test_liquidation_distance():
    short = dict(position_amt=D("-300"), mark_price=60082.4)
    # |60082.4 − 61800| / 60082.4 = 1717.6 / 60082.4 = 2.859 % < 3 %
    assert blocks(liquidation_price=D("61800"), **short) == \
        ["liquidation distance 2.86% < LIQ_DIST_MIN_PCT 3% (mark 60082.40, liq 61800)"]
    # 1917.6 / 60082.4 = 3.19 %
    assert blocks(liquidation_price=D("62000"), **short) == []
    assert blocks(liquidation_price=D("61800"), position_amt=D("0")) == []    # no position: skipped
    assert blocks(liquidation_price=D("0"), position_amt=D("-300")) == []     # no liq price: skipped
    assert blocks(liquidation_price=D("61800"), position_amt=D("-300"), mark_price=None) == \
        ["mark price unknown: liquidation distance cannot be checked"]


def test_balance_for_each_direction():
    # BUY: Q = 30000 / 60082.4 = 0.4993142 → 0.49931 (delta-neutral: the contracts' BTC);
    # 0.49931 × 60020.55 × (1 + 0.001 fee) × (1 + 0.001 buffer) = 30028.83 USDT
    assert blocks(spot_free_quote=D("30000")) == ["spot free USDT 30000.00 < 30028.83 needed"]
    assert blocks(spot_free_quote=D("30060")) == []
    # SELL: the base coin to sell, Q = 120 × 100 / 60000 = 0.2 BTC (the contracts' BTC)
    assert blocks(SELL_PLAN, spot_free_base=D("0.1")) == ["spot free base 0.1 < 0.2 to sell"]
    assert blocks(SELL_PLAN, spot_free_base=D("0.19999")) != []
    assert blocks(SELL_PLAN, spot_free_base=D("0.2")) == []
    assert blocks(SELL_PLAN, spot_free_quote=D("0")) == []    # selling spot needs no USDT


def test_coinm_margin_for_the_contracts():
    # 300 × 100 / 60082.4 / 20 = 0.02496571 BTC
    r = blocks(margin=replace(MARGIN, available_balance=D("0.02")))
    assert r == ["COIN-M availableBalance 0.02 BTC < 0.02496571 margin needed at 20x"]
    assert blocks(margin=replace(MARGIN, available_balance=D("0.025"))) == []
    # unknown leverage counts as 1x: 30000 / 60082.4 = 0.49931428 BTC
    assert blocks(leverage=0, margin=replace(MARGIN, available_balance=D("0.4"))) == \
        ["COIN-M availableBalance 0.4 BTC < 0.49931428 margin needed at 1x"]


def test_cool_down_after_an_exit():
    assert blocks(last_exit_ms=NOW - 2000) == ["cool-down 2.0 s < REOPEN_COOLDOWN_SEC 5"]
    assert blocks(last_exit_ms=NOW - 5000) == []


def test_without_a_plan_only_the_size_free_gates_run():
    assert account_blocks(BUY_SPOT, None, replace(VIEW, spot_free_quote=D("0")), LIMITS, NOW) == []
    assert account_blocks(BUY_SPOT, None, replace(VIEW, last_exit_ms=NOW), LIMITS, NOW) == \
        ["cool-down 0.0 s < REOPEN_COOLDOWN_SEC 5"]


def test_funding_crossing_is_a_notice_not_a_block():
    view = replace(VIEW, next_funding_ms=NOW + 40_000)
    # 40 s to funding < MAX_HOLD_SEC 30 + FUNDING_BUFFER_SEC 20 = 50 s
    assert funding_notice(view, LIMITS, NOW) == "funding in 40 s < MAX_HOLD_SEC 30 + FUNDING_BUFFER_SEC 20"
    assert account_blocks(BUY_SPOT, BUY_PLAN, view, LIMITS, NOW) == []
    strict = replace(LIMITS, funding_blocks=True)
    assert account_blocks(BUY_SPOT, BUY_PLAN, view, strict, NOW) == \
        ["funding in 40 s < MAX_HOLD_SEC 30 + FUNDING_BUFFER_SEC 20"]
    assert funding_notice(replace(VIEW, next_funding_ms=NOW + 60_000), LIMITS, NOW) is None
    assert funding_notice(replace(VIEW, next_funding_ms=NOW - 1000), LIMITS, NOW) is None   # past
    assert funding_notice(VIEW, LIMITS, NOW) is None                                       # unknown


def test_view_from_the_parsed_accounts():
    spot = SpotAccount({"USDT": (D("1000"), D("5")), "BTC": (D("0.3"), D("0"))}, D("0.0009"),
                       D("0.001"), True, NOW)
    pos = Position("BTCUSD_PERP", D("-3"), D("60000"), D("60010"), D("0"), D("70000"), 20, "cross")
    coinm = CoinmAccount({"BTC": MARGIN}, {"BTCUSD_PERP": pos}, NOW)
    v = AccountView.from_accounts(spot, coinm, base_asset="BTC", quote_asset="USDT", margin_asset="BTC",
                                  coinm_symbol="BTCUSD_PERP", mark_price=60010.0, fetched_ms=NOW,
                                  fetch_error=None, last_exit_ms=None, next_funding_ms=NOW + 1)
    assert (v.spot_free_quote, v.spot_free_base, v.margin) == (D("1000"), D("0.3"), MARGIN)
    assert (v.position_amt, v.liquidation_price, v.leverage) == (D("-3"), D("70000"), 20)
    assert v.spot_taker_rate == D("0.001")
    empty = AccountView.from_accounts(None, None, base_asset="BTC", quote_asset="USDT",
                                      margin_asset="BTC", coinm_symbol="BTCUSD_PERP",
                                      mark_price=None, fetched_ms=None, fetch_error="timeout",
                                      last_exit_ms=None, next_funding_ms=None)
    r = account_blocks(BUY_SPOT, BUY_PLAN, empty, LIMITS, NOW)
    assert r == ["account data fetch failed (timeout)", "COIN-M margin data missing",
                 "spot balances unknown"]


@pytest.mark.parametrize("plan", [BUY_PLAN, SELL_PLAN])
def test_each_reason_is_distinct(plan):
    everything = dict(fetch_error="x", margin=replace(MARGIN, maint_margin=D("0.9"),
                                                      available_balance=D("0")),
                      position_amt=D("-1"), liquidation_price=D("60100"), last_exit_ms=NOW,
                      spot_free_quote=D("0"), spot_free_base=D("0"))
    r = blocks(plan, **everything)
    assert len(r) == len(set(r)) == 6   # data, ratio, liquidation, cool-down, balance, COIN-M margin
