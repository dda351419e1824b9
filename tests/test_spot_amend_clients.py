"""The bot's spot clients change resting orders (issue 15): keep-priority amend (PUT
/api/v3/order/amend/keepPriority, `order.amend.keepPriority`) and cancel-replace (POST
/api/v3/order/cancelReplace, `order.cancelReplace`). Payloads as binance-ws-api.md §4.4/§4.5 and
Binance's REST docs print them; then both lanes against the local exchange."""
from __future__ import annotations

import copy
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest

from arbitrage.exchanges.binance_spot import SpotClient
from arbitrage.exchanges.errors import Rejected, UnknownOutcome
from arbitrage.exchanges.http import BinanceHttp
from arbitrage.exchanges.ws_api_spot import SpotWsApi
from arbitrage.models import BUY, SPOT, OrderRequest
from tests import fast_lanes_kit as kit
from tests.test_sim_trading_client import frozen_exchange

BASE = "https://api.test"

# binance-ws-api.md §4.5 `result` (the REST body is the same object), verbatim
AMENDED = {"transactTime": 1741923284382, "executionId": 16, "amendedOrder": {
    "symbol": "BTCUSDT", "orderId": 12, "orderListId": -1, "origClientOrderId": "my_test_order1",
    "clientOrderId": "my_test_order1", "price": "5.00000000", "qty": "5.00000000",
    "executedQty": "2.00000000", "preventedQty": "0.00000000", "quoteOrderQty": "0.00000000",
    "cumulativeQuoteQty": "10.00000000", "status": "PARTIALLY_FILLED", "timeInForce": "GTC",
    "type": "LIMIT", "side": "BUY", "workingTime": 1741923284364, "selfTradePreventionMode": "NONE"}}

# binance-ws-api.md §4.4 `result`, verbatim (REST answers the same object)
REPLACED = {"cancelResult": "SUCCESS", "newOrderResult": "SUCCESS", "cancelResponse": {
    "symbol": "BTCUSDT", "origClientOrderId": "mm-000001", "orderId": 12569099453, "orderListId": -1,
    "clientOrderId": "91fe37ce9e69c90d6358c0", "transactTime": 1684804350068,
    "price": "60000.00000000", "origQty": "0.00100000", "executedQty": "0.00000000",
    "origQuoteOrderQty": "0.000000", "cummulativeQuoteQty": "0.00000000", "status": "CANCELED",
    "timeInForce": "GTC", "type": "LIMIT_MAKER", "side": "BUY", "selfTradePreventionMode": "EXPIRE_MAKER"},
    "newOrderResponse": {
    "symbol": "BTCUSDT", "orderId": 12569099470, "orderListId": -1, "clientOrderId": "mm-000002",
    "transactTime": 1684804350070, "price": "59990.00000000", "origQty": "0.00100000",
    "executedQty": "0.00000000", "origQuoteOrderQty": "0.000000", "cummulativeQuoteQty": "0.00000000",
    "status": "NEW", "timeInForce": "GTC", "type": "LIMIT_MAKER", "side": "BUY",
    "workingTime": 1684804350070, "selfTradePreventionMode": "EXPIRE_MAKER"}}

PARTLY = {"code": -2021, "msg": "Order cancel-replace partially failed.", "data": {
    "cancelResult": "SUCCESS", "newOrderResult": "FAILURE", "cancelResponse": REPLACED["cancelResponse"],
    "newOrderResponse": {"code": -2010, "msg": "Order would immediately match and take."}}}


def new_req(cid: str = "mm-000002", price: str = "59990") -> OrderRequest:
    return OrderRequest(SPOT, "BTCUSDT", BUY, "LIMIT_MAKER", Decimal("0.001"), cid,
                        price=Decimal(price))


@pytest.fixture
def spot() -> SpotClient:
    return SpotClient(BinanceHttp(BASE, "key", "secret", clock=lambda: 1_700_000_000.123))


def body(rsps) -> dict[str, str]:
    raw = rsps.calls[0].request.body
    return dict(parse_qsl(raw.decode() if isinstance(raw, bytes) else raw))


def test_rest_amend_sends_put_keeping_the_client_id_and_parses_the_amended_order(rsps, spot):
    rsps.add("PUT", f"{BASE}/api/v3/order/amend/keepPriority", json=AMENDED)
    state = spot.amend_keep_priority("BTCUSDT", "my_test_order1", Decimal("5.00000000"))
    sent = body(rsps)
    assert (sent["symbol"], sent["origClientOrderId"], sent["newClientOrderId"], sent["newQty"]) == (
        "BTCUSDT", "my_test_order1", "my_test_order1", "5")
    assert "signature" in sent and "timestamp" in sent
    assert (state.order_id, state.client_order_id, state.status) == (12, "my_test_order1",
                                                                     "PARTIALLY_FILLED")
    assert (state.orig_qty, state.executed_qty, state.cum_quote) == (
        Decimal("5"), Decimal("2"), Decimal("10"))
    assert state.avg_price == Decimal("5") and state.update_ms == 1741923284382


def test_rest_amend_refused_is_rejected_with_its_code(rsps, spot):
    rsps.add("PUT", f"{BASE}/api/v3/order/amend/keepPriority", status=400,
             json={"code": -2038, "msg": "Order amend (quantity increase) is not supported."})
    with pytest.raises(Rejected) as err:
        spot.amend_keep_priority("BTCUSDT", "x1", Decimal("9"))
    assert err.value.code == -2038


def test_rest_cancel_replace_sends_stop_on_failure_and_parses_both_legs(rsps, spot):
    rsps.add("POST", f"{BASE}/api/v3/order/cancelReplace", json=REPLACED)
    done = spot.cancel_replace("mm-000001", new_req())
    sent = body(rsps)
    assert (sent["cancelReplaceMode"], sent["cancelOrigClientOrderId"], sent["side"], sent["type"],
            sent["price"], sent["quantity"], sent["newClientOrderId"]) == (
        "STOP_ON_FAILURE", "mm-000001", "BUY", "LIMIT_MAKER", "59990", "0.001", "mm-000002")
    assert "timeInForce" not in sent           # -1106 on LIMIT_MAKER
    assert (done.canceled.client_order_id, done.canceled.status) == ("mm-000001", "CANCELED")
    assert (done.placed.client_order_id, done.placed.status, done.placed.price) == (
        "mm-000002", "NEW", Decimal("59990"))


def test_rest_cancel_replace_partly_failed_and_unknown(rsps, spot):
    rsps.add("POST", f"{BASE}/api/v3/order/cancelReplace", status=409, json=PARTLY)
    with pytest.raises(Rejected) as err:
        spot.cancel_replace("mm-000001", new_req())
    assert err.value.code == -2021
    rsps.replace("POST", f"{BASE}/api/v3/order/cancelReplace", status=408,
                 json={"code": -1007, "msg": "Timeout waiting for response from backend server."})
    with pytest.raises(UnknownOutcome):
        spot.cancel_replace("mm-000001", new_req())


class FakeConn:
    """Answers `call` with the documented `result` and records what was asked."""
    def __init__(self, result) -> None:
        self.result, self.calls = result, []

    def call(self, method, params=None, signed=True, timeout=None):
        self.calls.append((method, params))
        return copy.deepcopy(self.result)


def test_ws_amend_and_cancel_replace_send_the_documented_methods():
    conn = FakeConn(AMENDED)
    state = SpotWsApi(conn).amend_keep_priority("BTCUSDT", "my_test_order1", Decimal("5"))
    assert conn.calls == [("order.amend.keepPriority", {
        "symbol": "BTCUSDT", "origClientOrderId": "my_test_order1",
        "newClientOrderId": "my_test_order1", "newQty": "5"})]
    assert (state.orig_qty, state.executed_qty) == (Decimal("5"), Decimal("2"))
    conn = FakeConn(REPLACED)
    done = SpotWsApi(conn).cancel_replace("mm-000001", new_req())
    method, params = conn.calls[0]
    assert method == "order.cancelReplace"
    assert (params["cancelReplaceMode"], params["cancelOrigClientOrderId"], params["newClientOrderId"],
            params["newOrderRespType"]) == ("STOP_ON_FAILURE", "mm-000001", "mm-000002", "FULL")
    assert done.placed.order_id == 12569099470


@pytest.mark.parametrize("lane", ["rest", "ws"])
def test_both_lanes_against_the_local_exchange(lane):
    with frozen_exchange() as ex:
        rest = SpotClient(kit.http(ex))
        client = rest if lane == "rest" else kit.spot_api(ex)
        if lane == "ws":
            client.conn.start()
        try:
            req = kit.far_spot_buy(ex, f"c-{lane}-1")
            req = OrderRequest(SPOT, req.symbol, BUY, "LIMIT_MAKER", Decimal("0.005"),
                               req.client_order_id, price=req.price)
            rest.new_order(req)
            amended = client.amend_keep_priority(req.symbol, req.client_order_id, Decimal("0.003"))
            assert (amended.client_order_id, amended.orig_qty, amended.status) == (
                req.client_order_id, Decimal("0.003"), "NEW")
            new = OrderRequest(SPOT, req.symbol, BUY, "LIMIT_MAKER", Decimal("0.003"),
                               f"c-{lane}-2", price=req.price - Decimal("1"))
            done = client.cancel_replace(req.client_order_id, new)
            assert done.canceled.status == "CANCELED" and done.placed.status == "NEW"
            assert [o.client_order_id for o in rest.open_orders(req.symbol)] == [f"c-{lane}-2"]
            rest.cancel_order(req.symbol, f"c-{lane}-2")
        finally:
            if lane == "ws":
                client.conn.stop()
