"""Sizing that means the same on every pair (issue 10, item 6): the notional cap MAX_V_USD_FRONTIER
next to the base-coin cap MAX_Q_BASE_FRONTIER (MAX_Q_BTC_FRONTIER: its old name), the spot BUY's
commission in the base coin bought on top, and the start-up check that refuses settings under
which no entry can pass. Every expected number is computed by hand next to it."""
from __future__ import annotations

from decimal import Decimal

import pytest

from arbitrage.config import SettingsError, base_cap_name, load_settings
from arbitrage.strategy.entry import EntryParams, EntryPlan, FeeRates, plan_entry
from arbitrage.strategy.feasibility import Sizing, entry_problems
from arbitrage.strategy.frontier import BUY_SPOT, SELL_SPOT, compute_frontier
from tests.test_entry import BTCUSD_PERP, BTCUSDT, ETHUSD_PERP, ETHUSDT

D = Decimal
BINANCE_FEES = FeeRates(spot_maker=D("0.001"), spot_taker=D("0.001"), coinm_maker=D("0.0002"),
                        coinm_taker=D("0.0005"))


def settings(*argv: str, **env: str):
    return load_settings(list(argv), env, dotenv_path=None)


# --- the frontier's notional cap ---------------------------------------------------------------

def test_notional_cap_stops_the_frontier_at_the_same_usd_on_every_pair():
    # ETH: spot ask 2500 (100 ETH = $250,000), perp bid 2503: the edge is 12 bps all the way, so
    # only a cap stops the walk. $30,000 at 2500 = 12 ETH.
    f = compute_frontier(BUY_SPOT, [(2500.0, 100.0)], [(2503.0, 100000.0)], 10.0, 6.0, 0.0, 30000.0)
    assert f.capped and f.size_usd == pytest.approx(30000.0) and f.spot_btc == pytest.approx(12.0)
    assert f.perp_btc == pytest.approx(30000.0 / 2503)
    # BTC at 60000: the same $30,000 is 0.5 BTC (the old 0.5 BTC cap, at this price)
    f = compute_frontier(BUY_SPOT, [(60000.0, 5.0)], [(60060.0, 100000.0)], 100.0, 6.0, 0.0, 30000.0)
    assert f.capped and f.size_usd == pytest.approx(30000.0) and f.spot_btc == pytest.approx(0.5)


def test_the_smaller_of_the_two_caps_binds_and_none_means_the_book():
    spot, perp = [(2500.0, 100.0)], [(2503.0, 100000.0)]
    # 10 ETH = $25,000 < $30,000: the coin cap binds
    f = compute_frontier(BUY_SPOT, spot, perp, 10.0, 6.0, 10.0, 30000.0)
    assert f.capped and f.size_usd == pytest.approx(25000.0) and f.spot_btc == pytest.approx(10.0)
    # 20 ETH = $50,000 > $30,000: the notional cap binds
    f = compute_frontier(SELL_SPOT, [(2503.0, 100.0)], [(2500.0, 100000.0)], 10.0, 6.0, 20.0, 30000.0)
    assert f.capped and f.size_usd == pytest.approx(30000.0)
    assert f.spot_btc == pytest.approx(30000.0 / 2503)
    # no cap: the spot book's 100 ETH × 2500 = $250,000
    f = compute_frontier(BUY_SPOT, spot, perp, 10.0, 6.0, 0.0, 0.0)
    assert not f.capped and f.size_usd == pytest.approx(250000.0)


def eth_params(**changes) -> EntryParams:
    # the defaults: MIN_V_USD 5000, MAX_V_USD_FRONTIER 30000, no base-coin cap
    return EntryParams(enter_bps=D("6"), auto_from_frontier=True, min_v_usd=D("5000"),
                       max_q_base_frontier=D("0"), v_usd=D("10000"), max_slippage_bps_spot=D("1"),
                       max_slippage_bps_coinm=D("2"), max_v_usd_frontier=D("30000"), **changes)


def test_eth_entry_on_the_default_caps_is_as_large_as_a_btc_one():
    p = plan_entry(BUY_SPOT, [(2500.00, 100.0)], [(2503.00, 100000.0)], ETHUSDT, ETHUSD_PERP,
                   eth_params(), BINANCE_FEES)
    assert isinstance(p, EntryPlan), p
    assert p.capped and p.v_usd == pytest.approx(30000.0)
    assert p.contracts == D("3000")                          # 30000 / 10
    assert p.spot_qty == D("11.9856")                        # 30000 / 2503 = 11.985617… DOWN
    assert p.describe().endswith("ETH [CAP]") and "BTC" not in p.describe()


def test_a_buy_paying_its_fee_in_eth_is_grossed_up_and_needs_no_rescue():
    # 10 bps of the buy is taken in ETH: kept = 0.999. Contracts from V·kept: 30000 × 0.999 / 10
    # = 2997; their hedge 29970 / 2503; Q = hedge / 0.999 = 30000 / 2503 = 11.985617… rounded UP
    # to the step: 11.9857. Held after the fee: 11.9857 × 0.999 = 11.9737143.
    p = plan_entry(BUY_SPOT, [(2500.00, 100.0)], [(2503.00, 100000.0)], ETHUSDT, ETHUSD_PERP,
                   eth_params(), BINANCE_FEES, buy_fee_in_base=True)
    assert isinstance(p, EntryPlan), p
    assert p.contracts == D("2997") and p.spot_qty == D("11.9857")
    held = D("11.9857") * D("0.999")
    assert held == D("11.9737143")
    assert p.hedge_error_btc == pytest.approx(float(held - D(29970) / D(2503)))   # +0.0000691
    assert 0 <= p.hedge_error_btc < float(ETHUSDT.step_size)
    # the rescue's rule (execution._rescue_order): excess contracts N − held·px/S must stay < 1
    assert abs(D(2997) - held * D(2503) / D(10)) < 1                # 2997 − 2997.0207
    # without the gross-up, 3000 contracts against 11.9856 × 0.999 held: 3 contracts unhedged
    plain = plan_entry(BUY_SPOT, [(2500.00, 100.0)], [(2503.00, 100000.0)], ETHUSDT, ETHUSD_PERP,
                       eth_params(), BINANCE_FEES)
    assert D(3000) - plain.spot_qty * D("0.999") * D(2503) / D(10) >= 1   # 3000 − 2997.0 = 3.0
    # a sell pays its commission in USDT: nothing to gross up
    s = plan_entry(SELL_SPOT, [(2503.00, 100.0)], [(2500.00, 100000.0)], ETHUSDT, ETHUSD_PERP,
                   eth_params(), BINANCE_FEES, buy_fee_in_base=True)
    assert s.contracts == D("3000") and s.spot_qty == D("12")      # 30000 / 2500, exact


# --- the settings ------------------------------------------------------------------------------

def test_new_names_and_the_old_one():
    s = settings()
    assert (s.max_v_usd_frontier, s.max_q_base_frontier) == (D(30000), D(0))
    s = settings(MAX_Q_BTC_FRONTIER="0.2")                  # the old name still works
    assert s.max_q_base_frontier == s.max_q_btc_frontier == D("0.2")
    assert base_cap_name(s) == "MAX_Q_BTC_FRONTIER"
    s = settings("--max-q-base-frontier", "3")
    assert s.max_q_base_frontier == s.max_q_btc_frontier == D(3)
    assert base_cap_name(s) == "MAX_Q_BASE_FRONTIER"
    assert settings("--max-q-btc-frontier", "1", "--max-q-base-frontier", "1").max_q_base_frontier == 1
    with pytest.raises(SettingsError) as err:
        settings("--max-q-btc-frontier", "1", "--max-q-base-frontier", "2")
    assert err.value.problems == ["MAX_Q_BTC_FRONTIER: 1 differs from MAX_Q_BASE_FRONTIER 2 "
                                  "(expected only one of them: it is its old name)"]
    assert "MAX_V_USD_FRONTIER = 30000 (default)" in \
        [f"{k} = {v}" for k, v in settings().masked().items()]


def test_a_notional_cap_below_min_v_usd_is_refused():
    with pytest.raises(SettingsError) as err:
        settings("--max-v-usd-frontier", "4000")
    assert err.value.problems == [
        "MAX_V_USD_FRONTIER: 4000 is below MIN_V_USD 5000 (expected MAX_V_USD_FRONTIER >= MIN_V_USD, "
        "or 0 = no cap: no frontier entry could ever pass)"]
    assert settings("--max-v-usd-frontier", "4000", "--no-auto-from-frontier").max_v_usd_frontier == 4000
    assert settings("--max-v-usd-frontier", "0").max_v_usd_frontier == 0       # 0 = no cap


# --- the start-up check ------------------------------------------------------------------------

def test_defaults_pass_on_btc_and_eth():
    for args, spot, perp, price in ((("--pair", "BTC"), BTCUSDT, BTCUSD_PERP, D("60000")),
                                    (("--pair", "ETH"), ETHUSDT, ETHUSD_PERP, D("2500"))):
        assert entry_problems(Sizing.from_settings(settings(*args)), spot, perp, price) == []


def test_the_old_btc_cap_on_eth_is_refused_naming_the_settings():
    sz = Sizing.from_settings(settings("--pair", "ETH", "--max-q-btc-frontier", "0.5"))
    # 0.5 ETH × 2500 = $1,250 < MIN_V_USD 5000; 5000 / 2500 = 2 ETH would do
    assert entry_problems(sz, ETHUSDT, ETHUSD_PERP, D("2500.004")) == [
        "MAX_Q_BTC_FRONTIER: 0.5 ETH is $1,250.00 at the ETHUSD_PERP price 2500, below MIN_V_USD "
        "5000: every frontier is refused (expected MAX_Q_BTC_FRONTIER >= 2 ETH or 0 = no cap, or a "
        "lower MIN_V_USD)"]
    # the same cap on BTC is $30,000: fine
    sz = Sizing.from_settings(settings("--max-q-btc-frontier", "0.5"))
    assert entry_problems(sz, BTCUSDT, BTCUSD_PERP, D("60000")) == []


@pytest.mark.parametrize("sizing, problem", [
    pytest.param(
        Sizing(True, D("5"), D("50"), D("0"), D("10000")),
        "MAX_V_USD_FRONTIER: 50 USD, less than the smallest BTCUSD_PERP order (100 USD) "
        "(expected a cap of at least 100 USD)", id="usd-cap-below-one-contract"),
    # 0.0001 BTC × 60000 = $6: above MIN_V_USD 5, below one contract
    pytest.param(
        Sizing(True, D("5"), D("0"), D("0.0001"), D("10000")),
        "MAX_Q_BASE_FRONTIER: 0.0001 BTC is $6.00 at the BTCUSD_PERP price 60000, less than the "
        "smallest BTCUSD_PERP order (100 USD) (expected a cap of at least 100 USD)",
        id="base-cap-below-one-contract"),
    pytest.param(
        Sizing(False, D("5000"), D("30000"), D("0"), D("50")),
        "V_USD: 50 is less than the smallest BTCUSD_PERP order (100 USD) (expected a larger V_USD, "
        "or AUTO_FROM_FRONTIER=true)", id="fixed-size-below-one-contract"),
    # MIN_V_USD $9M at 60000 = 150 BTC > MARKET_LOT_SIZE maxQty 128.52621715 (× 60000 = 7711573.03)
    pytest.param(
        Sizing(True, D("9000000"), D("0"), D("0"), D("10000")),
        "MIN_V_USD: 9000000 is 150 BTC at the BTCUSD_PERP price 60000, more than BTCUSDT's "
        "largest order 128.52621715 (expected MIN_V_USD <= 7711573)", id="minimum-above-largest-order"),
])
def test_sizes_below_one_contract_or_above_the_largest_order_are_refused(sizing, problem):
    assert entry_problems(sizing, BTCUSDT, BTCUSD_PERP, D("60000")) == [problem]


def test_buys_stop_being_grossed_up_once_a_buy_paid_its_fee_elsewhere():
    from types import SimpleNamespace

    from arbitrage.execution.pairs import PairResult
    from arbitrage.models import BUY, COINM, SELL, SPOT, Fill, OrderRequest
    from arbitrage.execution.orders import TrackedOrder
    from arbitrage.engine.trader import Trader

    def result(asset: str) -> PairResult:
        spot = TrackedOrder(OrderRequest(SPOT, "ETHUSDT", BUY, "MARKET", D("4"), "T1-s-e1"))
        perp = TrackedOrder(OrderRequest(COINM, "ETHUSD_PERP", SELL, "MARKET", D("1000"), "T1-p-e1"))
        fill = Fill(SPOT, "ETHUSDT", 1, 1, BUY, D("2500"), D("4"), D("10000"), D("0.003"), asset,
                    D(0), 1, False)
        return PairResult(spec=None, spot=spot, perp=perp, fills={"T1-s-e1": (fill,)})

    trader = SimpleNamespace(buy_fee_in_base=True, spot_rules=ETHUSDT)
    Trader._learn_buy_fee_asset(trader, result("BNB"))      # BNB pays fees: nothing to gross up
    assert trader.buy_fee_in_base is False
    Trader._learn_buy_fee_asset(trader, result("ETH"))
    assert trader.buy_fee_in_base is True
