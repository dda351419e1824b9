"""Matching on the local exchange over loopback: MARKET consumes the book (and the diff stream shows
it), LIMIT rests and fills when the market trades through it, post-only rules, response shapes."""
from __future__ import annotations

import pytest

from tests.test_sim_support import depth_snapshot, read, ws_connect
from tests.test_sim_trading_client import client, ex  # noqa: F401 (fixtures)
from tests.test_sim_trading_client import D, levels, step, top

SPOT_RESULT_KEYS = {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime", "price",
                    "origQty", "executedQty", "origQuoteOrderQty", "cummulativeQuoteQty", "status",
                    "timeInForce", "type", "side", "workingTime", "selfTradePreventionMode"}
CM_ORDER_KEYS = {"clientOrderId", "cumQty", "cumBase", "executedQty", "orderId", "avgPrice", "origQty",
                 "price", "reduceOnly", "side", "positionSide", "status", "stopPrice", "closePosition",
                 "symbol", "pair", "timeInForce", "type", "origType", "updateTime", "workingType",
                 "priceProtect", "priceMatch", "selfTradePreventionMode"}




def test_spot_market_buy_walks_and_consumes_the_book_and_the_stream_shows_it(ex, client):
    asks = levels(ex, "BTCUSDT", "asks")
    qty = asks[0][1] + asks[1][1] / 2                   # all of level 1, half of level 2
    qty = qty.quantize(D("0.00001"))
    with ws_connect(ex.ws_url + "/ws/btcusdt@depth@100ms") as ws:
        before = depth_snapshot(ex.rest_url, "spot", "BTCUSDT", 5)
        order = client.spot_order(side="BUY", type="MARKET", quantity=format(qty, "f"),
                                  newClientOrderId="mkt-1")
        diff = read(ws, lambda m: m.get("e") == "depthUpdate")[0]
    assert set(order) == SPOT_RESULT_KEYS | {"fills"}
    assert order["status"] == "FILLED" and order["clientOrderId"] == "mkt-1"
    assert order["executedQty"] == f"{qty:.8f}" and order["price"] == "0.00000000"
    fills = order["fills"]
    assert [(D(f["price"]), D(f["qty"])) for f in fills] == [asks[0], (asks[1][0], qty - asks[0][1])]
    assert all(f["commissionAsset"] == "BTC" for f in fills)
    assert D(order["cummulativeQuoteQty"]) == sum(D(f["price"]) * D(f["qty"]) for f in fills)
    # the diff that follows the order is exactly its impact, in sequence
    assert diff["U"] == before["lastUpdateId"] + 1 and diff["b"] == []
    assert diff["a"] == [[f"{asks[0][0]:.8f}", "0.00000000"],
                         [f"{asks[1][0]:.8f}", f"{asks[1][1] - (qty - asks[0][1]):.8f}"]]
    assert levels(ex, "BTCUSDT", "asks")[0] == (asks[1][0], asks[1][1] - (qty - asks[0][1]))


def test_coinm_market_sell_consumes_bids_with_result_shape(ex, client):
    bids = levels(ex, "BTCUSD_PERP", "bids")
    qty = bids[0][1] + 1
    order = client.cm_order(side="SELL", type="MARKET", quantity=str(qty), newOrderRespType="RESULT")
    assert set(order) == CM_ORDER_KEYS
    assert order["status"] == "FILLED" and order["cumQty"] == str(qty) and order["executedQty"] == str(qty)
    assert order["positionSide"] == "BOTH" and order["reduceOnly"] is False and order["price"] == "0"
    base = bids[0][1] * 100 / bids[0][0] + 1 * 100 / bids[1][0]
    assert D(order["cumBase"]) == pytest.approx(base, abs=D("0.00000002"))
    assert D(order["avgPrice"]) == pytest.approx(qty * 100 / base, abs=D("0.00000001"))
    assert levels(ex, "BTCUSD_PERP", "bids")[0] == (bids[1][0], bids[1][1] - 1)
    ack = client.cm_order(side="BUY", type="MARKET", quantity="1")       # default ACK
    assert ack["status"] == "NEW" and ack["executedQty"] == "0"
    queried = client.ok("GET", "/dapi/v1/order", symbol="BTCUSD_PERP", orderId=ack["orderId"])
    assert queried["status"] == "FILLED" and "cumQty" not in queried and "time" in queried


def test_spot_limit_rests_then_fills_at_its_price_when_the_market_trades_through(ex, client):
    bid, _ = top(ex, "BTCUSDT")
    free_usdt = client.balances()["USDT"][0]
    order = client.spot_order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01",
                              price=f"{bid}")
    assert order["status"] == "NEW" and order["fills"] == []
    assert client.balances()["USDT"] == (free_usdt - D("0.01") * bid, D("0.01") * bid)
    [listed] = client.ok("GET", "/api/v3/openOrders", symbol="BTCUSDT")
    assert listed["orderId"] == order["orderId"] and listed["isWorking"] is True
    # the market trades down to our price: an ask of 0.004 appears there (the bid level leaves)
    step(ex, "BTCUSDT", bids={bid: 0}, asks={bid: D("0.004")})
    partial = client.ok("GET", "/api/v3/order", symbol="BTCUSDT", orderId=order["orderId"])
    assert partial["status"] == "PARTIALLY_FILLED" and partial["executedQty"] == "0.00400000"
    assert (bid, D("0.004")) not in levels(ex, "BTCUSDT", "asks")      # our fill consumed it
    step(ex, "BTCUSDT", asks={bid: D("0.02")})
    done = client.ok("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId=order["clientOrderId"])
    assert done["status"] == "FILLED" and D(done["cummulativeQuoteQty"]) == D("0.01") * bid
    assert levels(ex, "BTCUSDT", "asks")[0] == (bid, D("0.014"))
    trades = client.ok("GET", "/api/v3/myTrades", symbol="BTCUSDT", orderId=order["orderId"])
    assert [(D(t["qty"]), t["isMaker"], t["isBuyer"]) for t in trades] == [(D("0.004"), True, True),
                                                                          (D("0.006"), True, True)]
    assert all(D(t["price"]) == bid and D(t["commission"]) == D(t["qty"]) * D("0.001") for t in trades)
    assert client.balances()["USDT"] == (free_usdt - D("0.01") * bid, D(0))
    assert client.ok("GET", "/api/v3/openOrders", symbol="BTCUSDT") == []


def test_coinm_limit_rests_and_fills_as_maker(ex, client):
    _, ask = top(ex, "BTCUSD_PERP")
    price = ask + 50
    sell = client.cm_order(side="SELL", type="LIMIT", timeInForce="GTC", quantity="7", price=f"{price}",
                           newOrderRespType="RESULT")
    assert sell["status"] == "NEW" and sell["price"] == f"{price}"
    [row] = client.ok("GET", "/dapi/v1/openOrders", symbol="BTCUSD_PERP")
    assert row["orderId"] == sell["orderId"]
    # the market rises through it: the asks up to there go, bids appear above and at our price
    gone = {p: 0 for p, _ in levels(ex, "BTCUSD_PERP", "asks") if p <= price + 1}
    step(ex, "BTCUSD_PERP", bids={price + D("0.5"): 5}, asks=gone)
    step(ex, "BTCUSD_PERP", bids={price: 10})
    done = client.ok("GET", "/dapi/v1/order", symbol="BTCUSD_PERP", orderId=sell["orderId"])
    assert done["status"] == "FILLED" and done["avgPrice"] == f"{price}"
    trades = client.ok("GET", "/dapi/v1/userTrades", symbol="BTCUSD_PERP", orderId=sell["orderId"])
    assert [(t["qty"], t["maker"], t["price"]) for t in trades] == [("5", True, f"{price}"),
                                                                   ("2", True, f"{price}")]
    assert levels(ex, "BTCUSD_PERP", "bids")[0] == (price, D(8))    # 5 + 2 taken by our fills
    assert client.position()["positionAmt"] == "-7"


def test_a_crossing_limit_takes_at_the_book_then_rests(ex, client):
    _, ask = top(ex, "BTCUSDT")
    first = levels(ex, "BTCUSDT", "asks")[0]
    qty = first[1] + D("0.001")
    order = client.spot_order(side="BUY", type="LIMIT", timeInForce="GTC", quantity=f"{qty}", price=f"{ask}")
    assert order["status"] == "PARTIALLY_FILLED"
    assert [(D(f["price"]), D(f["qty"])) for f in order["fills"]] == [first]
    assert client.balances()["USDT"][1] == D("0.001") * ask           # only the rest is locked
    client.ok("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=order["orderId"])
    assert client.balances()["USDT"][1] == 0


def test_limit_maker_that_would_take_is_rejected(ex, client):
    bid, ask = top(ex, "BTCUSDT")
    client.error("POST", "/api/v3/order", 400, -2010, "Order would immediately match and take.",
                 symbol="BTCUSDT", side="BUY", type="LIMIT_MAKER", quantity="0.01", price=f"{ask}")
    ok = client.spot_order(side="BUY", type="LIMIT_MAKER", quantity="0.01", price=f"{bid}")
    assert set(ok) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}   # ACK
    assert client.ok("GET", "/api/v3/order", symbol="BTCUSDT", orderId=ok["orderId"])["status"] == "NEW"


def test_gtx_that_would_take_is_accepted_then_expired(ex, client):
    bid, ask = top(ex, "BTCUSD_PERP")
    result = client.cm_order(side="BUY", type="LIMIT", timeInForce="GTX", quantity="3", price=f"{ask}",
                             newOrderRespType="RESULT")
    assert result["status"] == "EXPIRED" and result["executedQty"] == "0"
    ack = client.cm_order(side="SELL", type="LIMIT", timeInForce="GTX", quantity="3", price=f"{bid}")
    assert ack["status"] == "NEW"
    assert client.ok("GET", "/dapi/v1/order", symbol="BTCUSD_PERP", orderId=ack["orderId"])["status"] == "EXPIRED"
    assert levels(ex, "BTCUSD_PERP", "asks")[0][0] == ask              # nothing taken
    resting = client.cm_order(side="BUY", type="LIMIT", timeInForce="GTX", quantity="3", price=f"{bid}",
                              newOrderRespType="RESULT")
    assert resting["status"] == "NEW"


def test_ioc_and_fok(ex, client):
    asks = levels(ex, "BTCUSD_PERP", "asks")
    fok = client.cm_order(side="BUY", type="LIMIT", timeInForce="FOK", quantity=str(asks[0][1] + 1),
                          price=f"{asks[0][0]}", newOrderRespType="RESULT")
    assert fok["status"] == "EXPIRED" and fok["executedQty"] == "0"
    ioc = client.cm_order(side="BUY", type="LIMIT", timeInForce="IOC", quantity=str(asks[0][1] + 1),
                          price=f"{asks[0][0]}", newOrderRespType="RESULT")
    assert ioc["status"] == "EXPIRED" and ioc["executedQty"] == str(asks[0][1])
    assert client.ok("GET", "/dapi/v1/openOrders") == []


def test_a_resting_reduce_only_order_expires_when_its_position_is_gone(ex, client):
    client.cm_order(side="SELL", type="MARKET", quantity="10")
    bid, _ = top(ex, "BTCUSD_PERP")
    order = client.cm_order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="10", price=f"{bid}",
                            reduceOnly="true")
    client.cm_order(side="BUY", type="MARKET", quantity="10", reduceOnly="true")     # closed elsewhere
    step(ex, "BTCUSD_PERP", bids={bid: 0}, asks={bid: 20})                           # trades through
    done = client.ok("GET", "/dapi/v1/order", symbol="BTCUSD_PERP", orderId=order["orderId"])
    assert done["status"] == "EXPIRED" and done["executedQty"] == "0"
    assert client.position()["positionAmt"] == "0"


def test_successful_orders_carry_order_count_headers(ex, client):
    spot = client.send("POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                 "quantity": "0.001"})
    assert spot.headers["X-MBX-ORDER-COUNT-10S"] == "1" and spot.headers["X-MBX-ORDER-COUNT-1D"] == "1"
    cm = client.send("POST", "/dapi/v1/order", {"symbol": "BTCUSD_PERP", "side": "BUY", "type": "MARKET",
                                                "quantity": "1"})
    assert cm.headers["X-MBX-ORDER-COUNT-1M"] == "1" and "X-MBX-USED-WEIGHT-1M" in cm.headers
