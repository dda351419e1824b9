"""CoinmClient trading endpoints: payloads exactly as in binance-reference §7.5, §7.6, §8.2, §8.3,
§8.4, §9.1, §9.2 -> domain types; what `new_order` puts on the wire; error mapping."""
from __future__ import annotations

import copy
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from arbitrage.exchanges.binance_coinm import CoinmClient
from arbitrage.exchanges.errors import (
    BadResponse, CancelRejected, OrderNotFound, Rejected, UnknownOutcome,
)
from arbitrage.exchanges.http import BinanceHttp, sign
from arbitrage.models import BUY, COINM, SELL, SPOT, OrderRequest

BASE = "https://dapi.test"
SECRET = "secret"
NOW_S = 1_700_000_000.123

# binance-reference §7.5 POST /dapi/v1/order, verbatim
NEW = {
    "clientOrderId": "testOrder",
    "cumQty": "0",
    "cumBase": "0",
    "executedQty": "0",
    "orderId": 22542179,
    "avgPrice": "0.0",
    "origQty": "10",
    "price": "0",
    "reduceOnly": False,
    "side": "BUY",
    "positionSide": "SHORT",
    "status": "NEW",
    "stopPrice": "9300",
    "closePosition": False,
    "symbol": "BTCUSD_200925",
    "pair": "BTCUSD",
    "timeInForce": "GTC",
    "type": "TRAILING_STOP_MARKET",
    "origType": "TRAILING_STOP_MARKET",
    "activatePrice": "9020",
    "priceRate": "0.3",
    "updateTime": 1566818724722,
    "workingType": "CONTRACT_PRICE",
    "priceProtect": False,
    "priceMatch": "NONE",
    "selfTradePreventionMode": "NONE",
}

# binance-reference §7.6 GET /dapi/v1/order, verbatim (no cumQty)
QUERY = {"avgPrice": "0.0", "clientOrderId": "abc", "cumBase": "0", "executedQty": "0",
         "orderId": 1917641, "origQty": "0.40",
         "origType": "TRAILING_STOP_MARKET", "price": "0", "reduceOnly": False, "side": "BUY",
         "positionSide": "SHORT",
         "status": "NEW", "stopPrice": "9300", "closePosition": False, "symbol": "BTCUSD_200925",
         "pair": "BTCUSD",
         "time": 1579276756075, "timeInForce": "GTC", "type": "TRAILING_STOP_MARKET",
         "activatePrice": "9020", "priceRate": "0.3",
         "updateTime": 1579276756075, "workingType": "CONTRACT_PRICE", "priceProtect": False,
         "priceMatch": "NONE",
         "selfTradePreventionMode": "NONE"}

# binance-reference §8.2, verbatim
USER_TRADES = [{
    "symbol": "BTCUSD_200626", "id": 6, "orderId": 28, "pair": "BTCUSD",
    "side": "SELL", "price": "8800", "qty": "1",
    "realizedPnl": "0", "marginAsset": "BTC",
    "baseQty": "0.01136364",
    "commission": "0.00000454", "commissionAsset": "BTC",
    "time": 1590743483586, "positionSide": "BOTH",
    "buyer": False, "maker": False
}]

# binance-reference §8.3, verbatim
INCOME = [
    {"symbol": "", "incomeType": "TRANSFER", "income": "-0.37500000", "asset": "BTC",
     "info": "WITHDRAW",
     "time": 1570608000000, "tranId": "9689322392", "tradeId": ""},
    {"symbol": "BTCUSD_200925", "incomeType": "COMMISSION", "income": "-0.01000000",
     "asset": "BTC", "info": "",
     "time": 1570636800000, "tranId": "9689322392", "tradeId": "2059192"},
]

# binance-reference §8.4, verbatim
COMMISSION = {"symbol": "BTCUSD_PERP", "makerCommissionRate": "0.00015",
              "takerCommissionRate": "0.00040"}

# binance-reference §9.1, verbatim
POSITION_RISK = [{
    "symbol": "BTCUSD_201225",
    "positionAmt": "1",
    "entryPrice": "11707.70000003",
    "breakEvenPrice": "11707.80000005",
    "markPrice": "11788.66626667",
    "unRealizedProfit": "0.00005866",
    "liquidationPrice": "11667.63509587",
    "leverage": "125",
    "maxQty": "50",
    "marginType": "cross",
    "isolatedMargin": "0.00000000",
    "isAutoAddMargin": "false",
    "positionSide": "LONG",
    "updateTime": 1627026881327
}]

# binance-reference §9.2, verbatim
ACCOUNT = {
    "assets": [{
        "asset": "BTC",
        "walletBalance": "0.00241969",
        "unrealizedProfit": "0.00000000",
        "marginBalance": "0.00241969",
        "maintMargin": "0.00000000",
        "initialMargin": "0.00000000",
        "positionInitialMargin": "0.00000000",
        "openOrderInitialMargin": "0.00000000",
        "maxWithdrawAmount": "0.00241969",
        "crossWalletBalance": "0.00241969",
        "crossUnPnl": "0.00000000",
        "availableBalance": "0.00241969",
        "updateTime": 1625474304765
    }],
    "positions": [{
        "symbol": "BTCUSD_201225",
        "positionAmt": "0",
        "initialMargin": "0",
        "maintMargin": "0",
        "unrealizedProfit": "0.00000000",
        "positionInitialMargin": "0",
        "openOrderInitialMargin": "0",
        "leverage": "125",
        "isolated": False,
        "positionSide": "BOTH",
        "entryPrice": "0.0",
        "breakEvenPrice": "0.0",
        "maxQty": "50",
        "notionalValue": "0",
        "updateTime": 0
    }],
    "canDeposit": True,
    "canTrade": True,
    "canWithdraw": True,
    "feeTier": 2,
    "updateTime": 0
}

UNKNOWN_503 = "Unknown error, please check your request or try again later."


@pytest.fixture
def cm() -> CoinmClient:
    return CoinmClient(BinanceHttp(BASE, "key", SECRET, clock=lambda: NOW_S))


def order(**overrides) -> OrderRequest:
    fields = dict(market=COINM, symbol="BTCUSD_PERP", side=SELL, type="MARKET",
                  quantity=Decimal("3"), client_order_id="testOrder")
    fields.update(overrides)
    return OrderRequest(**fields)


def filled(**changes) -> dict:
    """§7.5 turned into a filled MARKET (our own numbers: 3 contracts at 60000.0)."""
    return dict(copy.deepcopy(NEW), symbol="BTCUSD_PERP", type="MARKET", origType="MARKET",
                side="SELL", positionSide="BOTH", stopPrice="0", status="FILLED", origQty="3",
                executedQty="3", cumQty="3", cumBase="0.005", avgPrice="60000.0", **changes)


def sent_body(rsps, index: int = 0) -> str:
    body = rsps.calls[index].request.body
    return body.decode() if isinstance(body, bytes) else body


def sent_query(rsps, index: int = 0) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(rsps.calls[index].request.url).query))


# --- parsing -----------------------------------------------------------------------------------

def test_new_order_parses_the_result_answer(rsps, cm: CoinmClient) -> None:
    rsps.add("POST", f"{BASE}/dapi/v1/order", json=NEW)
    state = cm.new_order(order(side=BUY))
    assert (state.market, state.symbol, state.order_id, state.client_order_id) == (
        COINM, "BTCUSD_200925", 22542179, "testOrder")
    assert (state.side, state.type, state.status, state.final) == (
        BUY, "TRAILING_STOP_MARKET", "NEW", False)
    assert state.orig_qty == Decimal(10) and state.executed_qty == 0
    assert state.cum_quote == 0 and state.avg_price is None    # "0.0" while nothing filled
    assert state.price == 0 and state.reduce_only is False
    assert state.update_ms == 1566818724722 and state.fills == ()


def test_filled_order_reports_average_and_btc_value(rsps, cm: CoinmClient) -> None:
    rsps.add("POST", f"{BASE}/dapi/v1/order", json=filled(reduceOnly=True))
    state = cm.new_order(order(reduce_only=True))
    assert state.status == "FILLED" and state.final
    assert state.executed_qty == Decimal(3) and state.avg_price == Decimal("60000.0")
    assert state.cum_quote == Decimal("0.005") and state.reduce_only is True


@pytest.mark.parametrize("absent", [("avgPrice",), ("cumBase",), ("avgPrice", "cumBase")])
def test_avg_price_and_cum_base_are_optional(rsps, cm: CoinmClient, absent) -> None:
    payload = {k: v for k, v in filled().items() if k not in absent}
    rsps.add("POST", f"{BASE}/dapi/v1/order", json=payload)
    state = cm.new_order(order())
    assert state.executed_qty == 3
    assert state.avg_price == (None if "avgPrice" in absent else Decimal("60000"))
    assert state.cum_quote == (0 if "cumBase" in absent else Decimal("0.005"))


def test_executed_qty_falls_back_to_cum_qty(rsps, cm: CoinmClient) -> None:
    payload = {k: v for k, v in filled().items() if k != "executedQty"}
    rsps.add("POST", f"{BASE}/dapi/v1/order", json=payload)
    assert cm.new_order(order()).executed_qty == Decimal(3)


def test_get_order_without_cum_qty(rsps, cm: CoinmClient) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/order", json=QUERY)
    state = cm.get_order("BTCUSD_200925", "abc")
    sent = sent_query(rsps)
    assert (sent["symbol"], sent["origClientOrderId"]) == ("BTCUSD_200925", "abc")
    assert "timestamp" in sent and "signature" in sent
    assert (state.order_id, state.client_order_id, state.status) == (1917641, "abc", "NEW")
    assert state.orig_qty == Decimal("0.40") and state.executed_qty == 0
    assert state.update_ms == 1579276756075


def test_cancel_and_open_orders(rsps, cm: CoinmClient) -> None:
    rsps.add("DELETE", f"{BASE}/dapi/v1/order", json=dict(NEW, status="CANCELED"))
    state = cm.cancel_order("BTCUSD_200925", "testOrder")
    assert sent_query(rsps)["origClientOrderId"] == "testOrder"
    assert state.status == "CANCELED" and state.final
    rsps.add("GET", f"{BASE}/dapi/v1/openOrders", json=[QUERY, NEW])
    assert [s.client_order_id for s in cm.open_orders("BTCUSD_200925")] == ["abc", "testOrder"]


def test_user_trades(rsps, cm: CoinmClient) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/userTrades", json=USER_TRADES)
    (fill,) = cm.user_trades("BTCUSD_200626", 28)
    sent = sent_query(rsps)
    assert (sent["symbol"], sent["orderId"], sent["limit"]) == ("BTCUSD_200626", "28", "1000")
    assert (fill.market, fill.symbol, fill.order_id, fill.trade_id) == (COINM, "BTCUSD_200626", 28, 6)
    assert (fill.side, fill.maker) == (SELL, False)
    assert (fill.price, fill.qty) == (Decimal("8800"), Decimal("1"))
    assert fill.quote_qty == Decimal("0.01136364")          # baseQty: the BTC value
    assert (fill.commission, fill.commission_asset) == (Decimal("0.00000454"), "BTC")
    assert fill.realized_pnl == 0 and fill.time_ms == 1590743483586


def test_trades_since_reads_the_symbols_executions_by_time(rsps, cm: CoinmClient) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/userTrades", json=USER_TRADES)
    (fill,) = cm.trades_since("BTCUSD_200626", 1590743000000)
    sent = sent_query(rsps)
    assert (sent["symbol"], sent["startTime"], sent["limit"]) == (
        "BTCUSD_200626", "1590743000000", "1000")
    assert "endTime" not in sent and "orderId" not in sent
    assert (fill.order_id, fill.trade_id) == (28, 6)
    cm.trades_since("BTCUSD_200626", 1590743000000, 1591347799999)   # a window (7 days at most)
    assert sent_query(rsps, 1)["endTime"] == "1591347799999"


def test_trade_whose_buyer_flag_contradicts_its_side_is_bad_response(rsps, cm) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/userTrades", json=[dict(USER_TRADES[0], buyer=True)])
    with pytest.raises(BadResponse, match="buyer"):
        cm.user_trades("BTCUSD_200626", 28)


def test_income_with_string_and_number_tran_ids(rsps, cm: CoinmClient) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/income", json=INCOME)
    transfer, commission = cm.income("BTCUSD_200925")
    assert sent_query(rsps)["symbol"] == "BTCUSD_200925" and sent_query(rsps)["limit"] == "1000"
    assert "incomeType" not in sent_query(rsps) and "startTime" not in sent_query(rsps)
    assert (transfer.income_type, transfer.income, transfer.asset) == (
        "TRANSFER", Decimal("-0.375"), "BTC")
    assert (transfer.tran_id, transfer.trade_id, transfer.symbol) == (9689322392, "", "")
    assert (commission.income_type, commission.income, commission.trade_id) == (
        "COMMISSION", Decimal("-0.01"), "2059192")
    assert commission.time_ms == 1570636800000
    rsps.replace("GET", f"{BASE}/dapi/v1/income",
                 json=[dict(INCOME[1], incomeType="FUNDING_FEE", tranId=9689322393, tradeId="")])
    (funding,) = cm.income("BTCUSD_200925", income_type="FUNDING_FEE", start_ms=1570000000000,
                           limit=10)
    sent = sent_query(rsps, 1)
    assert (sent["incomeType"], sent["startTime"], sent["limit"]) == (
        "FUNDING_FEE", "1570000000000", "10")
    assert funding.tran_id == 9689322393


def test_commission_rate(rsps, cm: CoinmClient) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/commissionRate", json=COMMISSION)
    assert cm.commission_rate("BTCUSD_PERP") == (Decimal("0.00015"), Decimal("0.00040"))
    assert sent_query(rsps)["symbol"] == "BTCUSD_PERP"


def test_position_from_position_risk(rsps, cm: CoinmClient) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/positionRisk", json=POSITION_RISK)
    pos = cm.position("BTCUSD_201225")
    assert sent_query(rsps)["pair"] == "BTCUSD"             # positionRisk has no symbol filter
    assert pos.symbol == "BTCUSD_201225" and pos.amount == Decimal(1)
    assert pos.entry_price == Decimal("11707.70000003")
    assert pos.mark_price == Decimal("11788.66626667")
    assert pos.unrealized_profit == Decimal("0.00005866")
    assert pos.liquidation_price == Decimal("11667.63509587")
    assert (pos.leverage, pos.margin_type) == (125, "cross")


def test_absent_position_is_flat(rsps, cm: CoinmClient) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/positionRisk", json=POSITION_RISK)
    pos = cm.position("BTCUSD_PERP")
    assert pos.symbol == "BTCUSD_PERP" and pos.amount == 0 and pos.liquidation_price == 0


def short_row(symbol: str, side: str, amount: str) -> dict:
    return dict(POSITION_RISK[0], symbol=symbol, positionSide=side, positionAmt=amount)


def test_short_position_is_negative_and_a_held_row_wins_over_a_zero_row(rsps, cm) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/positionRisk",
             json=[short_row("BTCUSD_PERP", "BOTH", "0"), short_row("BTCUSD_PERP", "SHORT", "-7")])
    assert cm.position("BTCUSD_PERP").amount == Decimal(-7)


def test_long_and_short_rows_together_are_refused(rsps, cm: CoinmClient) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/positionRisk",
             json=[short_row("BTCUSD_PERP", "LONG", "2"), short_row("BTCUSD_PERP", "SHORT", "-7")])
    with pytest.raises(BadResponse, match="one-way"):
        cm.position("BTCUSD_PERP")


def test_account_combines_assets_and_position_risk(rsps, cm: CoinmClient) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/account", json=ACCOUNT)
    rsps.add("GET", f"{BASE}/dapi/v1/positionRisk",
             json=POSITION_RISK + [short_row("BTCUSD_PERP", "BOTH", "-12")])
    account = cm.account()
    assert [urlsplit(c.request.url).path for c in rsps.calls] == [
        "/dapi/v1/account", "/dapi/v1/positionRisk"]
    assert all("signature" in sent_query(rsps, i) for i in range(2))
    btc = account.assets["BTC"]
    assert btc.wallet_balance == Decimal("0.00241969") and btc.margin_balance == Decimal("0.00241969")
    assert (btc.unrealized_profit, btc.maint_margin, btc.initial_margin) == (0, 0, 0)
    assert btc.available_balance == Decimal("0.00241969")
    assert account.positions["BTCUSD_201225"].amount == 1
    assert account.positions["BTCUSD_PERP"].amount == Decimal(-12)
    assert account.update_ms == 1625474304765               # the asset's; the account says 0


# --- what new_order sends ----------------------------------------------------------------------

@pytest.mark.parametrize("overrides, expected", [
    (dict(), "symbol=BTCUSD_PERP&side=SELL&type=MARKET&quantity=3"),
    (dict(type="LIMIT", price=Decimal("60000.10"), time_in_force="GTX", side=BUY,
          quantity=Decimal("1.0E+1")),
     "symbol=BTCUSD_PERP&side=BUY&type=LIMIT&timeInForce=GTX&quantity=10&price=60000.1"),
    (dict(type="LIMIT", price=Decimal("6.0E+4")),             # LIMIT without a TIF: GTC
     "symbol=BTCUSD_PERP&side=SELL&type=LIMIT&timeInForce=GTC&quantity=3&price=60000"),
    (dict(reduce_only=True, time_in_force="GTC"),             # no timeInForce on MARKET
     "symbol=BTCUSD_PERP&side=SELL&type=MARKET&quantity=3&reduceOnly=true"),
], ids=["market", "limit-gtx", "limit-default-gtc", "market-reduce-only"])
def test_new_order_sends_exactly_binances_parameters(rsps, cm: CoinmClient, overrides,
                                                     expected) -> None:
    rsps.add("POST", f"{BASE}/dapi/v1/order", json=filled())
    cm.new_order(order(**overrides))
    assert urlsplit(rsps.calls[0].request.url).query == ""
    signed, _, signature = sent_body(rsps).rpartition("&signature=")
    assert signed == (expected + "&newClientOrderId=testOrder&newOrderRespType=RESULT"
                      "&timestamp=1700000000123&recvWindow=5000")
    assert signature == sign(SECRET, signed)
    assert "reduceOnly" not in signed or overrides.get("reduce_only")


def test_spot_orders_and_lot_type_mistakes_are_refused_before_sending(rsps, cm) -> None:
    for bad in (order(market=SPOT), order(type="LIMIT"), order(quantity=3),
                order(type="LIMIT_MAKER", price=Decimal(1), client_order_id="a" * 37)):
        with pytest.raises((ValueError, TypeError)):
            cm.new_order(bad)
    assert len(rsps.calls) == 0


# --- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    dict(body=UNKNOWN_503.encode()),
    dict(json={"code": -1000, "msg": UNKNOWN_503}),
    dict(json={"code": -1007, "msg": "Timeout waiting for response from backend server. "
                                     "Send status unknown; execution status unknown."}),
], ids=["text", "json-1000", "json-1007"])
def test_503_unknown_error_on_post_is_unknown_outcome_sent_once(rsps, cm, kwargs) -> None:
    rsps.add("POST", f"{BASE}/dapi/v1/order", status=503, **kwargs)
    with pytest.raises(UnknownOutcome) as info:
        cm.new_order(order())
    assert info.value.status == 503 and len(rsps.calls) == 1


def test_read_timeout_on_post_is_unknown_outcome_after_one_request(rsps, cm) -> None:
    rsps.add("POST", f"{BASE}/dapi/v1/order", body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(UnknownOutcome):
        cm.new_order(order())
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("method, call, code, msg, expected", [
    ("POST", lambda c: c.new_order(order()), -2010, "Order would immediately match and take.",
     Rejected),
    ("POST", lambda c: c.new_order(order(reduce_only=True)), -2022,
     "ReduceOnly Order is rejected.", Rejected),
    ("GET", lambda c: c.get_order("BTCUSD_PERP", "x"), -2013, "Order does not exist.",
     OrderNotFound),
    ("DELETE", lambda c: c.cancel_order("BTCUSD_PERP", "x"), -2011, "Unknown order sent.",
     CancelRejected),
], ids=["-2010", "-2022", "-2013", "-2011"])
def test_rejections_are_typed_and_keep_binances_message(rsps, cm, method, call, code, msg,
                                                        expected) -> None:
    rsps.add(method, f"{BASE}/dapi/v1/order", status=400, json={"code": code, "msg": msg})
    with pytest.raises(Rejected) as info:
        call(cm)
    assert type(info.value) is expected
    assert (info.value.code, info.value.msg, info.value.status) == (code, msg, 400)


def test_truncated_answer_to_a_post_is_bad_response_and_unknown(rsps, cm) -> None:
    rsps.add("POST", f"{BASE}/dapi/v1/order", body=b'{"clientOrderId":"testOrder","cumQty":"0",')
    with pytest.raises(BadResponse) as info:
        cm.new_order(order())
    assert isinstance(info.value, UnknownOutcome) and '{"clientOrderId"' in str(info.value)


@pytest.mark.parametrize("path, call, payload", [
    ("positionRisk", lambda c: c.position("BTCUSD_201225"), [dict(POSITION_RISK[0],
                                                                  leverage="high")]),
    ("positionRisk", lambda c: c.position("BTCUSD_PERP"), {"code": 0}),
    ("income", lambda c: c.income("BTCUSD_PERP"), [dict(INCOME[0], tranId=1.5)]),
    ("commissionRate", lambda c: c.commission_rate("BTCUSD_PERP"), dict(COMMISSION,
                                                                        symbol="ETHUSD_PERP")),
    ("order", lambda c: c.get_order("BTCUSD_200925", "abc"), dict(QUERY, clientOrderId="other")),
    ("order", lambda c: c.get_order("BTCUSD_200925", "abc"), dict(QUERY, avgPrice="NaN",
                                                                  executedQty="1")),
    ("userTrades", lambda c: c.user_trades("BTCUSD_PERP", 1), "<html>"),
], ids=["leverage", "not-a-list", "float-tran-id", "other-symbol", "other-client-id", "nan",
        "string"])
def test_wrong_shapes_are_bad_response(rsps, cm, path, call, payload) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/{path}", json=payload)
    with pytest.raises(BadResponse, match="unexpected payload"):
        call(cm)


def test_html_account_body_is_bad_response(rsps, cm: CoinmClient) -> None:
    rsps.add("GET", f"{BASE}/dapi/v1/account", body=b"<html>502 Bad Gateway</html>")
    with pytest.raises(BadResponse, match="502 Bad Gateway"):
        cm.account()
