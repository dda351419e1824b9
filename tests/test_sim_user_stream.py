"""User data streams of the local exchange (binance-ws-api.md §6, reference §12): spot events on
the WebSocket API connection after `userDataStream.subscribe.signature`, COIN-M events on the
listenKey stream; every execution on the account (REST or WebSocket API orders, resting fills,
forced reductions, funding) produces Binance's events in order; listenKey keep-alive and expiry."""
from __future__ import annotations

import time
from decimal import Decimal

import pytest

from arbitrage.sim import LocalExchange
from tests.sim_clients import PERP, SPOT, best, ex  # noqa: F401 (fixture by name)
from tests.ws_api_client import StreamClient, WsApiClient, rest

D = Decimal


@pytest.fixture
def spot(ex):
    client = WsApiClient(ex.ws_api_url, ex.api_key, ex.api_secret)
    assert client.call("userDataStream.subscribe.signature")["result"] == {"subscriptionId": 0}
    yield client
    client.close()


def call(ex, method: str, path: str, signed: bool = True, **params):
    return rest(ex.rest_url, ex.api_key, ex.api_secret, method, path, signed=signed, **params)


def offer_at(ex, symbol: str, price: Decimal, qty: float = 5.0) -> None:
    """The market offers `qty` at `price`: a resting BUY there fills as the maker."""
    ex.market.apply_changes(symbol, {}, {float(price): qty}, ex.market.clock_ms())


def listen(ex) -> tuple[str, StreamClient]:
    key = call(ex, "POST", "/dapi/v1/listenKey", signed=False).json()["listenKey"]
    return key, StreamClient(f"{ex.ws_url}/ws/{key}")


# -- spot ----------------------------------------------------------------------------------------
def test_a_rest_order_resting_then_filled_reaches_the_ws_api_subscription(ex, spot):
    bid = best(ex, SPOT)[0]
    placed = call(ex, "POST", "/api/v3/order", symbol=SPOT, side="BUY", type="LIMIT", timeInForce="GTC",
                  price=f"{bid:.2f}", quantity="0.00200", newClientOrderId="rest-1").json()
    new = spot.event(lambda e: e["e"] == "executionReport")
    assert (new["x"], new["X"], new["c"], new["i"], new["w"]) == ("NEW", "NEW", "rest-1", placed["orderId"], True)
    assert new["N"] is None and new["t"] == -1
    locked = spot.event(lambda e: e["e"] == "outboundAccountPosition")
    assert {b["a"]: b["l"] for b in locked["B"]}["USDT"] == f"{bid * D('0.002'):.8f}"
    offer_at(ex, SPOT, bid)
    fill = spot.event(lambda e: e["e"] == "executionReport")
    trade = call(ex, "GET", "/api/v3/myTrades", symbol=SPOT, orderId=placed["orderId"]).json()[0]
    assert (fill["x"], fill["X"], fill["m"], fill["t"]) == ("TRADE", "FILLED", True, trade["id"])
    assert (fill["l"], fill["L"], fill["z"], fill["n"], fill["N"]) == (
        trade["qty"], trade["price"], "0.00200000", trade["commission"], trade["commissionAsset"])
    assert D(fill["Z"]) == D(trade["quoteQty"])
    balances = spot.event(lambda e: e["e"] == "outboundAccountPosition")
    account = call(ex, "GET", "/api/v3/account").json()
    assert {b["a"]: (b["f"], b["l"]) for b in balances["B"]} == {
        b["asset"]: (b["free"], b["locked"]) for b in account["balances"] if b["asset"] in ("BTC", "USDT")}


def test_a_ws_cancel_is_reported_with_the_cancels_client_id(ex, spot):
    bid = best(ex, SPOT)[0]
    order = spot.call("order.place", {"symbol": SPOT, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                      "price": f"{bid * D('0.98'):.2f}", "quantity": "0.00100",
                                      "newClientOrderId": "mm-1"})["result"]
    spot.call("order.cancel", {"symbol": SPOT, "orderId": order["orderId"], "newClientOrderId": "undo-1"})
    kinds = [spot.event(lambda e: e["e"] == "executionReport") for _ in range(2)]
    assert [(e["x"], e["X"]) for e in kinds] == [("NEW", "NEW"), ("CANCELED", "CANCELED")]
    assert (kinds[1]["c"], kinds[1]["C"], kinds[1]["w"]) == ("undo-1", "mm-1", False)


def test_a_market_order_reports_each_fill_in_order(ex, spot):
    spot.call("order.place", {"symbol": SPOT, "side": "SELL", "type": "MARKET", "quantity": "0.05000"})
    reports = []
    while not reports or reports[-1]["X"] != "FILLED":
        reports.append(spot.event(lambda e: e["e"] == "executionReport"))
    assert reports[0]["x"] == "NEW" and all(r["x"] == "TRADE" for r in reports[1:])
    cumulative = [D(r["z"]) for r in reports]
    assert cumulative == sorted(cumulative) and cumulative[-1] == D("0.05")
    assert sum(D(r["l"]) for r in reports) == D("0.05")


def test_one_subscription_per_connection_and_unsubscribe_ends_it(ex, spot):
    again = spot.call("userDataStream.subscribe.signature")
    assert again["error"] == {"code": -2035, "msg": "User Data Stream subscription already active."}
    assert spot.call("session.status", signed=False)["result"]["userDataStream"] is True
    assert spot.call("userDataStream.unsubscribe", {"subscriptionId": 0}, signed=False)["result"] == {}
    assert spot.event()["e"] == "eventStreamTerminated"
    assert spot.call("session.status", signed=False)["result"]["userDataStream"] is False
    assert spot.call("userDataStream.unsubscribe", {"subscriptionId": 0}, signed=False)["error"]["code"] == -2036
    spot.call("order.place", {"symbol": SPOT, "side": "SELL", "type": "MARKET", "quantity": "0.00100"})
    assert not spot.pump(0.5)
    renewed = spot.call("userDataStream.subscribe.signature")["result"]
    assert renewed == {"subscriptionId": 1}


# -- COIN-M listenKey ----------------------------------------------------------------------------
def test_the_listen_key_over_rest_is_one_per_account_and_needs_only_the_key(ex):
    first = call(ex, "POST", "/dapi/v1/listenKey", signed=False).json()["listenKey"]
    assert len(first) == 64 and first.isalnum()
    assert call(ex, "POST", "/dapi/v1/listenKey", signed=False).json() == {"listenKey": first}
    assert call(ex, "PUT", "/dapi/v1/listenKey", signed=False).json() == {}
    assert call(ex, "DELETE", "/dapi/v1/listenKey", signed=False).json() == {}
    gone = call(ex, "PUT", "/dapi/v1/listenKey", signed=False)
    assert (gone.status_code, gone.json()) == (400, {"code": -1125, "msg": "This listenKey does not exist."})
    bare = rest(ex.rest_url, "", "", "POST", "/dapi/v1/listenKey", signed=False)
    assert bare.json()["code"] == -2014


def test_a_coinm_fill_is_order_trade_update_then_account_update(ex):
    key, stream = listen(ex)
    try:
        placed = call(ex, "POST", "/dapi/v1/order", symbol=PERP, side="BUY", type="MARKET", quantity="3",
                      newClientOrderId="cm-1").json()
        new, trade, account = stream.next(), stream.next(), stream.next()
        assert (new["e"], new["o"]["x"], new["o"]["X"], new["o"]["i"]) == ("ORDER_TRADE_UPDATE", "NEW", "NEW",
                                                                           placed["orderId"])
        assert "n" not in new["o"] and "N" not in new["o"]     # left out without a commission
        fills = call(ex, "GET", "/dapi/v1/userTrades", symbol=PERP).json()
        assert trade["o"]["x"] == "TRADE" and trade["o"]["X"] == ("FILLED" if len(fills) == 1 else "PARTIALLY_FILLED")
        assert (trade["o"]["t"], trade["o"]["n"], trade["o"]["rp"]) == (fills[0]["id"], fills[0]["commission"],
                                                                        fills[0]["realizedPnl"])
        assert account["e"] == "ACCOUNT_UPDATE" and account["a"]["m"] == "ORDER"
        wallet = call(ex, "GET", "/dapi/v1/account").json()
        btc = next(a for a in wallet["assets"] if a["asset"] == "BTC")
        assert account["a"]["B"][0] == {"a": "BTC", "wb": btc["walletBalance"], "cw": btc["walletBalance"], "bc": "0"}
        assert account["a"]["P"][0]["pa"] == "3" and account["a"]["P"][0]["ps"] == "BOTH"
    finally:
        stream.close()


def test_a_resting_coinm_order_filled_later_is_reported_as_maker(ex):
    key, stream = listen(ex)
    try:
        bid = best(ex, PERP)[0]
        call(ex, "POST", "/dapi/v1/order", symbol=PERP, side="BUY", type="LIMIT", timeInForce="GTC",
             quantity="2", price=f"{bid:.1f}", newClientOrderId="cm-rest")
        assert stream.next()["o"]["x"] == "NEW"
        offer_at(ex, PERP, bid)
        fill = stream.until(lambda e: e["e"] == "ORDER_TRADE_UPDATE")
        assert (fill["o"]["x"], fill["o"]["X"], fill["o"]["m"], fill["o"]["ap"]) == ("TRADE", "FILLED", True,
                                                                                      f"{bid:.1f}")
    finally:
        stream.close()


def test_funding_and_forced_reductions_reach_the_listen_key_stream(ex):
    call(ex, "POST", "/dapi/v1/order", symbol=PERP, side="BUY", type="MARKET", quantity="4")
    key, stream = listen(ex)
    try:
        [row] = ex.settle_funding_now(D("0.0001"))
        funding = stream.next()
        assert (funding["e"], funding["a"]["m"]) == ("ACCOUNT_UPDATE", "FUNDING_FEE")
        assert D(funding["a"]["B"][0]["wb"]) == ex.trading.account.balance("BTC") and row.income < 0
        ex.reduce_position(PERP, 1, adl=True)
        adl = [stream.next() for _ in range(3)]
        assert [e["e"] for e in adl] == ["ORDER_TRADE_UPDATE", "ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"]
        assert adl[0]["o"]["c"] == "adl_autoclose" and adl[1]["o"]["x"] == "TRADE"
        assert adl[2]["a"]["P"][0]["pa"] == "3"
        ex.reduce_position(PERP, 1, adl=False)
        liquidation = [stream.next() for _ in range(3)]
        assert liquidation[1]["o"]["o"] == "LIQUIDATION" and liquidation[1]["o"]["x"] == "CALCULATED"
        assert liquidation[1]["o"]["c"].startswith("autoclose-") and liquidation[2]["a"]["P"][0]["pa"] == "2"
    finally:
        stream.close()


def test_the_combined_stream_subscription_gets_the_envelope(ex):
    key = call(ex, "POST", "/dapi/v1/listenKey", signed=False).json()["listenKey"]
    stream = StreamClient(f"{ex.ws_url}/stream")
    try:
        stream.ws.send('{"method":"SUBSCRIBE","params":["%s"],"id":"5f1c-uuid"}' % key)
        assert stream.next() == {"result": None, "id": "5f1c-uuid"}
        call(ex, "POST", "/dapi/v1/order", symbol=PERP, side="SELL", type="MARKET", quantity="1")
        frame = stream.next()
        assert frame["stream"] == key and frame["data"]["e"] == "ORDER_TRADE_UPDATE"
    finally:
        stream.close()


def test_a_listen_key_without_keep_alive_expires_and_its_stream_goes_quiet():
    with LocalExchange(seed=5, speed=0.001, listen_key_ttl=0.6) as ex:
        key, stream = listen(ex)
        try:
            started = time.monotonic()
            expired = stream.next(timeout=5)
            assert expired == {"e": "listenKeyExpired", "E": expired["E"], "listenKey": key}
            assert time.monotonic() - started >= 0.4
            call(ex, "POST", "/dapi/v1/order", symbol=PERP, side="BUY", type="MARKET", quantity="1")
            assert stream.silent_for(0.5)
            assert call(ex, "PUT", "/dapi/v1/listenKey", signed=False).json()["code"] == -1125
        finally:
            stream.close()


def test_keep_alive_keeps_the_listen_key_alive():
    with LocalExchange(seed=5, speed=0.001, listen_key_ttl=0.8) as ex:
        key, stream = listen(ex)
        cm = WsApiClient(ex.ws_dapi_url, ex.api_key, ex.api_secret)
        try:
            for _ in range(4):                  # 1.6 s in all, twice the key's life
                time.sleep(0.4)
                assert cm.call("userDataStream.ping", signed=False, key_only=True)["result"] == {"listenKey": key}
            assert cm.call("userDataStream.start", signed=False, key_only=True)["result"] == {"listenKey": key}
            cm.call("order.place", {"symbol": PERP, "side": "BUY", "type": "MARKET", "quantity": "1"})
            assert stream.next(timeout=5)["e"] == "ORDER_TRADE_UPDATE"
            assert cm.call("userDataStream.stop", signed=False, key_only=True)["result"] == {}
            assert cm.call("userDataStream.ping", signed=False, key_only=True)["error"]["code"] == -1125
        finally:
            cm.close()
            stream.close()
