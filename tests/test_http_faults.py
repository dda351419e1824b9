"""BinanceHttp's answers to exchange faults: -1021 clock re-sync, read retries, 429/418 windows.

Most cases script the exchange with `responses` (exact call counts, no sleeping: the backoff's
sleep and the budget's monotonic clock are injected); one runs against the local exchange over
loopback, whose authentication really refuses a skewed timestamp with -1021.
"""
from __future__ import annotations

import logging
import random
import re
import time
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from arbitrage.exchanges.errors import (
    BadResponse, ClockSkew, IpBanned, RateLimited, Rejected, Retryable, UnknownOutcome,
)
from arbitrage.exchanges.http import BinanceHttp, time_path_for
from arbitrage.sim import LocalExchange

BASE = "https://api.test"
KEY, SECRET = "k" * 64, "s" * 64
SKEW_BODY = {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
HTML = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


class FakeClock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Sleeper:
    """Records each backoff and lets the monotonic clock advance by it (no real waiting)."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeper() -> Sleeper:
    return Sleeper()


@pytest.fixture
def client(clock: FakeClock, sleeper: Sleeper) -> BinanceHttp:
    return BinanceHttp(BASE, KEY, SECRET, clock=clock, sleep=sleeper.sleep,
                       monotonic=sleeper.monotonic, rng=random.Random(7))


def sent_params(call) -> dict[str, str]:
    body = call.request.body
    text = (body.decode() if isinstance(body, bytes) else body) or urlsplit(call.request.url).query
    return {k: v[0] for k, v in parse_qs(text).items()}


# --- -1021: re-sync the clock, send the same request once more ---------------------------------

ME_SKEW_BODY = {"code": -4188, "msg": "Timestamp for this request is outside of the ME recvWindow."}


@pytest.mark.parametrize("order_path, time_path, refusal", [
    ("/api/v3/order", "/api/v3/time", SKEW_BODY),
    ("/dapi/v1/order", "/dapi/v1/time", SKEW_BODY),
    ("/dapi/v1/order", "/dapi/v1/time", ME_SKEW_BODY),
], ids=["spot", "coinm", "coinm-4188"])
def test_clock_skew_resyncs_from_the_paths_own_time_endpoint_and_resends_the_order_once(
        rsps, client: BinanceHttp, clock: FakeClock, caplog, order_path, time_path, refusal) -> None:
    server_ms = int(clock.t * 1000) + 7_000            # the server is 7 s ahead of us
    rsps.add("POST", BASE + order_path, status=400, json=refusal)
    rsps.add("GET", BASE + time_path, json={"serverTime": server_ms})
    rsps.add("POST", BASE + order_path, json={"orderId": 42, "clientOrderId": "T1-s-e1"})
    caplog.set_level(logging.INFO, logger="arbitrage")
    answer = client.request("POST", order_path, {"symbol": "X", "newClientOrderId": "T1-s-e1"},
                            signed=True)
    assert answer["orderId"] == 42
    assert [(c.request.method, urlsplit(c.request.url).path) for c in rsps.calls] == [
        ("POST", order_path), ("GET", time_path), ("POST", order_path)]
    first, resent = sent_params(rsps.calls[0]), sent_params(rsps.calls[2])
    assert first["newClientOrderId"] == resent["newClientOrderId"] == "T1-s-e1"
    assert int(resent["timestamp"]) == server_ms        # re-signed with the corrected clock
    assert int(first["timestamp"]) == server_ms - 7_000
    assert client.offset_ms == 7_000
    assert re.search(r"\[CLOCK\] offset re-synced: 7000 ms", caplog.text), caplog.text


def test_a_second_clock_skew_goes_to_the_caller(rsps, client: BinanceHttp, clock) -> None:
    rsps.add("POST", f"{BASE}/api/v3/order", status=400, json=SKEW_BODY)
    rsps.add("GET", f"{BASE}/api/v3/time", json={"serverTime": int(clock.t * 1000)})
    with pytest.raises(ClockSkew):
        client.request("POST", "/api/v3/order", {"symbol": "X"}, signed=True)
    assert [c.request.method for c in rsps.calls] == ["POST", "GET", "POST"]   # retried ONCE


def test_a_failed_resync_returns_the_clock_skew_and_does_not_resend(rsps, client, sleeper) -> None:
    rsps.add("POST", f"{BASE}/dapi/v1/order", status=400, json=SKEW_BODY)
    rsps.add("GET", f"{BASE}/dapi/v1/time", status=400, json={"code": -1100, "msg": "bad"})
    with pytest.raises(ClockSkew):          # still "refused before execution" for the caller
        client.request("POST", "/dapi/v1/order", {"symbol": "X"}, signed=True)
    assert [c.request.method for c in rsps.calls] == ["POST", "GET"]


def test_clock_skew_on_a_signed_read_is_resynced_too(rsps, client: BinanceHttp, clock) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/account", status=400, json=SKEW_BODY)
    rsps.add("GET", f"{BASE}/dapi/v1/time", json={"serverTime": int(clock.t * 1000) - 2_500})
    rsps.add("GET", f"{BASE}/dapi/v1/account", json={"assets": []})
    assert client.request("GET", "/dapi/v1/account", signed=True) == {"assets": []}
    assert client.offset_ms == -2_500
    assert len(rsps.calls) == 3


def test_time_path_comes_from_the_path_prefix() -> None:
    assert time_path_for("/api/v3/order") == "/api/v3/time"
    assert time_path_for("/dapi/v1/positionRisk") == "/dapi/v1/time"
    assert time_path_for("/sapi/v1/asset") == "/api/v3/time"
    assert time_path_for("/sim/info") is None


def test_clock_skew_against_the_local_exchange_is_resynced_and_the_order_placed_once() -> None:
    """The local exchange checks timestamps like Binance: our clock runs 30 s fast, never synced."""
    sim = LocalExchange(source="synthetic", seed=3, speed=1.0)
    sim.start()
    try:
        http = BinanceHttp(sim.rest_url, sim.api_key, sim.api_secret,
                           clock=lambda: time.time() + 30.0)
        before = _spot_btc(http)                        # a signed GET: -1021, re-sync, answer
        assert -31_000 < http.offset_ms < -29_000
        http.offset_ms = 0                              # forget it: the order meets -1021 again
        http.request("POST", "/api/v3/order",
                     {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                      "quantity": Decimal("0.00100000"), "newClientOrderId": "skew-1"},
                     signed=True)
        order = http.request("GET", "/api/v3/order",
                             {"symbol": "BTCUSDT", "origClientOrderId": "skew-1"}, signed=True)
        assert order["status"] == "FILLED" and Decimal(order["executedQty"]) == Decimal("0.001")
        bought = _spot_btc(http) - before                # 0.001 less the BTC commission
        assert Decimal("0.0009") <= bought <= Decimal("0.001"), bought   # once, not twice
    finally:
        sim.stop()


def _spot_btc(http: BinanceHttp) -> Decimal:
    balances = http.request("GET", "/api/v3/account", signed=True)["balances"]
    btc = next(b for b in balances if b["asset"] == "BTC")
    return Decimal(btc["free"]) + Decimal(btc["locked"])


# --- reads are retried on transient failures; orders never -------------------------------------

def test_a_read_rides_out_transient_failures(rsps, client: BinanceHttp, sleeper) -> None:
    url = f"{BASE}/api/v3/depth"
    rsps.add("GET", url, status=503, body=b"Service Unavailable.")            # Retryable
    rsps.add("GET", url, status=502, body=HTML)                               # UnknownOutcome
    rsps.add("GET", url, body=b'{"lastUpdateId":1027024,"bids":[["4.0000')  # truncated
    rsps.add("GET", url, json={"lastUpdateId": 1})
    assert client.request("GET", "/api/v3/depth", {"symbol": "BTCUSDT"}) == {"lastUpdateId": 1}
    assert len(rsps.calls) == 4
    assert len(sleeper.waits) == 3
    assert all(0 < w <= 1.0 for w in sleeper.waits)
    assert sleeper.waits[2] > sleeper.waits[0]          # exponential, whatever the jitter


def test_a_read_that_keeps_failing_gives_up_within_the_budget(rsps, client, sleeper) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/depth", status=200, body=HTML)
    with pytest.raises(BadResponse):
        client.request("GET", "/dapi/v1/depth")
    assert len(rsps.calls) == 4                         # 1 try + 3 retries, then the error
    assert sum(sleeper.waits) <= 3.0


def test_the_time_budget_cuts_retries_short(rsps, clock, sleeper) -> None:
    def slow_monotonic() -> float:                      # each look at the clock: 1 s later
        sleeper.now += 1.0
        return sleeper.now
    client = BinanceHttp(BASE, KEY, SECRET, clock=clock, sleep=sleeper.sleep,
                         monotonic=slow_monotonic, rng=random.Random(1))
    rsps.add("GET", f"{BASE}/api/v3/depth", status=503, body=b"Service Unavailable.")
    with pytest.raises(Retryable):
        client.request("GET", "/api/v3/depth")
    assert len(rsps.calls) < 4


@pytest.mark.parametrize("status, body", [
    (400, {"code": -1100, "msg": "Illegal characters found in parameter 'symbol'"}),
    (403, HTML),                                         # WAF page: a refusal, not a glitch
], ids=["rejected", "waf"])
def test_a_refused_read_is_not_retried(rsps, client: BinanceHttp, sleeper, status, body) -> None:
    kwargs = {"json": body} if isinstance(body, dict) else {"body": body}
    rsps.add("GET", f"{BASE}/api/v3/depth", status=status, **kwargs)
    with pytest.raises((Rejected, BadResponse)):
        client.request("GET", "/api/v3/depth")
    assert len(rsps.calls) == 1 and sleeper.waits == []


@pytest.mark.parametrize("method, status, body, expected", [
    ("POST", 503, b"Unknown error, please check your request or try again later.", UnknownOutcome),
    ("POST", 503, b"Service Unavailable.", Retryable),
    ("POST", 200, HTML, BadResponse),
    ("DELETE", 503, b"Service Unavailable.", Retryable),
    ("DELETE", 500, b"", UnknownOutcome),
], ids=["post-unknown", "post-retryable", "post-html", "delete-retryable", "delete-unknown"])
def test_writes_are_sent_exactly_once(rsps, client, sleeper, method, status, body,
                                      expected) -> None:
    rsps.add(method, f"{BASE}/dapi/v1/order", status=status, body=body)
    with pytest.raises(expected):
        client.request(method, "/dapi/v1/order", {"symbol": "BTCUSD_PERP"}, signed=True)
    assert len(rsps.calls) == 1 and sleeper.waits == []


def test_sync_time_retries_and_times_the_attempt_that_answered(rsps, client, clock) -> None:
    clock.t = 1000.0

    def answer(request):
        clock.t += 0.2
        return 200, {}, '{"serverTime": 1000600}'       # midpoint of this attempt: 1000.1 s
    rsps.add("GET", f"{BASE}/api/v3/time", status=503, body=b"Service Unavailable.")
    rsps.add_callback("GET", f"{BASE}/api/v3/time", callback=answer)
    assert client.sync_time("/api/v3/time") == 500
    assert len(rsps.calls) == 2


# --- 429 / 418: nothing leaves during the window -----------------------------------------------

def test_429_retry_after_is_honoured_by_every_kind_of_request(rsps, client, clock, sleeper) -> None:
    rsps.add("GET", f"{BASE}/api/v3/depth", status=429, headers={"Retry-After": "5"},
             json={"code": -1003, "msg": "Too much request weight used"})
    with pytest.raises(RateLimited):
        client.request("GET", "/api/v3/depth")
    for method, path in (("GET", "/api/v3/depth"), ("POST", "/api/v3/order"),
                         ("DELETE", "/api/v3/order"), ("GET", "/api/v3/time")):
        with pytest.raises(RateLimited) as info:
            client.request(method, path, {"symbol": "X"}, signed=method != "GET")
        assert 0 < info.value.retry_after <= 5
    with pytest.raises(RateLimited):
        client.sync_time("/api/v3/time")
    assert len(rsps.calls) == 1 and sleeper.waits == []   # not one more request, no retry loop
    clock.t += 5.01
    rsps.replace("GET", f"{BASE}/api/v3/depth", json={"lastUpdateId": 9})
    assert client.request("GET", "/api/v3/depth") == {"lastUpdateId": 9}


def test_418_logs_the_ban_and_blocks_without_touching_the_network(rsps, client, clock,
                                                                   caplog) -> None:
    caplog.set_level(logging.INFO, logger="arbitrage")
    rsps.add("GET", f"{BASE}/dapi/v1/depth", status=503, body=b"Service Unavailable.")
    rsps.add("GET", f"{BASE}/dapi/v1/depth", status=418, headers={"Retry-After": "240"},
             json={"code": -1003, "msg": "Way too much request weight used; IP banned"})
    with pytest.raises(IpBanned) as info:                  # a ban ends the read's retries
        client.request("GET", "/dapi/v1/depth")
    assert info.value.retry_after == 240.0
    assert re.search(r"\[BAN\].*240", caplog.text), caplog.text
    assert len(rsps.calls) == 2
    clock.t += 239
    for method in ("GET", "POST"):
        with pytest.raises(IpBanned) as info:
            client.request(method, "/dapi/v1/order", {"symbol": "X"}, signed=True)
        assert info.value.retry_after == pytest.approx(1.0)
    assert len(rsps.calls) == 2                            # nothing sent during the ban
    clock.t += 1.5
    rsps.replace("GET", f"{BASE}/dapi/v1/depth", json={"lastUpdateId": 3})
    assert client.request("GET", "/dapi/v1/depth") == {"lastUpdateId": 3}


def test_418_without_retry_after_still_bans_for_minutes(rsps, client, clock) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/depth", status=418, json={"code": -1003, "msg": "banned"})
    with pytest.raises(IpBanned) as info:
        client.request("GET", "/dapi/v1/depth")
    assert info.value.retry_after >= 120
    clock.t += 60
    with pytest.raises(IpBanned):
        client.request("GET", "/dapi/v1/depth")
    assert len(rsps.calls) == 1
