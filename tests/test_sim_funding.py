"""Funding on the local exchange: regimes keep their sign, the history is pre-filled, and the
fundingRate endpoint, the income rows and premiumIndex tell the same story."""
from __future__ import annotations

from decimal import Decimal as D

import pytest
import requests

from arbitrage.sim import LocalExchange
from arbitrage.sim.funding import FLIP_EVERY, HISTORY_SETTLEMENTS, FundingHistory
from arbitrage.sim.market import Market
from arbitrage.sim.symbols import ALL_SYMBOLS, resolve
from arbitrage.sim.synthetic import COLD_EVERY, SyntheticSource
from tests.conftest import wait_for
from tests.test_sim_support import read, ws_connect
from tests.test_sim_trading_client import Client

START_MS = 1_700_000_000_000
INTERVAL_SEC = 6.0              # compressed: 3 model minutes = 30 settlements
PERPS = [s for s in ALL_SYMBOLS if s.endswith("_PERP")]


def run(regime: str, seed: int, minutes: float = 3):
    """A seeded model on a fixed clock: the pre-filled history plus `minutes` of live ticks,
    settled the way the exchange settles (the rate announced before each funding time)."""
    market = Market()
    market.clock_ms = lambda: START_MS
    source = SyntheticSource(resolve(PERPS), seed=seed, funding_interval_sec=INTERVAL_SEC,
                             funding_regime=regime)
    source.prepare(market)
    perps = [s for s in source.specs.values() if not s.is_spot]
    rates = {s.symbol: [D(r.rate) for r in market.funding.funding_history(s.symbol, limit=1000)]
             for s in perps}
    announced = {s.symbol: market.marks[s.symbol] for s in perps}
    for i in range(int(minutes * 600)):
        now = START_MS + 100 * (i + 1)
        source.tick(market, now)
        for s in perps:
            mark = market.marks[s.symbol]
            if mark.event_ms >= announced[s.symbol].next_funding_ms > announced[s.symbol].event_ms:
                rates[s.symbol].append(D(f"{announced[s.symbol].funding_rate:.8f}"))
            announced[s.symbol] = mark
    return source, market, rates


@pytest.mark.parametrize("regime,sign", [("positive", 1), ("negative", -1)])
def test_one_sided_regimes_keep_their_sign(regime, sign):
    _, _, rates = run(regime, seed=4)
    for symbol, seen in rates.items():
        assert len(seen) >= HISTORY_SETTLEMENTS + 29, symbol
        assert all(r * sign >= D("0.0001") for r in seen), (symbol, min(seen), max(seen))


def test_flipping_regime_changes_sign_every_few_settlements():
    source, market, rates = run("flipping", seed=4)
    for symbol, seen in rates.items():
        history = market.funding.funding_history(symbol, limit=1000)
        for row in history:     # the sign follows the settlement's block of FLIP_EVERY
            k = row.funding_time // int(INTERVAL_SEC * 1000)
            expected = 1 if (k // FLIP_EVERY) % 2 == 0 else -1
            assert D(row.rate) * expected > 0, (symbol, row)
        assert min(seen) < 0 < max(seen)


def test_normal_regime_is_mostly_positive_with_a_few_flips():
    _, _, rates = run("normal", seed=4, minutes=0)
    every = [r for seen in rates.values() for r in seen]
    positive = sum(1 for r in every if r > 0)
    assert len(every) == 8 * HISTORY_SETTLEMENTS
    assert positive / len(every) > 0.8 and positive < len(every)
    assert sum(1 for r in every if r == D("0.0001")) > len(every) / 2    # the flat 0.01 % dominates


def test_history_is_pre_filled_with_30_days_of_8_hourly_settlements():
    market = Market()
    market.clock_ms = lambda: START_MS
    SyntheticSource(resolve(["BTCUSDT", "BTCUSD_PERP"]), seed=1).prepare(market)
    rows = market.funding.funding_history("BTCUSD_PERP", limit=1000)
    eight_h = 8 * 3600 * 1000
    assert len(rows) == HISTORY_SETTLEMENTS
    assert rows[-1].funding_time == START_MS // eight_h * eight_h            # the last one before now
    assert all(b.funding_time - a.funding_time == eight_h for a, b in zip(rows, rows[1:]))
    assert market.marks["BTCUSD_PERP"].next_funding_ms == rows[-1].funding_time + eight_h


def test_query_follows_binance_selection():
    h = FundingHistory()
    for t in range(1, 11):
        h.add("X", t * 100, D("0.0001") * t, D(50))
    assert [r.funding_time for r in h.funding_history("X", limit=3)] == [800, 900, 1000]
    assert [r.funding_time for r in h.funding_history("X", start_ms=250, limit=3)] == [300, 400, 500]
    assert [r.funding_time for r in h.funding_history("X", end_ms=500, limit=2)] == [400, 500]
    assert [r.funding_time for r in h.funding_history("X", 300, 500, 100)] == [300, 400, 500]
    assert h.funding_history("Y") == []
    with pytest.raises(ValueError):
        h.add("X", 1000, D(0), D(1))          # a settlement happens once


def test_endpoint_income_rows_and_premium_index_agree():
    with LocalExchange(seed=5, speed=2.0, funding_interval_sec=1.0) as ex:
        client = Client(ex)
        client.cm_order(side="SELL", type="MARKET", quantity="50")
        base = ex.rest_url + "/dapi/v1/"
        # every mark until two funding times have passed: the last `r` before each `T` is the
        # rate that settlement must use (premiumIndex serves the same state as the stream)
        with ws_connect(ex.ws_url + "/ws/btcusd_perp@markPrice@1s") as ws:
            marks = read(ws, count=6)
        last_r = {m["T"]: m["r"] for m in marks}
        income = wait_for(lambda: client.ok("GET", "/dapi/v1/income", incomeType="FUNDING_FEE") or None,
                          what="a funding settlement")
        index = requests.get(base + "premiumIndex", params={"symbol": "BTCUSD_PERP"}).json()[0]
        history = requests.get(base + "fundingRate", params={"symbol": "BTCUSD_PERP", "limit": 1000}).json()
        assert set(history[0]) == {"symbol", "fundingTime", "fundingRate", "markPrice"}
        assert len(history) >= HISTORY_SETTLEMENTS + 1
        by_time = {row["fundingTime"]: row for row in history}
        settled = sorted(t for t in last_r if t in by_time)
        assert settled, (sorted(last_r), history[-3:])
        for t in settled:
            assert by_time[t]["fundingRate"] == last_r[t]        # at the rate it announced
        # premiumIndex announces the next, unsettled funding time
        assert index["nextFundingTime"] > history[-1]["fundingTime"]
        assert index["interestRate"] == "0.00010000"
        # each income row pays exactly contracts × 100 / markPrice × fundingRate (short: receives)
        for row in income:
            settlement = by_time[max(t for t in by_time if t <= row["time"])]
            expected = (D(50) * 100 / D(settlement["markPrice"]) * D(settlement["fundingRate"]))
            assert D(row["income"]) == expected.quantize(D("1e-8")), (row, settlement)
        assert requests.get(base + "fundingRate", params={"symbol": "NOPE_PERP"}).json()["code"] == -1121
        window = requests.get(base + "fundingRate", params={
            "symbol": "BTCUSD_PERP", "startTime": history[1]["fundingTime"], "limit": 2}).json()
        assert window == history[1:3]


def test_extra_coins_move_slowly_until_streamed():
    market = Market()
    source = SyntheticSource(resolve(["BTCUSDT", "SOLUSDT"]), seed=2)
    market.clock_ms = lambda: START_MS
    source.prepare(market)
    ids = lambda: (market.books["BTCUSDT"].last_update_id, market.books["SOLUSDT"].last_update_id)  # noqa: E731
    before = ids()
    for i in range(COLD_EVERY - 1):
        source.tick(market, START_MS + 100 * (i + 1))
    btc, sol = ids()
    assert btc > before[0] and sol == before[1]          # the extra coin waits for its turn
    source.tick(market, START_MS + 100 * COLD_EVERY)
    assert ids()[1] > sol
    source.warm("SOLUSDT")
    sol = ids()[1]
    source.tick(market, START_MS + 100 * (COLD_EVERY + 1))
    assert ids()[1] > sol                                # streamed: every tick


def test_a_stream_subscription_warms_its_symbol():
    with LocalExchange(seed=2, speed=4.0, symbols=ALL_SYMBOLS) as ex:
        assert "SOLUSDT" in ex.source.cold and "BTCUSDT" not in ex.source.cold
        with ws_connect(ex.ws_url + "/ws/solusdt@depth@100ms") as ws:
            read(ws, count=1)
        assert "SOLUSDT" not in ex.source.cold and "XRPUSDT" in ex.source.cold
