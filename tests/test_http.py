"""BinanceHttp: signing (official vectors), what goes on the wire, error mapping, ban windows."""
from __future__ import annotations

import http.client
import logging
import socket
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import requests
from urllib3.exceptions import ProtocolError

from arbitrage.exchanges.errors import (
    BadResponse, BinanceError, ClockSkew, IpBanned, RateLimited, Rejected, Retryable, UnknownOutcome,
)
from arbitrage.exchanges.http import BinanceHttp, sign

BASE = "https://api.test"
# binance-reference §2.3 (spot docs, "SIGNED Endpoint Examples for POST /api/v3/order")
DOC_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


class FakeClock:
    def __init__(self, t: float = 1_499_827_319.559) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(clock: FakeClock) -> BinanceHttp:
    return BinanceHttp(BASE, DOC_KEY, DOC_SECRET, clock=clock)


def split_signature(payload: str) -> tuple[str, str]:
    signed, _, signature = payload.rpartition("&signature=")
    return signed, signature


# --- signing -----------------------------------------------------------------------------------

@pytest.mark.parametrize("payload, expected", [
    ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
     "&timestamp=1499827319559",
     "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"),
    # mixed: query string + body concatenated with no separator ("...GTCquantity=1...")
    ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
     + "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559",
     "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"),
    ("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT"
     "&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559",
     "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"),
], ids=["plain", "query+body", "non-ascii"])
def test_official_signature_vectors(payload: str, expected: str) -> None:
    assert sign(DOC_SECRET, payload) == expected
    assert BinanceHttp(BASE, DOC_KEY, DOC_SECRET).sign(payload) == expected


def test_signed_get_sends_exactly_what_it_signed(rsps, client: BinanceHttp) -> None:
    rsps.add("GET", f"{BASE}/api/v3/account", json={"balances": []})
    client.request("GET", "/api/v3/account",
                   {"symbol": "１２３４５６", "price": Decimal("1E+1"), "flag": True, "skip": None},
                   signed=True)
    sent = rsps.calls[0].request
    query = urlsplit(sent.url).query
    names = [pair.split("=")[0] for pair in query.split("&")]
    assert names == ["symbol", "price", "flag", "timestamp", "recvWindow", "signature"]
    assert query.startswith("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96"
                            "&price=10&flag=true&timestamp=1499827319559&recvWindow=5000&")
    signed, signature = split_signature(query)
    assert signature == sign(DOC_SECRET, signed)     # over exactly the bytes sent, empty body
    assert not sent.body
    assert sent.headers["X-MBX-APIKEY"] == DOC_KEY


def test_signed_post_puts_params_in_a_form_body(rsps, client: BinanceHttp) -> None:
    rsps.add("POST", f"{BASE}/api/v3/order", json={"orderId": 1})
    client.request("POST", "/api/v3/order",
                   [("symbol", "LTCBTC"), ("side", "BUY"), ("type", "LIMIT"),
                    ("timeInForce", "GTC"), ("quantity", "1"), ("price", "0.1")], signed=True)
    sent = rsps.calls[0].request
    assert urlsplit(sent.url).query == ""
    body = sent.body.decode() if isinstance(sent.body, bytes) else sent.body
    signed, signature = split_signature(body)
    assert signed == ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
                      "&timestamp=1499827319559&recvWindow=5000")
    assert signature == sign(DOC_SECRET, signed)
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.headers["X-MBX-APIKEY"] == DOC_KEY


def test_api_key_header_only_when_needed(rsps, client: BinanceHttp) -> None:
    rsps.add("GET", f"{BASE}/api/v3/depth", json={})
    rsps.add("POST", f"{BASE}/api/v3/userDataStream", json={"listenKey": "x"})
    client.request("GET", "/api/v3/depth", {"symbol": "BTCUSDT"})
    client.request("POST", "/api/v3/userDataStream", api_key_only=True)
    public, keyed = (call.request for call in rsps.calls)
    assert "X-MBX-APIKEY" not in public.headers
    assert urlsplit(public.url).query == "symbol=BTCUSDT"
    assert keyed.headers["X-MBX-APIKEY"] == DOC_KEY
    assert "signature" not in (keyed.url + str(keyed.body or ""))


def test_signed_request_without_secret_is_refused_before_sending(rsps) -> None:
    with pytest.raises(ValueError):
        BinanceHttp(BASE, api_key="k").request("GET", "/api/v3/account", signed=True)
    assert len(rsps.calls) == 0


def test_sync_time_uses_the_round_trip_midpoint(rsps, client: BinanceHttp, clock: FakeClock) -> None:
    clock.t = 1000.0

    def slow_server(request):
        clock.t += 0.2                                 # the round trip takes 200 ms
        return 200, {}, '{"serverTime": 1000600}'     # midpoint local 1000100 -> +500 ms
    rsps.add_callback("GET", f"{BASE}/api/v3/time", callback=slow_server)
    rsps.add("GET", f"{BASE}/api/v3/account", json={})
    assert client.sync_time("/api/v3/time") == 500
    client.request("GET", "/api/v3/account", signed=True)
    query = urlsplit(rsps.calls[1].request.url).query
    assert "timestamp=1000700&" in query               # 1000.2 s local + 500 ms offset


def test_sync_time_rejects_a_body_without_server_time(rsps, client: BinanceHttp) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/time", json={"time": 1})
    with pytest.raises(BadResponse):
        client.sync_time("/dapi/v1/time")


def test_used_weight_and_order_count_headers_are_tracked(rsps, client: BinanceHttp) -> None:
    rsps.add("GET", f"{BASE}/api/v3/ping", json={},
             headers={"x-mbx-used-weight-1m": "12", "X-MBX-ORDER-COUNT-10S": "3",
                      "X-Mbx-Order-Count-1D": "40", "X-MBX-USED-WEIGHT-1S": "junk"})
    rsps.add("GET", f"{BASE}/api/v3/ping", status=400, json={"code": -1100, "msg": "x"},
             headers={"X-MBX-USED-WEIGHT-1M": "13"})
    client.request("GET", "/api/v3/ping")
    assert client.used_weight == {"X-MBX-USED-WEIGHT-1M": 12, "X-MBX-ORDER-COUNT-10S": 3,
                                  "X-MBX-ORDER-COUNT-1D": 40}
    with pytest.raises(Rejected):
        client.request("GET", "/api/v3/ping")
    assert client.used_weight["X-MBX-USED-WEIGHT-1M"] == 13    # error responses count too


# --- error mapping -----------------------------------------------------------------------------

HTML = b"<html><head><title>502 Bad Gateway</title></head><body>" + b"x" * 400 + b"</body></html>"
UNKNOWN_503 = "Unknown error, please check your request or try again later."


@pytest.mark.parametrize("status, body, expected, code", [
    (400, {"code": -1121, "msg": "Invalid symbol."}, Rejected, -1121),
    (400, {"code": -2010, "msg": "Order would immediately match and take."}, Rejected, -2010),
    (400, {"code": -1013, "msg": "Filter failure: LOT_SIZE"}, Rejected, -1013),
    (400, {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."},
     ClockSkew, -1021),
    (400, {"code": -4188, "msg": "Timestamp for this request is outside of the ME recvWindow."},
     ClockSkew, -4188),
    (503, b"Service Unavailable.", Retryable, None),
    (503, {"code": -1000, "msg": "Service Unavailable."}, Retryable, -1000),
    (503, {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."},
     Retryable, -1001),
    (503, UNKNOWN_503.encode(), UnknownOutcome, None),
    (503, {"code": -1000, "msg": UNKNOWN_503}, UnknownOutcome, -1000),
    (503, {"code": -1007, "msg": "Timeout waiting for response from backend server. "
                                 "Send status unknown; execution status unknown."},
     UnknownOutcome, -1007),
    (408, {"code": -1000, "msg": "timeout"}, Retryable, -1000),
    (500, b"", UnknownOutcome, None),
    (502, HTML, UnknownOutcome, None),
    (403, HTML, BadResponse, None),                    # WAF page: not a Binance body
    (200, HTML, BadResponse, None),
    (200, b'{"lastUpdateId":1027024,"bids":[["4.00000000","431.0', BadResponse, None),
], ids=lambda v: str(v)[:30] if not isinstance(v, type) else v.__name__)
def test_error_mapping(rsps, client: BinanceHttp, status, body, expected, code) -> None:
    kwargs = {"json": body} if isinstance(body, dict) else {"body": body}
    rsps.add("POST", f"{BASE}/api/v3/order", status=status, **kwargs)
    with pytest.raises(BinanceError) as info:
        client.request("POST", "/api/v3/order", {"symbol": "BTCUSDT"}, signed=True)
    err = info.value
    assert type(err) is expected
    assert (err.status, err.code, err.method, err.path) == (status, code, "POST", "/api/v3/order")
    if expected is ClockSkew:
        assert isinstance(err, Rejected)


def test_bad_body_message_quotes_only_the_first_bytes(rsps, client: BinanceHttp) -> None:
    rsps.add("GET", f"{BASE}/api/v3/depth", body=HTML, headers={"Server": "secret-header-value"})
    with pytest.raises(BadResponse) as info:
        client.request("GET", "/api/v3/depth")
    assert "502 Bad Gateway" in str(info.value)
    assert "</html>" not in str(info.value)
    assert "secret-header-value" not in str(info.value)


def test_429_blocks_every_request_until_retry_after(rsps, client: BinanceHttp, clock) -> None:
    rsps.add("GET", f"{BASE}/api/v3/depth", status=429, headers={"Retry-After": "30"},
             json={"code": -1003, "msg": "Too much request weight used"})
    with pytest.raises(RateLimited) as info:
        client.request("GET", "/api/v3/depth")
    assert type(info.value) is RateLimited and info.value.retry_after == 30.0
    clock.t += 29
    with pytest.raises(RateLimited) as info:
        client.request("GET", "/api/v3/time")             # any endpoint: the limit is per IP
    assert info.value.retry_after == pytest.approx(1.0)
    assert len(rsps.calls) == 1                           # nothing went to the network
    rsps.replace("GET", f"{BASE}/api/v3/depth", json={"lastUpdateId": 1})
    clock.t += 1.5
    assert client.request("GET", "/api/v3/depth") == {"lastUpdateId": 1}


def test_418_is_an_ip_ban_with_its_own_window(rsps, client: BinanceHttp, clock) -> None:
    rsps.add("GET", f"{BASE}/api/v3/depth", status=418, headers={"retry-after": "120"},
             json={"code": -1003, "msg": "Way too much request weight used; IP banned"})
    with pytest.raises(IpBanned) as info:
        client.request("GET", "/api/v3/depth")
    assert info.value.retry_after == 120.0 and isinstance(info.value, RateLimited)
    clock.t += 100
    with pytest.raises(IpBanned):
        client.request("GET", "/api/v3/depth")
    assert len(rsps.calls) == 1


def test_429_without_retry_after_still_backs_off(rsps, client: BinanceHttp) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/depth", status=429, json={"code": -1003, "msg": "Too many"})
    with pytest.raises(RateLimited) as info:
        client.request("GET", "/dapi/v1/depth")
    assert info.value.retry_after > 0
    with pytest.raises(RateLimited):
        client.request("GET", "/dapi/v1/depth")
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("exc, expected", [
    (requests.exceptions.ConnectTimeout("connect timed out"), Retryable),
    (requests.exceptions.ReadTimeout("read timed out"), UnknownOutcome),
    (requests.exceptions.ConnectionError(
        ProtocolError("Connection aborted.", http.client.RemoteDisconnected("closed"))),
     UnknownOutcome),
], ids=["connect-timeout", "read-timeout", "dropped-after-send"])
def test_transport_failures(rsps, client: BinanceHttp, exc, expected) -> None:
    rsps.add("POST", f"{BASE}/api/v3/order", body=exc)
    with pytest.raises(BinanceError) as info:
        client.request("POST", "/api/v3/order", {"symbol": "BTCUSDT"}, signed=True)
    assert type(info.value) is expected
    assert info.value.status is None


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as s:                             # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    http_client = BinanceHttp(f"http://127.0.0.1:{port}", DOC_KEY, DOC_SECRET, timeout=5.0)
    with pytest.raises(Retryable) as info:
        http_client.request("GET", "/api/v3/account", signed=True)
    assert "signature" not in str(info.value)


# --- nothing secret leaks ----------------------------------------------------------------------

LEAK_CASES = [
    dict(status=400, json={"code": -1022, "msg": "Signature for this request is not valid."}),
    dict(status=429, json={"code": -1003, "msg": "Too many"}, headers={"Retry-After": "1"}),
    dict(status=503, body=b"Service Unavailable."),
    dict(status=200, body=b"<html>oops</html>"),
    dict(body=requests.exceptions.ReadTimeout(f"{BASE}/api/v3/order?signature=abc")),
    dict(body=requests.exceptions.ConnectionError(f"{BASE}/api/v3/order?signature=abc")),
]


@pytest.mark.parametrize("case", LEAK_CASES, ids=lambda c: str(c.get("status", c.get("body"))))
def test_no_error_or_log_line_contains_key_secret_or_signature(rsps, case, caplog) -> None:
    client = BinanceHttp(BASE, DOC_KEY, DOC_SECRET)
    rsps.add("POST", f"{BASE}/api/v3/order", **case)
    caplog.set_level(logging.DEBUG, logger="arbitrage")
    with pytest.raises(BinanceError) as info:
        client.request("POST", "/api/v3/order", {"symbol": "BTCUSDT"}, signed=True)
    err = info.value
    body = rsps.calls[0].request.body
    signature = split_signature(body.decode() if isinstance(body, bytes) else body)[1]
    assert len(signature) == 64
    # the requests exception (whose text holds the full URL) must not ride along as the cause
    assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__)
    for text in (str(err), repr(err), repr(err.args), caplog.text, repr(client)):
        for secret in (DOC_KEY, DOC_SECRET, signature):
            assert secret not in text
