"""SpotClient: payloads exactly as in binance-reference §2.2, §3.1, §4.1 -> domain types."""
from __future__ import annotations

import copy
import time
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

from arbitrage.exchanges.binance_spot import SpotClient
from arbitrage.exchanges.errors import BadResponse, Rejected, UnknownSymbol
from arbitrage.exchanges.http import BinanceHttp
from arbitrage.models import SPOT

BASE = "https://api.test"

# binance-reference §3.1, captured BTCUSDT entry, verbatim.
BTCUSDT = {
    "symbol": "BTCUSDT", "status": "TRADING",
    "baseAsset": "BTC", "baseAssetPrecision": 8, "quoteAsset": "USDT", "quotePrecision": 8,
    "quoteAssetPrecision": 8, "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
    "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
    "icebergAllowed": True, "ocoAllowed": True, "quoteOrderQtyMarketAllowed": True,
    "allowTrailingStop": True, "cancelReplaceAllowed": True,
    "isSpotTradingAllowed": True, "isMarginTradingAllowed": True,
    "filters": [
        {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000",
         "tickSize": "0.01000000"},
        {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000",
         "stepSize": "0.00001000"},
        {"filterType": "ICEBERG_PARTS", "limit": 10},
        {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "128.52621715",
         "stepSize": "0.00000000"},
        {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
         "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
        {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "5", "bidMultiplierDown": "0.2",
         "askMultiplierUp": "5", "askMultiplierDown": "0.2", "avgPriceMins": 5},
        {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
         "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
        {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
    ],
    "permissions": [], "permissionSets": [["SPOT", "MARGIN"]],
    "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
    "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
}


def exchange_info(*symbols: dict) -> dict:
    return {"timezone": "UTC", "serverTime": 1565246363776,
            "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE",
                            "intervalNum": 1, "limit": 6000}],
            "exchangeFilters": [], "symbols": list(symbols)}


@pytest.fixture
def rsps():
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def spot() -> SpotClient:
    return SpotClient(BinanceHttp(BASE, "key", "secret"))


def sent_params(rsps, index: int = 0) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(rsps.calls[index].request.url).query))


def test_exchange_info_parses_the_btcusdt_filters(rsps, spot: SpotClient) -> None:
    rsps.add("GET", f"{BASE}/api/v3/exchangeInfo", json=exchange_info(BTCUSDT))
    rules = spot.exchange_info("BTCUSDT")
    assert sent_params(rsps) == {"symbol": "BTCUSDT"}
    assert "X-MBX-APIKEY" not in rsps.calls[0].request.headers
    assert (rules.symbol, rules.market, rules.status, rules.trading) == ("BTCUSDT", SPOT, "TRADING", True)
    assert (rules.base_asset, rules.quote_asset) == ("BTC", "USDT")
    assert rules.tick_size == Decimal("0.01") and isinstance(rules.tick_size, Decimal)
    assert (rules.min_price, rules.max_price) == (Decimal("0.01"), Decimal("1000000"))
    assert (rules.step_size, rules.min_qty, rules.max_qty) == (
        Decimal("0.00001"), Decimal("0.00001"), Decimal("9000"))
    assert rules.market_max_qty == Decimal("128.52621715")
    assert rules.min_notional == Decimal("5")
    assert rules.contract_size is None and rules.margin_asset is None


def test_exchange_info_reads_the_legacy_min_notional_filter(rsps, spot: SpotClient) -> None:
    entry = copy.deepcopy(BTCUSDT)
    entry["status"] = "HALT"
    entry["filters"] = [f for f in entry["filters"]
                        if f["filterType"] not in ("NOTIONAL", "MARKET_LOT_SIZE")]
    entry["filters"].append({"filterType": "MIN_NOTIONAL", "minNotional": "10.00000000",
                             "applyToMarket": True, "avgPriceMins": 5})
    rsps.add("GET", f"{BASE}/api/v3/exchangeInfo", json=exchange_info(entry))
    rules = spot.exchange_info("BTCUSDT")
    assert rules.min_notional == Decimal("10")
    assert rules.market_max_qty == Decimal(0)
    assert not rules.trading


def test_unknown_symbol_is_typed(rsps, spot: SpotClient) -> None:
    rsps.add("GET", f"{BASE}/api/v3/exchangeInfo", status=400,
             json={"code": -1121, "msg": "Invalid symbol."})
    with pytest.raises(UnknownSymbol) as info:
        spot.exchange_info("NOPE")
    assert isinstance(info.value, Rejected)
    assert (info.value.code, info.value.status, info.value.msg) == (-1121, 400, "Invalid symbol.")


def test_other_rejections_pass_through_untouched(rsps, spot: SpotClient) -> None:
    rsps.add("GET", f"{BASE}/api/v3/exchangeInfo", status=400,
             json={"code": -1100, "msg": "Illegal characters found in parameter 'symbol'."})
    with pytest.raises(Rejected) as info:
        spot.exchange_info("BTC USDT")
    assert type(info.value) is Rejected and info.value.code == -1100


def test_exchange_info_of_the_wrong_shape_is_a_bad_response(rsps, spot: SpotClient) -> None:
    rsps.add("GET", f"{BASE}/api/v3/exchangeInfo",
             json=exchange_info({"symbol": "BTCUSDT", "status": "TRADING"}))
    with pytest.raises(BadResponse) as info:
        spot.exchange_info("BTCUSDT")
    assert "BTCUSDT" in str(info.value)            # quotes the first bytes of the payload


def test_depth_reference_payload(rsps, spot: SpotClient) -> None:
    rsps.add("GET", f"{BASE}/api/v3/depth",
             json={"lastUpdateId": 1027024, "bids": [["4.00000000", "431.00000000"]],
                   "asks": [["4.00000200", "12.00000000"]]})
    before = time.time_ns()
    snap = spot.depth("BTCUSDT", limit=5000)
    after = time.time_ns()
    assert sent_params(rsps) == {"symbol": "BTCUSDT", "limit": "5000"}
    assert snap.symbol == "BTCUSDT" and snap.last_update_id == 1027024
    assert snap.bids == [(4.0, 431.0)] and snap.asks == [(4.000002, 12.0)]
    assert isinstance(snap.bids[0][0], float)
    assert snap.event_ms is None
    assert before <= snap.recv_ns <= after


def test_depth_levels_come_back_best_first(rsps, spot: SpotClient) -> None:
    rsps.add("GET", f"{BASE}/api/v3/depth", json={
        "lastUpdateId": 7,
        "bids": [["100.01", "1"], ["100.03", "2"], ["100.02", "3"]],
        "asks": [["100.06", "1"], ["100.04", "2"], ["100.05", "0.5"]]})
    snap = spot.depth("BTCUSDT")
    assert [p for p, _ in snap.bids] == [100.03, 100.02, 100.01]
    assert [p for p, _ in snap.asks] == [100.04, 100.05, 100.06]


def test_depth_with_a_bad_level_is_a_bad_response(rsps, spot: SpotClient) -> None:
    rsps.add("GET", f"{BASE}/api/v3/depth",
             json={"lastUpdateId": 1, "bids": [["abc", "1"]], "asks": []})
    with pytest.raises(BadResponse):
        spot.depth("BTCUSDT")


def test_server_time_and_ping(rsps, spot: SpotClient) -> None:
    rsps.add("GET", f"{BASE}/api/v3/time", json={"serverTime": 1499827319559})
    rsps.add("GET", f"{BASE}/api/v3/ping", json={})
    assert spot.server_time() == 1499827319559
    assert spot.ping() is None
    assert [urlsplit(c.request.url).path for c in rsps.calls] == ["/api/v3/time", "/api/v3/ping"]


def test_stream_names_and_combined_url() -> None:
    assert SpotClient.depth_stream("BTCUSDT") == "btcusdt@depth@100ms"
    url = SpotClient.stream_url("wss://stream.binance.com:9443/", ["btcusdt@depth@100ms",
                                                                   "btcusdt@bookTicker"])
    assert url == "wss://stream.binance.com:9443/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker"


def test_all_rules_reads_every_symbol_with_its_status(rsps, spot: SpotClient) -> None:
    rsps.add("GET", f"{BASE}/api/v3/exchangeInfo",
             json=exchange_info(BTCUSDT, dict(BTCUSDT, symbol="ETHUSDT", baseAsset="ETH", status="BREAK")))
    rules = spot.all_rules()
    assert sent_params(rsps) == {}
    assert [(r.symbol, r.base_asset, r.status) for r in rules] == [
        ("BTCUSDT", "BTC", "TRADING"), ("ETHUSDT", "ETH", "BREAK")]
    assert rules[0].tick_size == Decimal("0.01")
