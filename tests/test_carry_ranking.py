"""The ranking's arithmetic, against numbers worked out by hand (arbitrage/carry/ranking.py)."""
from __future__ import annotations

from decimal import Decimal as D

from arbitrage.carry.ranking import (
    Candidate, binance_apr, compounded_apr, depth_usd, pairs, rank, settlements_per_year, window_sum,
)
from arbitrage.models import FundingSettlement

H = 3600 * 1000
NOW = 1000 * 8 * H          # a settlement time


def history(rates: list[str], spacing_h: int = 8, symbol: str = "BTCUSD_PERP") -> list[FundingSettlement]:
    """`rates` oldest first, the last one settled at NOW."""
    n = len(rates)
    return [FundingSettlement(symbol, NOW - (n - 1 - i) * spacing_h * H, D(r), None)
            for i, r in enumerate(rates)]


# 11 settlements 8 h apart: the two oldest (NOW−80 h, NOW−72 h) are outside (NOW−72 h, NOW];
# inside: six of 0.0001 and three of 0.0003 → 0.0006 + 0.0009 = 0.0015 over 9 settlements.
RATES = ["0.01", "0.01"] + ["0.0001"] * 6 + ["0.0003"] * 3


def candidate(rates=RATES, **kw) -> Candidate:
    books = dict(spot_bids=[(D("99.9"), D(3))], spot_asks=[(D(100), D(1)), (D("100.05"), D(2)), (D("100.2"), D(5))],
                 perp_bids=[(D("100.1"), D(5)), (D(100), D(3)), (D("99.8"), D(10))],
                 perp_asks=[(D("100.2"), D(4))])
    books.update(kw)
    return Candidate("BTC", "BTCUSDT", "BTCUSD_PERP", D(10), D("0.0002"), history(rates), **books)


def test_three_day_window_excludes_its_left_edge():
    assert window_sum(history(RATES), NOW) == (D("0.0015"), 9)
    # one hour later the NOW−64 h settlement is still inside, NOW−72 h still outside
    assert window_sum(history(RATES), NOW + H) == (D("0.0015"), 9)
    # 8 h later the NOW−64 h one (0.0001) has left
    assert window_sum(history(RATES), NOW + 8 * H) == (D("0.0014"), 8)


def test_binance_apr_is_three_day_sum_over_three_times_365_halved():
    # 0.0015 / 3 = 0.0005 a day; × 365 = 0.1825; / 2 = 0.09125
    assert binance_apr(D("0.0015")) == D("0.09125")
    assert binance_apr(D("-0.0015")) == D("0.09125")     # the carry takes either side


def test_compounded_apr_reinvests_the_mean_rate_at_each_settlement():
    # 8 h spacing: 365 × 3 = 1095 settlements a year; 1 h spacing: 8760
    assert settlements_per_year(history(RATES)) == D(1095)
    assert settlements_per_year(history(["0.0001"] * 5, spacing_h=1)) == D(8760)
    # mean 0.0015 / 9 = 1/6000; (1 + 1/6000)^1095 − 1 = exp(1095 × ln(1.000166667)) − 1
    # = exp(1095 × 0.000166652778) − 1 = exp(0.182484792) − 1
    # = e^0.18 × e^0.002484792 − 1 = 1.19721736 × 1.00248788 − 1 = 0.2001959
    value = compounded_apr(D("0.0015"), 9, D(1095))
    assert abs(value - D("0.2001959")) < D("0.0000005")
    assert compounded_apr(D(0), 0, D(1095)) == 0


def test_net_apr_subtracts_one_round_trip_of_taker_fees_over_the_hold():
    # gross 0.0015 / 3 × 365 = 0.1825; standard takers: round trip 2 × (0.001 + 0.0005) = 0.003
    row = rank([candidate()], NOW, D(1000), D(20), D(30))[0]
    assert row.round_trip_fee == D("0.003")
    assert row.net_apr == D("0.1825") - D("0.003") * 365 / 30        # 0.1825 − 0.0365 = 0.146
    assert row.net_apr == D("0.146")
    assert rank([candidate()], NOW, D(1000), D(20), D(10))[0].net_apr == D("0.0730")  # − 0.1095
    # the account's own rates (e.g. VIP): 2 × (0.00075 + 0.0004) = 0.0023 → 0.1825 − 0.0023 × 36.5
    vip = candidate(spot_taker=D("0.00075"), coinm_taker=D("0.0004"))
    assert rank([vip], NOW, D(1000), D(20), D(10))[0].net_apr == D("0.1825") - D("0.08395")
    assert (row.last_rate, row.predicted_rate, row.settlements_3d) == (D("0.0003"), D("0.0002"), 9)
    assert row.apr == D("0.09125") and row.side == "buy spot / sell perp"


def test_basis_is_perp_mid_against_spot_mid():
    row = rank([candidate()], NOW, D(1000), D(20), D(30))[0]
    # spot mid (99.9 + 100) / 2 = 99.95, perp mid (100.1 + 100.2) / 2 = 100.15: 0.2 / 99.95 × 10^4
    assert row.basis_bps == D("0.2") / D("99.95") * 10000
    assert abs(row.basis_bps - D("20.01")) < D("0.001")


def test_depth_counts_the_carry_side_within_the_band():
    c = candidate()
    # positive: spot asks ≤ 99.95 × 1.002 = 100.1499 → 100 × 1 + 100.05 × 2 = 300.1 USD;
    # perp bids ≥ 100.15 × 0.998 = 99.9497 → 5 + 3 contracts × 10 USD = 80 USD; the smaller
    assert depth_usd(c, True, D(1000), D(20)) == D(80)
    assert depth_usd(c, True, D(50), D(20)) == D(50)             # capped at the notional
    # 10 bps: spot asks ≤ 100.04995 → 100 USD; perp bids ≥ 100.04985 → 5 contracts = 50 USD
    assert depth_usd(c, True, D(1000), D(10)) == D(50)
    # negative: spot bids ≥ 99.7501 → 99.9 × 3 = 299.7; perp asks ≤ 100.3503 → 4 × 10 = 40
    assert depth_usd(c, False, D(1000), D(20)) == D(40)
    negative = rank([candidate(rates=["-0.0002"] * 9)], NOW, D(1000), D(20), D(30))[0]
    assert negative.side == "sell spot / buy perp" and negative.depth_usd == D(40)
    assert negative.cum_3d == D("-0.0018") and negative.apr == D("0.0018") / 3 * 365 / 2


def test_sorted_by_net_apr():
    small = candidate(rates=["0.0001"] * 9)
    big = Candidate(**{**{f: getattr(small, f) for f in small.__dataclass_fields__},
                       "perp_symbol": "SOLUSD_PERP", "base": "SOL", "spot_symbol": "SOLUSDT",
                       "history": history(["-0.0005"] * 9, symbol="SOLUSD_PERP")})
    rows = rank([small, big], NOW, D(1000), D(20), D(30))
    assert [r.perp_symbol for r in rows] == ["SOLUSD_PERP", "BTCUSD_PERP"]
    # 0.0009 / 3 × 365 − 0.0365 = 0.1095 − 0.0365 = 0.073 ; 0.0045 / 3 × 365 − 0.0365 = 0.511
    assert [r.net_apr for r in rows] == [D("0.511"), D("0.073")]


def test_pairs_need_a_trading_perpetual_and_a_trading_usdt_spot():
    spot = {"BTCUSDT": "TRADING", "ETHUSDT": "BREAK", "SOLUSDT": "TRADING"}
    perps = {"BTCUSD_PERP": "TRADING", "ETHUSD_PERP": "TRADING", "SOLUSD_PERP": "PENDING_TRADING",
             "XRPUSD_PERP": "TRADING"}
    assert pairs(spot, perps) == [("BTC", "BTCUSDT", "BTCUSD_PERP")]
