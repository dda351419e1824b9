"""The local exchange's WebSocket API (binance-ws-api.md §1–§5) driven by a plain websocket-client
that signs as the reference says: envelopes, signing, timestamps, the weight pool it shares with
REST, 429/418, server pings, and the methods of both products on the same engine as REST."""
from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
import websocket

from arbitrage.sim import LocalExchange
from arbitrage.sim.auth import ApiKeys, Auth, ws_payloads
from tests.sim_clients import PERP, SPOT, best, cm, spot  # noqa: F401 (fixtures by name)
from tests.ws_api_client import WsApiClient, rest

D = Decimal


@pytest.fixture
def ex():
    with LocalExchange(seed=5, speed=0.001, ws_api_pings=((0.3, 2.0), (0.4, 2.0))) as exchange:
        yield exchange


def resting_buy(ex, **extra) -> dict:
    bid = best(ex, SPOT)[0]
    return {"symbol": SPOT, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
            "price": f"{bid * D('0.98'):.2f}", "quantity": "0.00100", **extra}


def rest_get(ex, path: str, **params):
    return rest(ex.rest_url, ex.api_key, ex.api_secret, "GET", path, **params)


# -- signing -----------------------------------------------------------------------------------
def test_the_reference_worked_example_signs_as_binance_documents():
    keys = ApiKeys("vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
                   "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j")
    params = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
              "quantity": "0.01000000", "price": "52000.00", "recvWindow": "100",
              "timestamp": "1645423376532", "apiKey": keys.api_key}
    raw, encoded = ws_payloads(params)
    assert raw.startswith("apiKey=vmPUZE6m") and raw.endswith("&timestamp=1645423376532&type=LIMIT")
    assert Auth(keys).sign(raw) == "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
    assert raw == encoded      # plain ASCII: the SDK's percent-encoding changes nothing


def test_a_signed_request_with_a_bad_signature_or_an_old_timestamp_is_refused(ex, spot):
    req_id = spot.send("account.status", {"timestamp": int(time.time() * 1000)}, signed=False, key_only=True)
    # key_only sends no signature at all
    assert spot.answer(req_id)["error"]["code"] == -1102
    params = {"apiKey": ex.api_key, "timestamp": int(time.time() * 1000), "signature": "0" * 64}
    bad = spot.call("account.status", params, signed=False)
    assert (bad["status"], bad["error"]) == (400, {"code": -1022, "msg": "Signature for this request is not valid."})
    assert bad["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT"
    old = spot.call("account.status", {"timestamp": int(time.time() * 1000) - 10_000})
    assert old["error"]["code"] == -1021 and "recvWindow" in old["error"]["msg"]
    ahead = spot.call("account.status", {"timestamp": int(time.time() * 1000) + 5_000})
    assert ahead["error"] == {"code": -1021, "msg": "Timestamp for this request was 1000ms ahead of the server's time."}
    wrong_key = WsApiClient(ex.ws_api_url, "A" * 64, ex.api_secret)
    try:
        assert wrong_key.call("account.status")["error"]["code"] == -2015
    finally:
        wrong_key.close()


def test_the_envelope_echoes_ids_and_refuses_what_binance_refuses(ex, spot):
    assert spot.call("ping", signed=False, req_id=42)["id"] == 42
    answer = spot.call("time", signed=False, req_id=None)
    assert answer["status"] == 200 and isinstance(answer["result"]["serverTime"], int)
    assert spot.call("v3/ping", signed=False, req_id="v3-prefix")["status"] == 200
    unknown = spot.call("order.teleport", signed=False, req_id="x1")
    assert unknown["status"] == 400 and unknown["id"] == "x1"
    spot.ws.send(json.dumps({"id": "x" * 37, "method": "ping"}))
    spot.pump(5)
    assert spot.answers.pop(None)["status"] == 400
    quiet = spot.call("ping", {"returnRateLimits": False}, signed=False)
    assert "rateLimits" not in quiet and quiet["result"] == {}


def test_weight_is_one_pool_with_rest_and_over_it_is_429_in_the_ws_form():
    with LocalExchange(seed=5, speed=0.001, weight_limit=30) as ex:
        assert rest_get(ex, "/api/v3/account").status_code == 200          # 20 of 30
        client = WsApiClient(ex.ws_api_url, ex.api_key, ex.api_secret)
        try:
            answer = client.call("account.status")                         # 20 more: over
            assert answer["status"] == 429 and answer["error"]["code"] == -1003
            assert answer["error"]["data"]["retryAfter"] > answer["error"]["data"]["serverTime"]
            assert answer["rateLimits"] == [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE",
                                             "intervalNum": 1, "limit": 30, "count": 20}]
            ok = client.call("order.status", {"symbol": SPOT, "orderId": 1})  # 4 more: within
            assert ok["error"]["code"] == -2013 and ok["rateLimits"][0]["count"] == 24
        finally:
            client.close()


def test_the_rate_limit_fault_answers_429_then_418_on_the_ws_api(ex, spot):
    ex.rate_limit_next(5)
    first = spot.call("account.status")
    assert first["status"] == 429 and first["error"]["code"] == -1003
    second = spot.call("account.status")
    assert second["status"] == 418 and "banned until" in second["error"]["msg"]
    assert second["error"]["data"]["retryAfter"] > second["error"]["data"]["serverTime"]
    assert ex.fault_counts()["ban"] == 1


def test_the_server_pings_each_ws_api_at_its_own_interval(ex):
    for url in (ex.ws_api_url, ex.ws_dapi_url):
        ws = websocket.create_connection(url, timeout=5)
        try:
            opcode, frame = ws.recv_data_frame(True)
            assert opcode == websocket.ABNF.OPCODE_PING
        finally:
            ws.close()


# -- spot methods --------------------------------------------------------------------------------
def test_spot_orders_over_the_ws_api_are_the_rest_engines_orders(ex, spot):
    placed = spot.call("order.place", resting_buy(ex, newClientOrderId="ws-1", newOrderRespType="RESULT"))
    assert placed["status"] == 200 and placed["result"]["status"] == "NEW"
    limits = {(r["rateLimitType"], r["interval"], r["intervalNum"]): r for r in placed["rateLimits"]}
    assert limits[("ORDERS", "SECOND", 10)]["count"] == 1 and limits[("ORDERS", "DAY", 1)]["limit"] == 200000
    order_id = placed["result"]["orderId"]
    via_rest = rest_get(ex, "/api/v3/order", symbol=SPOT, origClientOrderId="ws-1").json()
    assert via_rest["orderId"] == order_id and via_rest["status"] == "NEW"
    status = spot.call("order.status", {"symbol": SPOT, "origClientOrderId": "ws-1"})["result"]
    assert status == via_rest
    assert [o["orderId"] for o in spot.call("openOrders.status", {"symbol": SPOT})["result"]] == [order_id]
    account = spot.call("account.status")["result"]
    usdt = next(b for b in account["balances"] if b["asset"] == "USDT")
    assert D(usdt["locked"]) == D(placed["result"]["price"]) * D("0.001")
    canceled = spot.call("order.cancel", {"symbol": SPOT, "orderId": order_id, "newClientOrderId": "undo-1"})
    assert canceled["result"]["status"] == "CANCELED" and canceled["result"]["origClientOrderId"] == "ws-1"
    assert canceled["result"]["clientOrderId"] == "undo-1"
    again = spot.call("order.cancel", {"symbol": SPOT, "orderId": order_id})
    assert (again["status"], again["error"]["code"]) == (400, -2011)
    rates = spot.call("account.commission", {"symbol": SPOT})["result"]
    assert rates["standardCommission"]["taker"] == "0.00100000"


def test_spot_order_validation_is_the_rest_validation(ex, spot):
    no_qty = spot.call("order.place", {"symbol": SPOT, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                       "price": "100.00"})
    assert no_qty["error"]["code"] == -1102
    bad_symbol = spot.call("order.place", resting_buy(ex, symbol="NOPEUSDT"))
    assert bad_symbol["error"] == {"code": -1121, "msg": "Invalid symbol."}
    ask = best(ex, SPOT)[2]
    taker = spot.call("order.place", {"symbol": SPOT, "side": "BUY", "type": "LIMIT_MAKER",
                                      "price": f"{ask:.2f}", "quantity": "0.00100"})
    assert taker["error"] == {"code": -2010, "msg": "Order would immediately match and take."}
    assert ex.orders_received("spot") == 3


def test_cancel_replace_and_keep_priority_amend(ex, spot):
    first = spot.call("order.place", resting_buy(ex, newClientOrderId="mm-1"))["result"]
    swapped = spot.call("order.cancelReplace", resting_buy(ex, cancelReplaceMode="STOP_ON_FAILURE",
                                                           cancelOrigClientOrderId="mm-1",
                                                           newClientOrderId="mm-2", quantity="0.00200"))
    result = swapped["result"]
    assert (result["cancelResult"], result["newOrderResult"]) == ("SUCCESS", "SUCCESS")
    assert result["cancelResponse"]["orderId"] == first["orderId"]
    assert result["newOrderResponse"]["clientOrderId"] == "mm-2"
    failed = spot.call("order.cancelReplace", resting_buy(ex, cancelReplaceMode="STOP_ON_FAILURE",
                                                          cancelOrigClientOrderId="mm-1"))
    assert failed["status"] == 400 and failed["error"]["code"] == -2022
    assert failed["error"]["data"] == {"cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED",
                                       "cancelResponse": {"code": -2011, "msg": "Unknown order sent."},
                                       "newOrderResponse": None}
    partly = spot.call("order.cancelReplace", resting_buy(ex, cancelReplaceMode="ALLOW_FAILURE",
                                                          cancelOrigClientOrderId="mm-1", newClientOrderId="mm-3"))
    assert partly["status"] == 409 and partly["error"]["code"] == -2021
    assert partly["error"]["data"]["newOrderResponse"]["clientOrderId"] == "mm-3"
    amended = spot.call("order.amend.keepPriority", {"symbol": SPOT, "origClientOrderId": "mm-2",
                                                     "newQty": "0.00150", "newClientOrderId": "mm-2"})
    order = amended["result"]["amendedOrder"]
    assert (order["qty"], order["clientOrderId"], order["status"]) == ("0.00150000", "mm-2", "NEW")
    assert list(ex.trading.spot.open_orders)[0] == order["orderId"]      # still first in the queue
    grow = spot.call("order.amend.keepPriority", {"symbol": SPOT, "origClientOrderId": "mm-2", "newQty": "0.01"})
    assert grow["error"]["code"] == -2038


# -- COIN-M methods ------------------------------------------------------------------------------
def test_coinm_orders_positions_and_balances_over_the_ws_api(ex, cm):
    placed = cm.call("order.place", {"symbol": PERP, "side": "BUY", "type": "MARKET", "quantity": "2",
                                     "newOrderRespType": "RESULT", "newClientOrderId": "cm-1"})
    assert placed["result"]["status"] == "FILLED" and placed["result"]["executedQty"] == "2"
    assert [r["rateLimitType"] for r in placed["rateLimits"]] == ["ORDERS", "REQUEST_WEIGHT"]
    status = cm.call("order.status", {"symbol": PERP, "origClientOrderId": "cm-1"})["result"]
    assert status["status"] == "FILLED" and "time" in status
    position = cm.call("account.position", {"pair": "BTCUSD"})["result"]
    assert [p["positionAmt"] for p in position if p["symbol"] == PERP] == ["2"]
    balance = cm.call("account.balance")["result"]
    account = cm.call("account.status")["result"]
    btc = next(a for a in account["assets"] if a["asset"] == "BTC")
    assert next(b for b in balance if b["asset"] == "BTC")["balance"] == btc["walletBalance"]
    bid = best(ex, PERP)[0]
    low = f"{bid * D('0.98'):.1f}"
    resting = cm.call("order.place", {"symbol": PERP, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                      "quantity": "1", "price": low, "newClientOrderId": "cm-2"})["result"]
    half = cm.call("order.modify", {"symbol": PERP, "side": "BUY", "origClientOrderId": "cm-2", "quantity": "3"})
    assert half["error"]["code"] == -1102                # the WS API needs both quantity and price
    lower = f"{bid * D('0.97'):.1f}"
    modified = cm.call("order.modify", {"symbol": PERP, "side": "BUY", "orderId": resting["orderId"],
                                        "quantity": "3", "price": lower})["result"]
    assert (modified["origQty"], modified["price"], modified["status"]) == ("3", lower, "NEW")
    canceled = cm.call("order.cancel", {"symbol": PERP, "orderId": resting["orderId"]})["result"]
    assert canceled["status"] == "CANCELED"
    assert ex.orders_received("coinm") == 2


def test_the_rest_twins_of_the_new_methods(ex):
    """cancel-replace, keep-priority amend, COIN-M modify and balance also answer over REST, with
    the same functions (and cancel-replace's legs in the error body's `data`)."""
    call = lambda method, path, **p: rest(ex.rest_url, ex.api_key, ex.api_secret, method, path, **p)  # noqa: E731
    first = call("POST", "/api/v3/order", **resting_buy(ex, newClientOrderId="r-1")).json()
    partly = call("POST", "/api/v3/order/cancelReplace", **resting_buy(ex, cancelReplaceMode="ALLOW_FAILURE",
                                                                      cancelOrderId=first["orderId"] + 99))
    body = partly.json()
    assert partly.status_code == 409 and body["code"] == -2021 and body["data"]["cancelResult"] == "FAILURE"
    new_id = body["data"]["newOrderResponse"]["orderId"]
    amended = call("PUT", "/api/v3/order/amend/keepPriority", symbol=SPOT, orderId=new_id, newQty="0.0005").json()
    assert amended["amendedOrder"]["qty"] == "0.00050000"
    bid = best(ex, PERP)[0]
    resting = call("POST", "/dapi/v1/order", symbol=PERP, side="BUY", type="LIMIT", timeInForce="GTC",
                   quantity="1", price=f"{bid * D('0.98'):.1f}").json()
    modified = call("PUT", "/dapi/v1/order", symbol=PERP, side="BUY", orderId=resting["orderId"], quantity="4").json()
    assert (modified["origQty"], modified["price"]) == ("4", resting["price"])     # REST: price kept
    wrong_side = call("PUT", "/dapi/v1/order", symbol=PERP, side="SELL", orderId=resting["orderId"], quantity="2")
    assert wrong_side.status_code == 400
    shrunk = call("PUT", "/dapi/v1/order", symbol=PERP, side="BUY", orderId=resting["orderId"], quantity="0")
    assert shrunk.json()["code"] == -4003 and call("GET", "/dapi/v1/order", symbol=PERP,
                                                   orderId=resting["orderId"]).json()["origQty"] == "4"
    balance = call("GET", "/dapi/v1/balance").json()
    assert {b["asset"] for b in balance} == {"BTC", "ETH"} and all(b["accountAlias"] for b in balance)
