"""CoinmClient: payloads exactly as in binance-reference §3.2, §4.2, §6.1 -> domain types."""
from __future__ import annotations

import time
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

from arbitrage.exchanges.binance_coinm import CoinmClient
from arbitrage.exchanges.errors import BadResponse, Rejected, UnknownSymbol
from arbitrage.exchanges.http import BinanceHttp
from arbitrage.models import COINM

BASE = "https://dapi.test"

# binance-reference §3.2: the official doc example entry (a quarterly), verbatim
QUARTERLY = {
    "filters": [
        {"filterType": "PRICE_FILTER", "maxPrice": "100000", "minPrice": "0.1", "tickSize": "0.1"},
        {"filterType": "LOT_SIZE", "maxQty": "100000", "minQty": "1", "stepSize": "1"},
        {"filterType": "MARKET_LOT_SIZE", "maxQty": "100000", "minQty": "1", "stepSize": "1"},
        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
        {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
         "multiplierDecimal": 4},
    ],
    "OrderType": ["LIMIT", "MARKET", "STOP", "TAKE_PROFIT", "TRAILING_STOP_MARKET"],
    "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    "liquidationFee": "0.010000",
    "marketTakeBound": "0.30",
    "symbol": "BTCUSD_200925", "pair": "BTCUSD",
    "contractType": "CURRENT_QUARTER",
    "deliveryDate": 1601020800000, "onboardDate": 1590739200000,
    "contractStatus": "TRADING",
    "contractSize": 100,
    "quoteAsset": "USD", "baseAsset": "BTC", "marginAsset": "BTC",
    "pricePrecision": 1, "quantityPrecision": 0,
    "baseAssetPrecision": 8, "quotePrecision": 8, "equalQtyPrecision": 4,
    "triggerProtect": "0.0500",
    "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
    "underlyingType": "COIN", "underlyingSubType": [],
}

# binance-reference §3.2 "Captured perpetual entries" (BTCUSD_PERP column) in the same layout
PERP = {
    "filters": [
        {"filterType": "PRICE_FILTER", "maxPrice": "100000", "minPrice": "0.1", "tickSize": "0.1"},
        {"filterType": "LOT_SIZE", "maxQty": "100000", "minQty": "1", "stepSize": "1"},
        {"filterType": "MARKET_LOT_SIZE", "maxQty": "100000", "minQty": "1", "stepSize": "1"},
        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
        {"filterType": "PERCENT_PRICE", "multiplierUp": "1.1500", "multiplierDown": "0.8500",
         "multiplierDecimal": 4},
    ],
    "orderTypes": ["LIMIT", "MARKET", "STOP", "TAKE_PROFIT", "TRAILING_STOP_MARKET"],
    "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    "symbol": "BTCUSD_PERP", "pair": "BTCUSD",
    "contractType": "PERPETUAL",
    "deliveryDate": 4133404800000, "onboardDate": 1596006000000,
    "contractStatus": "TRADING",
    "contractSize": 100,
    "quoteAsset": "USD", "baseAsset": "BTC", "marginAsset": "BTC",
    "pricePrecision": 1, "quantityPrecision": 0,
    "baseAssetPrecision": 8, "quotePrecision": 8, "equalQtyPrecision": 4,
    "triggerProtect": "0.0500",
    "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
    "underlyingType": "COIN", "underlyingSubType": [],
}

EXCHANGE_INFO = {
    "exchangeFilters": [],
    "rateLimits": [
        {"interval": "MINUTE", "intervalNum": 1, "limit": 6000, "rateLimitType": "REQUEST_WEIGHT"},
        {"interval": "MINUTE", "intervalNum": 1, "limit": 6000, "rateLimitType": "ORDERS"},
    ],
    "serverTime": 1565613908500,
    "symbols": [QUARTERLY, PERP],
    "timezone": "UTC",
}

# binance-reference §4.2, verbatim
DEPTH = {"lastUpdateId": 16769853, "symbol": "BTCUSD_PERP", "pair": "BTCUSD",
         "E": 1591250106370, "T": 1591250106368,
         "bids": [["9638.0", "431"]], "asks": [["9638.2", "12"]]}

# binance-reference §6.1, verbatim
PREMIUM_INDEX = [
    {"symbol": "BTCUSD_PERP", "pair": "BTCUSD", "markPrice": "11029.69574559",
     "indexPrice": "10979.14437500", "estimatedSettlePrice": "10981.74168236",
     "lastFundingRate": "0.00071003", "interestRate": "0.00010000",
     "nextFundingTime": 1596096000000, "time": 1596094042000},
    {"symbol": "BTCUSD_200925", "pair": "BTCUSD",
     "markPrice": "12077.01343750", "indexPrice": "10979.10312500",
     "estimatedSettlePrice": "10981.74168236",
     "lastFundingRate": "", "interestRate": "", "nextFundingTime": 0,
     "time": 1596094042000},
]


@pytest.fixture
def rsps():
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def coinm() -> CoinmClient:
    return CoinmClient(BinanceHttp(BASE, "key", "secret"))


def sent_params(rsps, index: int = 0) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(rsps.calls[index].request.url).query))


def test_exchange_info_picks_the_perpetual(rsps, coinm: CoinmClient) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/exchangeInfo", json=EXCHANGE_INFO)
    rules = coinm.exchange_info("BTCUSD_PERP")
    assert sent_params(rsps) == {}                      # dapi exchangeInfo takes no params
    assert (rules.symbol, rules.market, rules.status, rules.trading) == (
        "BTCUSD_PERP", COINM, "TRADING", True)
    assert (rules.base_asset, rules.quote_asset, rules.margin_asset) == ("BTC", "USD", "BTC")
    assert rules.contract_size == Decimal("100") and isinstance(rules.contract_size, Decimal)
    assert str(rules.contract_size) == "100"            # from the JSON number, not a float repr
    assert rules.tick_size == Decimal("0.1") and str(rules.tick_size) == "0.1"
    assert (rules.min_price, rules.max_price) == (Decimal("0.1"), Decimal("100000"))
    assert (rules.step_size, rules.min_qty, rules.max_qty) == (Decimal(1), Decimal(1), Decimal(100000))
    assert rules.market_max_qty == Decimal("100000")
    assert rules.min_notional == Decimal(0)


def test_exchange_info_reads_contract_status_and_fractional_contract_size(rsps, coinm) -> None:
    quarterly = dict(QUARTERLY, contractStatus="PRE_DELIVERING", contractSize=10.5)
    rsps.add("GET", f"{BASE}/dapi/v1/exchangeInfo", json=dict(EXCHANGE_INFO, symbols=[quarterly]))
    rules = coinm.exchange_info("BTCUSD_200925")
    assert rules.status == "PRE_DELIVERING" and not rules.trading
    assert rules.contract_size == Decimal("10.5")


def test_exchange_info_without_the_symbol_raises_unknown_symbol(rsps, coinm) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/exchangeInfo", json=EXCHANGE_INFO)
    with pytest.raises(UnknownSymbol) as info:
        coinm.exchange_info("ETHUSD_PERP")
    assert isinstance(info.value, Rejected)


def test_exchange_info_of_the_wrong_shape_is_a_bad_response(rsps, coinm) -> None:
    broken = {k: v for k, v in PERP.items() if k != "contractSize"}
    rsps.add("GET", f"{BASE}/dapi/v1/exchangeInfo", json=dict(EXCHANGE_INFO, symbols=[broken]))
    with pytest.raises(BadResponse) as info:
        coinm.exchange_info("BTCUSD_PERP")
    assert "contractSize" in str(info.value)


def test_depth_reference_payload(rsps, coinm: CoinmClient) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/depth", json=DEPTH)
    before = time.time_ns()
    snap = coinm.depth("BTCUSD_PERP", limit=1000)
    after = time.time_ns()
    assert sent_params(rsps) == {"symbol": "BTCUSD_PERP", "limit": "1000"}
    assert (snap.symbol, snap.last_update_id, snap.event_ms) == ("BTCUSD_PERP", 16769853, 1591250106370)
    assert snap.bids == [(9638.0, 431.0)] and snap.asks == [(9638.2, 12.0)]
    assert before <= snap.recv_ns <= after


def test_depth_without_event_time_is_a_bad_response(rsps, coinm: CoinmClient) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/depth", json={k: v for k, v in DEPTH.items() if k != "E"})
    with pytest.raises(BadResponse):
        coinm.depth("BTCUSD_PERP")


def test_premium_index_list_perpetual_row(rsps, coinm: CoinmClient) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/premiumIndex", json=PREMIUM_INDEX)
    before = time.time_ns()
    mark = coinm.premium_index("BTCUSD_PERP")
    assert sent_params(rsps) == {"symbol": "BTCUSD_PERP"}
    assert mark.symbol == "BTCUSD_PERP"
    assert mark.mark == 11029.69574559 and mark.index == 10979.144375
    assert mark.funding_rate == 0.00071003
    assert (mark.next_funding_ms, mark.event_ms) == (1596096000000, 1596094042000)
    assert mark.recv_ns >= before


def test_premium_index_delivery_row_has_no_funding(rsps, coinm: CoinmClient) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/premiumIndex", json=PREMIUM_INDEX)
    mark = coinm.premium_index("BTCUSD_200925")
    assert mark.mark == 12077.0134375
    assert mark.funding_rate is None and mark.next_funding_ms == 0


def test_premium_index_unknown_symbol(rsps, coinm: CoinmClient) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/premiumIndex", json=[])
    rsps.add("GET", f"{BASE}/dapi/v1/premiumIndex", status=400,
             json={"code": -1121, "msg": "Invalid symbol."})
    with pytest.raises(UnknownSymbol):
        coinm.premium_index("XYZUSD_PERP")              # empty list
    with pytest.raises(UnknownSymbol) as info:
        coinm.premium_index("XYZUSD_PERP")              # the exchange's own -1121
    assert info.value.code == -1121


def test_premium_index_as_an_object_is_a_bad_response(rsps, coinm: CoinmClient) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/premiumIndex", json=PREMIUM_INDEX[0])
    with pytest.raises(BadResponse):
        coinm.premium_index("BTCUSD_PERP")


def test_server_time_and_ping(rsps, coinm: CoinmClient) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/time", json={"serverTime": 1499827319559})
    rsps.add("GET", f"{BASE}/dapi/v1/ping", json={})
    assert coinm.server_time() == 1499827319559
    coinm.ping()
    assert [urlsplit(c.request.url).path for c in rsps.calls] == ["/dapi/v1/time", "/dapi/v1/ping"]


def test_stream_names_and_the_reference_combined_url() -> None:
    streams = [CoinmClient.depth_stream("BTCUSD_PERP"), CoinmClient.mark_stream("BTCUSD_PERP")]
    assert streams == ["btcusd_perp@depth@100ms", "btcusd_perp@markPrice@1s"]
    assert CoinmClient.stream_url("wss://dstream.binance.com", streams) == (
        "wss://dstream.binance.com/stream?streams=btcusd_perp@depth@100ms/btcusd_perp@markPrice@1s")


# --- the ranking's market-wide reads --------------------------------------------------------

def test_perpetual_rules_lists_every_perpetual_and_skips_quarterlies(rsps, coinm) -> None:
    halted = dict(PERP, symbol="ETHUSD_PERP", pair="ETHUSD", contractStatus="PENDING_TRADING",
                  baseAsset="ETH", marginAsset="ETH", contractSize=10)
    rsps.add("GET", f"{BASE}/dapi/v1/exchangeInfo",
             json=dict(EXCHANGE_INFO, symbols=[QUARTERLY, PERP, halted]))
    rules = coinm.perpetual_rules()
    assert [(r.symbol, r.status, r.contract_size) for r in rules] == [
        ("BTCUSD_PERP", "TRADING", Decimal("100")), ("ETHUSD_PERP", "PENDING_TRADING", Decimal("10"))]


def test_premium_index_all_reads_every_row(rsps, coinm) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/premiumIndex", json=PREMIUM_INDEX)
    rows = coinm.premium_index_all()
    assert sent_params(rsps) == {}
    assert [(r.symbol, r.funding_rate, r.next_funding_ms) for r in rows] == [
        ("BTCUSD_PERP", 0.00071003, 1596096000000), ("BTCUSD_200925", None, 0)]


# binance-reference §6.3 (CM-DUMP example rows), plus the markPrice field current responses carry
FUNDING_RATE = [
    {"symbol": "BTCUSD_PERP", "fundingTime": 1596038400000, "fundingRate": "-0.00300000"},
    {"symbol": "BTCUSD_PERP", "fundingTime": 1596067200000, "fundingRate": "-0.00300000",
     "markPrice": "11012.80409769"},
]


def test_funding_history_rows_and_params(rsps, coinm) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/fundingRate", json=FUNDING_RATE)
    rows = coinm.funding_history("BTCUSD_PERP", start_ms=1596000000000)
    assert sent_params(rsps) == {"symbol": "BTCUSD_PERP", "startTime": "1596000000000", "limit": "1000"}
    assert [(r.time_ms, r.rate, r.mark) for r in rows] == [
        (1596038400000, Decimal("-0.003"), None),
        (1596067200000, Decimal("-0.003"), Decimal("11012.80409769"))]
    assert str(rows[0].rate) == "-0.00300000"           # exact, from the string


def test_funding_history_unknown_symbol(rsps, coinm) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/fundingRate", status=400,
             json={"code": -1121, "msg": "Invalid symbol."})
    with pytest.raises(UnknownSymbol):
        coinm.funding_history("NOPE_PERP")
