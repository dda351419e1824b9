"""The local exchange's klines: which intervals a query returns, how minutes group into longer
intervals (weeks from Monday), and the errors Binance answers for a bad interval or range."""
from __future__ import annotations

import pytest
import requests

from arbitrage.sim import LocalExchange

MIN = 60_000
MONDAY = 1_796_601_600_000          # 2026-12-07 00:00 UTC, a Monday


@pytest.fixture
def ex():
    with LocalExchange(seed=9, speed=0.001, symbols=["BTCUSDT", "BTCUSD_PERP"]) as exchange:
        yield exchange


def klines(ex: LocalExchange, path: str = "/api/v3/klines", **params) -> requests.Response:
    return requests.get(ex.rest_url + path, params={"symbol": "BTCUSDT", **params}, timeout=20)


def test_klines_select_by_open_time_and_limit(ex):
    tick = ex.market.books["BTCUSDT"].spec.to_ticks(60000.0)
    for i, move in enumerate((0, 5, -3, 2)):     # four minutes, one sample each
        ex.tape.record("BTCUSDT", tick + move, MONDAY + i * MIN + 30_000)
    opens = lambda r: [row[0] for row in r.json()]  # noqa: E731
    assert opens(klines(ex, interval="1m", startTime=MONDAY, endTime=MONDAY + 10 * MIN)) == \
        [MONDAY + i * MIN for i in range(4)]
    assert opens(klines(ex, interval="1m", startTime=MONDAY + 1, limit=2)) == [MONDAY + MIN, MONDAY + 2 * MIN]
    assert opens(klines(ex, interval="1m", endTime=MONDAY + 3 * MIN, limit=2)) == \
        [MONDAY + 2 * MIN, MONDAY + 3 * MIN]
    three = klines(ex, interval="3m", startTime=MONDAY, endTime=MONDAY + 10 * MIN).json()
    # 3-minute intervals are aligned on the epoch, not on the first sample
    first = MONDAY - MONDAY % (3 * MIN)
    assert [row[0] for row in three] == [first + k * 3 * MIN for k in range(len(three))]
    week = klines(ex, interval="1w", startTime=MONDAY - 1, endTime=MONDAY + MIN).json()
    assert [row[0] for row in week] == [MONDAY] and week[0][6] == MONDAY + 7 * 86_400_000 - 1
    assert week[0][1:5] == ["60000.00000000", "60000.05000000", "59999.97000000", "60000.02000000"]


def test_klines_errors_as_binance_answers_them(ex):
    assert klines(ex, interval="2m").json() == {"code": -1120, "msg": "Invalid interval."}
    assert klines(ex).json()["code"] == -1102
    assert klines(ex, interval="1m", startTime=2, endTime=1).json()["code"] == -1023
    assert klines(ex, "/dapi/v1/klines", symbol="BTCUSDT", interval="1m").json()["code"] == -1121
