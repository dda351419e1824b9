"""REST faults of the local exchange seen by a plain `requests` client: 5xx pages, 429 then 418,
-1021 after a clock shift (and fine again after re-syncing on /time), slow answers."""
from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

import pytest
import requests

from arbitrage.sim import LocalExchange


@pytest.fixture()
def ex():
    with LocalExchange(seed=21, speed=4.0, symbols=["BTCUSDT", "BTCUSD_PERP"]) as exchange:
        yield exchange


def signed_get(ex: LocalExchange, path: str, offset_ms: int = 0, **params) -> requests.Response:
    params["timestamp"] = time.time_ns() // 1_000_000 + offset_ms
    query = urlencode(params)
    sig = hmac.new(ex.api_secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return requests.get(f"{ex.rest_url}{path}?{query}&signature={sig}",
                        headers={"X-MBX-APIKEY": ex.api_key}, timeout=10)


def test_http_errors_next_answers_an_html_page_then_serves_again(ex):
    ex.http_errors_next(1, status=502)
    ex.http_errors_next(1, status=503, html=False)
    r = requests.get(ex.rest_url + "/api/v3/time", timeout=10)
    assert r.status_code == 502 and r.headers["Content-Type"].startswith("text/html")
    assert "<html>" in r.text and "502 Bad Gateway" in r.text
    with pytest.raises(ValueError):
        r.json()
    r = requests.get(ex.rest_url + "/dapi/v1/time", timeout=10)
    assert r.status_code == 503 and r.json()["code"] == -1001
    assert requests.get(ex.rest_url + "/api/v3/time", timeout=10).status_code == 200
    assert requests.get(ex.rest_url + "/sim/info", timeout=10).status_code == 200   # never faulted
    assert ex.fault_counts()["http5xx"] == 2


def test_a_5xx_order_was_not_executed(ex):
    ex.http_errors_next(1, status=500)
    r = signed_get(ex, "/dapi/v1/positionRisk")   # any signed call: refused before the endpoint
    assert r.status_code == 500
    assert ex.orders_received("coinm") == 0


def test_rate_limit_429_with_retry_after_then_418_for_a_client_that_ignores_it(ex):
    ex.rate_limit_next(30)
    r = requests.get(ex.rest_url + "/api/v3/time", timeout=10)
    assert r.status_code == 429 and r.json()["code"] == -1003
    assert 1 <= int(r.headers["Retry-After"]) <= 30
    r = requests.get(ex.rest_url + "/api/v3/time", timeout=10)     # did not wait: banned
    assert r.status_code == 418 and r.json()["code"] == -1003
    assert "banned until" in r.json()["msg"]
    assert int(r.headers["Retry-After"]) >= 30
    # spot and COIN-M are separate systems: the spot ban does not reach /dapi, which gives its own
    # first warning
    assert requests.get(ex.rest_url + "/dapi/v1/ping", timeout=10).status_code == 429
    counts = ex.fault_counts()
    assert counts["ratelimit"] == 1 and counts["ban"] == 1


def test_rate_limit_ends_for_a_client_that_waits(ex):
    ex.rate_limit_next(1)
    r = requests.get(ex.rest_url + "/api/v3/time", timeout=10)
    assert r.status_code == 429
    time.sleep(float(r.headers["Retry-After"]) + 0.1)       # honouring Retry-After is the behaviour under test
    assert requests.get(ex.rest_url + "/api/v3/time", timeout=10).status_code == 200


def test_clock_shift_gives_minus_1021_until_the_client_resyncs(ex):
    assert signed_get(ex, "/dapi/v1/positionRisk").status_code == 200
    ex.shift_clock(-3000)
    r = signed_get(ex, "/dapi/v1/positionRisk")
    assert r.status_code == 400 and r.json()["code"] == -1021
    assert "ahead of the server's time" in r.json()["msg"]
    server = requests.get(ex.rest_url + "/dapi/v1/time", timeout=10).json()["serverTime"]
    offset = server - time.time_ns() // 1_000_000
    assert -4000 < offset < -2000
    assert signed_get(ex, "/dapi/v1/positionRisk", offset_ms=offset).status_code == 200
    ex.shift_clock(0)
    assert signed_get(ex, "/api/v3/account").status_code == 200
    assert ex.fault_counts()["clock"] == 1


def test_clock_shift_ends_by_itself(ex):
    ex.shift_clock(-3000, seconds=0.2)
    deadline = time.monotonic() + 20
    while signed_get(ex, "/dapi/v1/positionRisk").status_code != 200:
        assert time.monotonic() < deadline, "the clock shift never ended"
        time.sleep(0.05)


def test_slow_next_delays_only_the_named_endpoint(ex):
    ex.slow_next(1, 0.3, path="/dapi/v1/time")
    requests.get(ex.rest_url + "/api/v3/time", timeout=10)
    assert ex.fault_counts()["slow"] == 0
    started = time.monotonic()
    assert requests.get(ex.rest_url + "/dapi/v1/time", timeout=10).status_code == 200
    assert time.monotonic() - started >= 0.3      # a lower bound only: never a speed assertion
    assert ex.fault_counts()["slow"] == 1


def test_http_error_rate_is_a_probability(ex):
    ex.http_error_rate(1.0)
    statuses = {requests.get(ex.rest_url + "/api/v3/time", timeout=10).status_code for _ in range(8)}
    ex.http_error_rate(0.0)
    assert statuses and all(500 <= s <= 504 for s in statuses)
    assert requests.get(ex.rest_url + "/api/v3/time", timeout=10).status_code == 200
    assert ex.fault_counts()["http5xx"] == 8
