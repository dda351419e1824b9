"""SIGNED requests on the local exchange: key, HMAC over the raw query + body, timestamp window."""
from __future__ import annotations

import time

import pytest
import requests

from arbitrage.exchanges.http import sign
from arbitrage.sim.auth import ApiKeys, signed_payload
from arbitrage.sim.rest import Request
from tests.test_sim_trading_client import Client, frozen_exchange

ACCOUNT = "/api/v3/account"


@pytest.fixture(scope="module")
def ex():
    with frozen_exchange() as exchange:
        yield exchange


@pytest.fixture
def client(ex):
    return Client(ex)


def test_the_payload_is_the_raw_query_then_the_raw_body_without_the_signature():
    """Binance's mixed test vector (reference §2.3): query + body joined with no '&'."""
    req = Request("POST", "/api/v3/order", {}, "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
                  b"quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&signature=abc",
                  {}, "127.0.0.1")
    payload = signed_payload(req)
    assert payload == ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTCquantity=1&price=0.1"
                       "&recvWindow=5000&timestamp=1499827319559")
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    assert sign(secret, payload) == "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"


def test_demo_keys_are_fixed_per_seed_and_served_by_sim_info(ex):
    assert ApiKeys.demo(11) == ApiKeys.demo(11) != ApiKeys.demo(12)
    assert ex.api_key.startswith("simDEMOkey") and len(ex.api_key) == 64
    assert ex.api_secret.startswith("simDEMOsecret") and len(ex.api_secret) == 64
    info = requests.get(ex.rest_url + "/sim/info", timeout=10).json()
    assert info["api_key"] == ex.api_key and info["api_secret"] == ex.api_secret


def test_a_good_request_passes_in_query_or_in_body_and_the_hex_case_does_not_matter(ex, client):
    assert client.send("GET", ACCOUNT).status_code == 200
    assert client.send("POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT",
                                                 "timeInForce": "GTC", "quantity": "0.001",
                                                 "price": "90000"}).status_code == 200
    payload = f"timestamp={int(time.time() * 1000)}"
    sig = sign(ex.api_secret, payload).upper()
    resp = requests.get(f"{ex.rest_url}{ACCOUNT}?{payload}&signature={sig}",
                        headers={"X-MBX-APIKEY": ex.api_key}, timeout=10)
    assert resp.status_code == 200, resp.text


def test_mixed_query_and_body_is_signed_as_query_then_body(ex):
    query = "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC"
    body = f"quantity=0.001&price=91000&timestamp={int(time.time() * 1000)}"
    sig = sign(ex.api_secret, query + body)
    headers = {"X-MBX-APIKEY": ex.api_key, "Content-Type": "application/x-www-form-urlencoded"}
    good = requests.post(f"{ex.rest_url}/api/v3/order?{query}", data=f"{body}&signature={sig}",
                         headers=headers, timeout=10)
    assert good.status_code == 200, good.text
    wrong = sign(ex.api_secret, query + "&" + body)   # an '&' at the join is not what Binance signs
    bad = requests.post(f"{ex.rest_url}/api/v3/order?{query}", data=f"{body}&signature={wrong}",
                        headers=headers, timeout=10)
    assert bad.status_code == 400 and bad.json()["code"] == -1022


def test_bad_signature_is_1022(ex, client):
    resp = client.send("GET", ACCOUNT, signature="0" * 64)
    assert resp.status_code == 400
    assert resp.json() == {"code": -1022, "msg": "Signature for this request is not valid."}
    wrong_secret = Client(ex, secret="x" * 64)
    assert wrong_secret.send("GET", "/dapi/v1/account").json()["code"] == -1022


@pytest.mark.parametrize("key, code, msg", [
    ("", -2014, "API-key format invalid."),
    ("not a key", -2014, "API-key format invalid."),
    ("A" * 64, -2015, "Invalid API-key, IP, or permissions for action."),
])
def test_missing_or_wrong_key_is_401(ex, key, code, msg):
    resp = Client(ex, key=key).send("GET", "/dapi/v1/positionRisk")
    assert resp.status_code == 401
    assert resp.json() == {"code": code, "msg": msg}


def test_timestamp_rules(ex, client):
    behind = client.send("GET", ACCOUNT, ts_offset_ms=-6000)
    assert behind.status_code == 400
    assert behind.json() == {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
    assert client.send("GET", ACCOUNT, ts_offset_ms=-6000, recv_window=10000).status_code == 200
    ahead = client.send("GET", "/dapi/v1/account", ts_offset_ms=5000)
    assert ahead.json() == {"code": -1021,
                            "msg": "Timestamp for this request was 1000ms ahead of the server's time."}
    assert client.send("GET", ACCOUNT, recv_window=60001).json()["code"] == -1131
    assert client.send("GET", ACCOUNT, recv_window="6000.5").status_code == 200   # spot: 3 decimals ok


def test_missing_timestamp_is_1102(ex):
    resp = requests.get(f"{ex.rest_url}{ACCOUNT}?signature=abc", headers={"X-MBX-APIKEY": ex.api_key},
                        timeout=10)
    assert resp.status_code == 400 and resp.json()["code"] == -1102
    assert "timestamp" in resp.json()["msg"]


def test_refused_order_posts_are_counted_and_change_nothing(ex):
    before = ex.orders_received("spot")
    orders_before = len(ex.trading.spot.orders)
    resp = Client(ex).send("POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                     "quantity": "0.001"}, signature="f" * 64)
    assert resp.json()["code"] == -1022
    assert ex.orders_received("spot") == before + 1
    assert len(ex.trading.spot.orders) == orders_before


def test_the_standalone_exchange_prints_its_demo_keys():
    import subprocess
    import sys
    from tests.conftest import REPO
    proc = subprocess.Popen([sys.executable, "-m", "arbitrage.sim", "--seed", "23", "--speed", "0.01"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        lines = {}
        while "SECRET" not in lines:
            line = proc.stdout.readline()
            assert line, "the exchange exited before printing its keys"
            name, _, value = line.strip().partition(" ")
            lines[name] = value.strip()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    keys = ApiKeys.demo(23)
    assert lines["KEY"] == keys.api_key and lines["SECRET"] == keys.api_secret
