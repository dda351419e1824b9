"""The local exchange's REST side, over real loopback HTTP, against the reference's shapes."""
from __future__ import annotations

import http.client
import json
import re
from urllib.parse import urlsplit

import pytest
import requests

from arbitrage.sim import LocalExchange
from arbitrage.sim.rest import WeightMeter

SPOT_PRICE = re.compile(r"^\d+\.\d{8}$")
CM_BTC_PRICE = re.compile(r"^\d+\.\d$")
INT_STR = re.compile(r"^\d+$")

SPOT_SYMBOL_KEYS = {
    "symbol", "status", "baseAsset", "baseAssetPrecision", "quoteAsset", "quotePrecision",
    "quoteAssetPrecision", "baseCommissionPrecision", "quoteCommissionPrecision", "orderTypes",
    "icebergAllowed", "ocoAllowed", "otoAllowed", "opoAllowed", "quoteOrderQtyMarketAllowed",
    "allowTrailingStop", "cancelReplaceAllowed", "amendAllowed", "pegInstructionsAllowed",
    "isSpotTradingAllowed", "isMarginTradingAllowed", "filters", "permissions", "permissionSets",
    "defaultSelfTradePreventionMode", "allowedSelfTradePreventionModes"}
CM_SYMBOL_KEYS = {
    "symbol", "pair", "contractType", "deliveryDate", "onboardDate", "contractStatus", "contractSize",
    "marginAsset", "maintMarginPercent", "requiredMarginPercent", "baseAsset", "quoteAsset",
    "pricePrecision", "quantityPrecision", "baseAssetPrecision", "quotePrecision", "equalQtyPrecision",
    "triggerProtect", "underlyingType", "underlyingSubType", "filters", "orderTypes", "timeInForce",
    "liquidationFee", "marketTakeBound"}
PREMIUM_KEYS = {"symbol", "pair", "markPrice", "indexPrice", "estimatedSettlePrice", "lastFundingRate",
                "interestRate", "nextFundingTime", "time"}


@pytest.fixture(scope="module")
def ex():
    with LocalExchange(seed=3) as exchange:
        yield exchange


@pytest.fixture
def get(ex):
    with requests.Session() as session:
        yield lambda path, **params: session.get(ex.rest_url + path, params=params, timeout=20)


def used(resp: requests.Response) -> int:
    return int(resp.headers["X-MBX-USED-WEIGHT-1M"])


def assert_error(resp: requests.Response, status: int, code: int, msg: str | None = None) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"code", "msg"} and body["code"] == code
    if msg is not None:
        assert body["msg"] == msg
    assert "X-MBX-USED-WEIGHT-1M" in resp.headers


@pytest.mark.parametrize("prefix", ["/api/v3", "/dapi/v1"])
def test_ping_and_time(get, prefix):
    assert get(prefix + "/ping").json() == {}
    body = get(prefix + "/time").json()
    assert list(body) == ["serverTime"] and isinstance(body["serverTime"], int)


def test_spot_exchange_info_shape_and_filters(get):
    body = get("/api/v3/exchangeInfo").json()
    assert {"timezone", "serverTime", "rateLimits", "exchangeFilters", "symbols"} <= set(body)
    assert [s["symbol"] for s in body["symbols"]] == ["BTCUSDT", "ETHUSDT"]
    btc = body["symbols"][0]
    assert set(btc) == SPOT_SYMBOL_KEYS
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"] == {"filterType": "LOT_SIZE", "minQty": "0.00001000",
                                   "maxQty": "9000.00000000", "stepSize": "0.00001000"}
    assert filters["NOTIONAL"]["minNotional"] == "5.00000000" and filters["NOTIONAL"]["avgPriceMins"] == 5
    assert filters["MAX_NUM_ORDERS"]["maxNumOrders"] == 200
    assert body["rateLimits"][0] == {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE",
                                     "intervalNum": 1, "limit": 6000}
    eth = {f["filterType"]: f for f in body["symbols"][1]["filters"]}
    assert eth["LOT_SIZE"]["stepSize"] == "0.00010000"


def test_spot_exchange_info_symbol_params(get):
    assert [s["symbol"] for s in get("/api/v3/exchangeInfo", symbol="ETHUSDT").json()["symbols"]] == ["ETHUSDT"]
    both = get("/api/v3/exchangeInfo", symbols='["ETHUSDT","BTCUSDT"]').json()["symbols"]
    assert [s["symbol"] for s in both] == ["ETHUSDT", "BTCUSDT"]
    assert_error(get("/api/v3/exchangeInfo", symbol="BTCUSD_PERP"), 400, -1121, "Invalid symbol.")
    assert_error(get("/api/v3/exchangeInfo", symbols='["BTCUSDT","NOPE"]'), 400, -1121, "Invalid symbol.")
    assert_error(get("/api/v3/exchangeInfo", symbols="BTCUSDT"), 400, -1100)


def test_coinm_exchange_info_lists_every_perp(get):
    body = get("/dapi/v1/exchangeInfo").json()
    by_name = {s["symbol"]: s for s in body["symbols"]}
    assert list(by_name) == ["BTCUSD_PERP", "ETHUSD_PERP"]
    btc, eth = by_name["BTCUSD_PERP"], by_name["ETHUSD_PERP"]
    assert set(btc) == CM_SYMBOL_KEYS and "OrderType" not in btc
    assert btc["contractSize"] == 100 and eth["contractSize"] == 10   # numbers, not strings
    assert btc["contractType"] == "PERPETUAL" and btc["contractStatus"] == "TRADING"
    assert btc["deliveryDate"] == 4133404800000 and btc["marginAsset"] == "BTC"
    f = {x["filterType"]: x for x in btc["filters"]}
    assert f["PRICE_FILTER"] == {"filterType": "PRICE_FILTER", "minPrice": "0.1", "maxPrice": "100000",
                                 "tickSize": "0.1"}
    assert f["LOT_SIZE"] == {"filterType": "LOT_SIZE", "minQty": "1", "maxQty": "100000", "stepSize": "1"}
    assert f["PERCENT_PRICE"]["multiplierDecimal"] == "4" and f["MAX_NUM_ORDERS"]["limit"] == 200
    eth_f = {x["filterType"]: x for x in eth["filters"]}
    assert eth_f["PRICE_FILTER"]["tickSize"] == "0.01" and eth_f["MAX_NUM_ALGO_ORDERS"]["limit"] == 20
    assert "GTX" in btc["timeInForce"] and "MARKET" in btc["orderTypes"]


def test_spot_depth_shape_limits_and_weights(get):
    r5 = get("/api/v3/depth", symbol="BTCUSDT", limit=5)
    body = r5.json()
    assert list(body) == ["lastUpdateId", "bids", "asks"] and isinstance(body["lastUpdateId"], int)
    assert len(body["bids"]) == 5 and len(body["asks"]) == 5
    for price, qty in body["bids"] + body["asks"]:
        assert SPOT_PRICE.match(price) and SPOT_PRICE.match(qty)
    bids = [float(p) for p, _ in body["bids"]]
    asks = [float(p) for p, _ in body["asks"]]
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0] < asks[0]
    default = get("/api/v3/depth", symbol="BTCUSDT")
    assert used(default) - used(r5) == 5                 # default limit 100 weighs 5
    r500 = get("/api/v3/depth", symbol="BTCUSDT", limit=500)
    assert used(r500) - used(default) == 25
    r_max = get("/api/v3/depth", symbol="ETHUSDT", limit=9999)  # over 5000: served as 5000
    assert r_max.status_code == 200 and used(r_max) - used(r500) == 250
    assert_error(get("/api/v3/depth"), 400, -1102,
                 "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
    assert_error(get("/api/v3/depth", symbol=""), 400, -1102)
    assert_error(get("/api/v3/depth", symbol="BTCUSD_PERP"), 400, -1121, "Invalid symbol.")
    assert_error(get("/api/v3/depth", symbol="BTCUSDT", limit="x"), 400, -1100)
    assert get("/api/v3/depth", symbol="BTCUSDT", limit=2**31 - 1).status_code == 200
    assert_error(get("/api/v3/depth", symbol="BTCUSDT", limit=2**31), 400, -1130,   # not an INT
                 "Data sent for parameter 'limit' is not valid.")


def test_coinm_depth_shape_limits_and_weights(get):
    r5 = get("/dapi/v1/depth", symbol="BTCUSD_PERP", limit=5)
    body = r5.json()
    assert list(body) == ["lastUpdateId", "symbol", "pair", "E", "T", "bids", "asks"]
    assert body["symbol"] == "BTCUSD_PERP" and body["pair"] == "BTCUSD"
    assert all(isinstance(body[k], int) for k in ("lastUpdateId", "E", "T"))
    assert len(body["bids"]) == 5
    for price, qty in body["bids"] + body["asks"]:
        assert CM_BTC_PRICE.match(price) and INT_STR.match(qty)
    default = get("/dapi/v1/depth", symbol="BTCUSD_PERP")
    assert used(default) - used(r5) == 10                 # default 500 weighs 10
    r1000 = get("/dapi/v1/depth", symbol="ETHUSD_PERP", limit=1000)
    assert used(r1000) - used(default) == 20
    assert re.match(r"^\d+\.\d{2}$", r1000.json()["bids"][0][0])
    for bad in ("7", "5000", "abc"):
        assert_error(get("/dapi/v1/depth", symbol="BTCUSD_PERP", limit=bad), 400, -4021)
    assert_error(get("/dapi/v1/depth"), 400, -1102)
    assert_error(get("/dapi/v1/depth", symbol="BTCUSDT"), 400, -1121, "Invalid symbol.")


def test_premium_index_is_always_a_list(get):
    every = get("/dapi/v1/premiumIndex")
    rows = every.json()
    assert [r["symbol"] for r in rows] == ["BTCUSD_PERP", "ETHUSD_PERP"]
    for row in rows:
        assert set(row) == PREMIUM_KEYS
        assert re.match(r"^\d+\.\d{8}$", row["markPrice"]) and re.match(r"^-?\d\.\d{8}$", row["lastFundingRate"])
        assert isinstance(row["nextFundingTime"], int) and row["nextFundingTime"] % (8 * 3600 * 1000) == 0
        assert isinstance(row["time"], int)
    one = get("/dapi/v1/premiumIndex", symbol="ETHUSD_PERP")
    assert isinstance(one.json(), list) and [r["symbol"] for r in one.json()] == ["ETHUSD_PERP"]
    assert used(one) - used(every) == 10
    assert [r["pair"] for r in get("/dapi/v1/premiumIndex", pair="BTCUSD").json()] == ["BTCUSD"]
    assert_error(get("/dapi/v1/premiumIndex", symbol="BTCUSDT"), 400, -1121)


def test_sim_info_points_at_both_servers(ex, get):
    info = get("/sim/info").json()
    assert info == {"rest": ex.rest_url, "ws": ex.ws_url, "ws_api": ex.ws_url + "/ws-api/v3",
                    "ws_dapi": ex.ws_url + "/ws-dapi/v1", "source": "synthetic",
                    "symbols": ["BTCUSDT", "ETHUSDT", "BTCUSD_PERP", "ETHUSD_PERP"],
                    "api_key": ex.api_key, "api_secret": ex.api_secret}
    assert info["ws"].startswith("ws://127.0.0.1:")


def test_unknown_path_is_a_json_404(get):
    resp = get("/api/v3/nothing")
    assert resp.status_code == 404 and "code" in resp.json()


def test_keep_alive_and_content_length(ex):
    parts = urlsplit(ex.rest_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    try:
        first_sock = None
        for path in ("/api/v3/time", "/dapi/v1/depth?symbol=BTCUSD_PERP&limit=5", "/api/v3/ping"):
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200 and resp.version == 11
            assert int(resp.headers["Content-Length"]) == len(body)
            assert resp.headers["Content-Type"].startswith("application/json")
            json.loads(body)
            first_sock = first_sock or conn.sock
            assert conn.sock is first_sock      # the same connection served every request
    finally:
        conn.close()


def test_weight_limit_gives_429_with_retry_after():
    with LocalExchange(seed=1, symbols=["BTCUSDT"], weight_limit=30) as ex:
        first = requests.get(ex.rest_url + "/api/v3/exchangeInfo", timeout=20)
        assert first.status_code == 200 and used(first) == 20
        over = requests.get(ex.rest_url + "/api/v3/exchangeInfo", timeout=20)
        assert_error(over, 429, -1003)
        assert "request weight" in over.json()["msg"]
        assert 1 <= int(over.headers["Retry-After"]) <= 60
        light = requests.get(ex.rest_url + "/api/v3/time", timeout=20)   # 21 <= 30: allowed
        assert light.status_code == 200 and used(light) == 21


def test_weight_meter_rolls_over_one_minute():
    meter = WeightMeter(limit=100)
    assert meter.charge("a", 60, now=0.0) == (60, None)
    assert meter.charge("a", 30, now=10.0) == (90, None)
    assert meter.charge("b", 100, now=10.0) == (100, None)          # per IP
    used_now, retry = meter.charge("a", 20, now=30.0)
    assert used_now == 90 and retry == 30                            # the 60 expires at t=60
    assert meter.charge("a", 20, now=60.5) == (50, None)
