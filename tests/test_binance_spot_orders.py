"""SpotClient trading endpoints: payloads exactly as in binance-reference §7.1, §7.2, §8.1, §9.3
-> domain types; what `new_order` puts on the wire; error mapping; a POST is sent once only."""
from __future__ import annotations

import copy
import socket
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from arbitrage.exchanges.binance_coinm import CoinmClient
from arbitrage.exchanges.binance_spot import SpotClient
from arbitrage.exchanges.errors import (
    BadResponse, CancelRejected, OrderNotFound, Rejected, Retryable, UnknownOutcome,
)
from arbitrage.exchanges.http import BinanceHttp, sign
from arbitrage.models import BUY, COINM, SELL, SPOT, OrderRequest

BASE = "https://api.test"
SECRET = "secret"
NOW_S = 1_700_000_000.123          # fake clock: timestamp=1700000000123

# binance-reference §7.1, RESULT + the FULL `fills`, verbatim
FULL = {"symbol": "BTCUSDT", "orderId": 28, "orderListId": -1,
        "clientOrderId": "6gCrw2kRUAF9CvJDGP16IP",
        "transactTime": 1507725176595, "price": "0.00000000", "origQty": "10.00000000",
        "executedQty": "10.00000000",
        "origQuoteOrderQty": "0.000000", "cummulativeQuoteQty": "10.00000000", "status": "FILLED",
        "timeInForce": "GTC", "type": "MARKET", "side": "SELL", "workingTime": 1507725176595,
        "selfTradePreventionMode": "NONE",
        "fills": [
            {"price": "4000.00000000", "qty": "1.00000000", "commission": "4.00000000",
             "commissionAsset": "USDT", "tradeId": 56},
            {"price": "3999.00000000", "qty": "5.00000000", "commission": "19.99500000",
             "commissionAsset": "USDT", "tradeId": 57}]}

# binance-reference §7.2 GET /api/v3/order, verbatim
QUERY = {"symbol": "LTCBTC", "orderId": 1, "orderListId": -1, "clientOrderId": "myOrder1",
         "price": "0.1", "origQty": "1.0",
         "executedQty": "0.0", "cummulativeQuoteQty": "0.0", "status": "NEW", "timeInForce": "GTC",
         "type": "LIMIT", "side": "BUY",
         "stopPrice": "0.0", "icebergQty": "0.0", "time": 1499827319559, "updateTime": 1499827319559,
         "isWorking": True,
         "workingTime": 1499827319559, "origQuoteOrderQty": "0.000000",
         "selfTradePreventionMode": "NONE"}

# binance-reference §7.2 DELETE /api/v3/order, verbatim
CANCEL = {"symbol": "LTCBTC", "origClientOrderId": "myOrder1", "orderId": 4, "orderListId": -1,
          "clientOrderId": "cancelMyOrder1",
          "transactTime": 1684804350068, "price": "2.00000000", "origQty": "1.00000000",
          "executedQty": "0.00000000",
          "origQuoteOrderQty": "0.000000", "cummulativeQuoteQty": "0.00000000", "status": "CANCELED",
          "timeInForce": "GTC",
          "type": "LIMIT", "side": "BUY", "selfTradePreventionMode": "NONE"}

# binance-reference §8.1, verbatim
MY_TRADES = [{"symbol": "BNBBTC", "id": 28457, "orderId": 100234, "orderListId": -1,
              "price": "4.00000100", "qty": "12.00000000",
              "quoteQty": "48.000012", "commission": "10.10000000", "commissionAsset": "BNB",
              "time": 1499865549590,
              "isBuyer": True, "isMaker": False, "isBestMatch": True}]

# binance-reference §9.3, verbatim
ACCOUNT = {"makerCommission": 15, "takerCommission": 15, "buyerCommission": 0,
           "sellerCommission": 0,
           "commissionRates": {"maker": "0.00150000", "taker": "0.00150000",
                               "buyer": "0.00000000", "seller": "0.00000000"},
           "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
           "requireSelfTradePrevention": False,
           "preventSor": False, "updateTime": 123456789, "accountType": "SPOT",
           "balances": [{"asset": "BTC", "free": "4723846.89208129", "locked": "0.00000000"},
                        {"asset": "LTC", "free": "4763368.68006011", "locked": "0.00000000"}],
           "permissions": ["SPOT"], "uid": 354937868}

UNKNOWN_1007 = {"code": -1007, "msg": "Timeout waiting for response from backend server. "
                                      "Send status unknown; execution status unknown."}


@pytest.fixture
def spot() -> SpotClient:
    return SpotClient(BinanceHttp(BASE, "key", SECRET, clock=lambda: NOW_S))


def order(**overrides) -> OrderRequest:
    fields = dict(market=SPOT, symbol="BTCUSDT", side=BUY, type="LIMIT",
                  quantity=Decimal("0.00100000"), price=Decimal("60000.010"),
                  client_order_id="t17-spot-open-0")
    fields.update(overrides)
    return OrderRequest(**fields)


def answer_for(req: OrderRequest) -> dict:
    """The §7.1 FULL answer, re-labelled with our request's client order id."""
    return dict(copy.deepcopy(FULL), clientOrderId=req.client_order_id)


def sent_body(rsps, index: int = 0) -> str:
    body = rsps.calls[index].request.body
    return body.decode() if isinstance(body, bytes) else body


def sent_query(rsps, index: int = 0) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(rsps.calls[index].request.url).query))


# --- parsing -----------------------------------------------------------------------------------

def test_new_order_parses_the_full_answer_with_its_fills(rsps, spot: SpotClient) -> None:
    rsps.add("POST", f"{BASE}/api/v3/order", json=FULL)
    req = order(side=SELL, type="MARKET", price=None, quantity=Decimal("10.00000000"),
                client_order_id="6gCrw2kRUAF9CvJDGP16IP")
    state = spot.new_order(req)
    assert (state.market, state.symbol, state.order_id, state.client_order_id) == (
        SPOT, "BTCUSDT", 28, "6gCrw2kRUAF9CvJDGP16IP")
    assert (state.side, state.type, state.status, state.final) == (SELL, "MARKET", "FILLED", True)
    assert state.orig_qty == Decimal("10") and state.executed_qty == Decimal("10")
    assert state.cum_quote == Decimal("10.00000000")
    assert state.avg_price == Decimal("1")                  # cummulativeQuoteQty / executedQty
    assert state.price == Decimal("0") and state.reduce_only is False
    assert state.update_ms == 1507725176595
    first, second = state.fills
    assert (first.trade_id, first.price, first.qty, first.commission, first.commission_asset) == (
        56, Decimal("4000"), Decimal("1"), Decimal("4"), "USDT")
    assert (second.trade_id, second.price, second.qty, second.commission) == (
        57, Decimal("3999"), Decimal("5"), Decimal("19.995"))
    assert second.quote_qty == Decimal("19995")             # price × qty, exact
    for fill in state.fills:
        assert (fill.market, fill.symbol, fill.order_id, fill.side) == (SPOT, "BTCUSDT", 28, SELL)
        assert fill.maker is False and fill.realized_pnl == 0 and fill.time_ms == 1507725176595
        assert isinstance(fill.price, Decimal) and isinstance(fill.commission, Decimal)


def test_resting_limit_has_no_fills_and_no_average(rsps, spot: SpotClient) -> None:
    req = order()
    rsps.add("POST", f"{BASE}/api/v3/order", json=dict(
        answer_for(req), status="NEW", type="LIMIT", price="60000.01000000",
        executedQty="0.00000000", cummulativeQuoteQty="0.00000000", fills=[]))
    state = spot.new_order(req)
    assert state.status == "NEW" and not state.final
    assert state.executed_qty == 0 and state.avg_price is None and state.fills == ()
    assert state.price == Decimal("60000.01")


def test_get_order_by_client_id(rsps, spot: SpotClient) -> None:
    rsps.add("GET", f"{BASE}/api/v3/order", json=QUERY)
    state = spot.get_order("LTCBTC", "myOrder1")
    sent = sent_query(rsps)
    assert (sent["symbol"], sent["origClientOrderId"]) == ("LTCBTC", "myOrder1")
    assert "timestamp" in sent and "recvWindow" in sent and "signature" in sent
    assert (state.order_id, state.client_order_id, state.status) == (1, "myOrder1", "NEW")
    assert state.price == Decimal("0.1") and state.orig_qty == Decimal("1.0")
    assert state.executed_qty == 0 and state.avg_price is None
    assert state.update_ms == 1499827319559 and state.fills == ()


def test_cancel_reports_the_orders_own_client_id(rsps, spot: SpotClient) -> None:
    rsps.add("DELETE", f"{BASE}/api/v3/order", json=CANCEL)
    state = spot.cancel_order("LTCBTC", "myOrder1")
    assert sent_query(rsps)["origClientOrderId"] == "myOrder1"
    # the answer's clientOrderId names the cancel request; the order is origClientOrderId
    assert (state.client_order_id, state.order_id, state.status) == ("myOrder1", 4, "CANCELED")
    assert state.price == Decimal("2") and state.update_ms == 1684804350068 and state.final


def test_open_orders(rsps, spot: SpotClient) -> None:
    rsps.add("GET", f"{BASE}/api/v3/openOrders", json=[QUERY])
    (state,) = spot.open_orders("LTCBTC")
    assert sent_query(rsps)["symbol"] == "LTCBTC"
    assert state.client_order_id == "myOrder1"
    rsps.replace("GET", f"{BASE}/api/v3/openOrders", json=[])
    assert spot.open_orders("LTCBTC") == []


def test_my_trades(rsps, spot: SpotClient) -> None:
    rsps.add("GET", f"{BASE}/api/v3/myTrades", json=MY_TRADES)
    (fill,) = spot.my_trades("BNBBTC", 100234)
    sent = sent_query(rsps)
    assert (sent["symbol"], sent["orderId"], sent["limit"]) == ("BNBBTC", "100234", "1000")
    assert (fill.market, fill.symbol, fill.order_id, fill.trade_id) == (SPOT, "BNBBTC", 100234, 28457)
    assert fill.side == BUY and fill.maker is False
    assert (fill.price, fill.qty, fill.quote_qty) == (
        Decimal("4.00000100"), Decimal("12"), Decimal("48.000012"))
    assert (fill.commission, fill.commission_asset) == (Decimal("10.1"), "BNB")
    assert fill.realized_pnl == 0 and fill.time_ms == 1499865549590


def test_trades_since_reads_the_symbols_executions_by_time(rsps, spot: SpotClient) -> None:
    rsps.add("GET", f"{BASE}/api/v3/myTrades", json=MY_TRADES)
    (fill,) = spot.trades_since("BNBBTC", 1499865000000)
    sent = sent_query(rsps)
    assert (sent["symbol"], sent["startTime"], sent["limit"]) == ("BNBBTC", "1499865000000", "1000")
    assert "endTime" not in sent and "orderId" not in sent
    assert (fill.order_id, fill.trade_id, fill.time_ms) == (100234, 28457, 1499865549590)
    spot.trades_since("BNBBTC", 1499865000000, 1499951399999)    # a window (24 h at most)
    assert sent_query(rsps, 1)["endTime"] == "1499951399999"


def test_account(rsps, spot: SpotClient) -> None:
    rsps.add("GET", f"{BASE}/api/v3/account", json=ACCOUNT)
    account = spot.account()
    assert "signature" in sent_query(rsps)
    assert account.free("BTC") == Decimal("4723846.89208129")
    assert account.balances["LTC"] == (Decimal("4763368.68006011"), Decimal("0"))
    assert account.total("USDT") == 0
    assert (account.maker_rate, account.taker_rate) == (Decimal("0.0015"), Decimal("0.0015"))
    assert account.can_trade is True and account.update_ms == 123456789


# --- what new_order sends ----------------------------------------------------------------------

def check_signed_body(body: str, expected: str) -> None:
    """`expected` params, then timestamp, recvWindow, and the signature last, over all of it."""
    signed, _, signature = body.rpartition("&signature=")
    assert signed == expected + "&timestamp=1700000000123&recvWindow=5000"
    assert signature == sign(SECRET, signed)


@pytest.mark.parametrize("overrides, expected", [
    (dict(), "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=60000.01"),
    (dict(type="LIMIT", time_in_force="IOC", quantity=Decimal("1E-5"), price=Decimal("6E+4")),
     "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.00001&price=60000"),
    (dict(type="LIMIT_MAKER", side=SELL, time_in_force="GTC"),   # no timeInForce on LIMIT_MAKER
     "symbol=BTCUSDT&side=SELL&type=LIMIT_MAKER&quantity=0.001&price=60000.01"),
    (dict(type="MARKET", price=None, quantity=Decimal("0.12345")),
     "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.12345"),
], ids=["limit", "limit-ioc-exponents", "limit-maker", "market"])
def test_new_order_sends_exactly_binances_parameters(rsps, spot: SpotClient, overrides,
                                                     expected) -> None:
    req = order(**overrides)
    rsps.add("POST", f"{BASE}/api/v3/order", json=answer_for(req))
    spot.new_order(req)
    call = rsps.calls[0].request
    assert urlsplit(call.url).query == ""                   # everything in the signed body
    assert call.headers["X-MBX-APIKEY"] == "key"
    check_signed_body(sent_body(rsps), expected + f"&newClientOrderId={req.client_order_id}"
                      "&newOrderRespType=FULL")


@pytest.mark.parametrize("overrides", [
    dict(quantity=0.001),                                    # a float: binary noise on the wire
    dict(quantity=Decimal("0")),
    dict(price=Decimal("NaN")),
    dict(reduce_only=True),                                  # COIN-M only
    dict(type="MARKET"),                                     # MARKET with a price
    dict(price=None),                                        # LIMIT without one
    dict(market=COINM),
    dict(side="buy"),
    dict(client_order_id="has space"),
    dict(client_order_id="x" * 37),
], ids=lambda o: next(iter(o)) + "=" + repr(next(iter(o.values())))[:12])
def test_invalid_requests_are_refused_before_sending(rsps, spot: SpotClient, overrides) -> None:
    with pytest.raises((ValueError, TypeError)):
        spot.new_order(order(**overrides))
    assert len(rsps.calls) == 0


# --- errors ------------------------------------------------------------------------------------

def test_limit_maker_that_would_take_is_rejected_with_binances_message(rsps, spot) -> None:
    rsps.add("POST", f"{BASE}/api/v3/order", status=400,
             json={"code": -2010, "msg": "Order would immediately match and take."})
    with pytest.raises(Rejected) as info:
        spot.new_order(order(type="LIMIT_MAKER"))
    assert type(info.value) is Rejected
    assert (info.value.code, info.value.msg) == (-2010, "Order would immediately match and take.")


def test_query_of_an_unknown_order_is_order_not_found(rsps, spot: SpotClient) -> None:
    rsps.add("GET", f"{BASE}/api/v3/order", status=400,
             json={"code": -2013, "msg": "Order does not exist."})
    with pytest.raises(OrderNotFound) as info:
        spot.get_order("BTCUSDT", "t17-spot-open-0")
    assert isinstance(info.value, Rejected) and info.value.code == -2013
    assert info.value.msg == "Order does not exist."


def test_cancel_of_an_unknown_order_is_cancel_rejected(rsps, spot: SpotClient) -> None:
    rsps.add("DELETE", f"{BASE}/api/v3/order", status=400,
             json={"code": -2011, "msg": "Unknown order sent."})
    with pytest.raises(CancelRejected) as info:
        spot.cancel_order("BTCUSDT", "t17-spot-open-0")
    assert isinstance(info.value, Rejected) and info.value.code == -2011


@pytest.mark.parametrize("status, kwargs", [
    (503, dict(json=UNKNOWN_1007)),
    (500, dict(body=b"")),
    (502, dict(body=b"<html><title>502 Bad Gateway</title></html>")),
    (408, dict(json={"code": -1007, "msg": "Timeout waiting for response from backend server."})),
    (408, dict(json={"code": -1000, "msg": "timeout"})),       # the HTTP layer calls 408 Retryable
], ids=["503-1007", "500-empty", "502-html", "408-1007", "408-other"])
def test_order_post_without_a_definite_answer_is_unknown_outcome(rsps, spot, status,
                                                                 kwargs) -> None:
    rsps.add("POST", f"{BASE}/api/v3/order", status=status, **kwargs)
    with pytest.raises(UnknownOutcome) as info:
        spot.new_order(order())
    assert info.value.status == status
    assert len(rsps.calls) == 1                              # never re-sent


def test_read_timeout_on_post_is_unknown_outcome_after_one_request(rsps, spot) -> None:
    rsps.add("POST", f"{BASE}/api/v3/order", body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(UnknownOutcome):
        spot.new_order(order())
    assert len(rsps.calls) == 1


def test_definite_server_refusal_stays_retryable(rsps, spot: SpotClient) -> None:
    rsps.add("POST", f"{BASE}/api/v3/order", status=503, body=b"Service Unavailable.")
    with pytest.raises(Retryable) as info:
        spot.new_order(order())
    assert not isinstance(info.value, UnknownOutcome) and len(rsps.calls) == 1


@pytest.mark.parametrize("body", [
    b'{"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"t17-sp',   # truncated
    b"<html><body>maintenance</body></html>",
    b'{"symbol":"BTCUSDT","orderId":28,"clientOrderId":"t17-spot-open-0"}',          # ACK shape
], ids=["truncated", "html", "ack-shape"])
def test_unreadable_2xx_answer_to_a_post_is_bad_response_and_unknown(rsps, spot, body) -> None:
    rsps.add("POST", f"{BASE}/api/v3/order", body=body, status=200)
    with pytest.raises(BadResponse) as info:
        spot.new_order(order())
    assert isinstance(info.value, UnknownOutcome)   # the order may exist: resolve by querying
    assert body[:10].decode() in str(info.value)      # quotes the first bytes
    assert len(rsps.calls) == 1


def test_answer_for_another_client_id_is_not_taken_as_ours(rsps, spot: SpotClient) -> None:
    rsps.add("POST", f"{BASE}/api/v3/order", json=FULL)    # clientOrderId 6gCrw2kRUAF9CvJDGP16IP
    with pytest.raises(UnknownOutcome, match="6gCrw2kRUAF9CvJDGP16IP"):
        spot.new_order(order())


@pytest.mark.parametrize("call, path, payload", [
    (lambda c: c.get_order("LTCBTC", "myOrder1"), "order", {k: v for k, v in QUERY.items()
                                                            if k != "status"}),
    (lambda c: c.get_order("LTCBTC", "myOrder1"), "order", dict(QUERY, executedQty="abc")),
    (lambda c: c.open_orders("LTCBTC"), "openOrders", QUERY),            # an object, not a list
    (lambda c: c.my_trades("BNBBTC", 1), "myTrades", [dict(MY_TRADES[0], isBuyer="true")]),
    (lambda c: c.account(), "account", dict(ACCOUNT, balances=None)),
], ids=["missing-status", "bad-decimal", "not-a-list", "string-bool", "no-balances"])
def test_wrong_shapes_are_bad_response_quoting_the_payload(rsps, spot, call, path,
                                                           payload) -> None:
    rsps.add("GET", f"{BASE}/api/v3/{path}", json=payload)
    with pytest.raises(BadResponse) as info:
        call(spot)
    assert not isinstance(info.value, UnknownOutcome)      # a query changes nothing
    assert "unexpected payload" in str(info.value) and "{" in str(info.value)


def test_html_answer_to_a_query_is_bad_response(rsps, spot: SpotClient) -> None:
    rsps.add("GET", f"{BASE}/api/v3/order", body=b"<html>oops</html>", status=200)
    with pytest.raises(BadResponse, match="oops"):
        spot.get_order("BTCUSDT", "t17-spot-open-0")


# --- a real socket: the read timeout happens in requests itself, and nothing retries -----------

def accepted_requests(listener: socket.socket) -> list[bytes]:
    """Every connection made to `listener` so far (already handshaken by the kernel), with the
    first bytes the client sent on it. Non-blocking: the client call has returned by now."""
    listener.setblocking(False)
    heads = []
    while True:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return heads
        with conn:
            conn.settimeout(10)
            heads.append(conn.recv(65536))


@pytest.mark.parametrize("make_client, req", [
    (SpotClient, order()),
    (CoinmClient, OrderRequest(market=COINM, symbol="BTCUSD_PERP", side=SELL, type="MARKET",
                               quantity=Decimal(3), client_order_id="t17-perp-open-0")),
], ids=["spot", "coinm"])
def test_silent_server_gives_unknown_outcome_and_exactly_one_post(make_client, req) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        client = make_client(BinanceHttp(f"http://127.0.0.1:{port}", "key", SECRET, timeout=1.0))
        with pytest.raises(UnknownOutcome):
            client.new_order(req)
        heads = accepted_requests(listener)
    assert len(heads) == 1
    assert heads[0].startswith(f"POST {client.PREFIX}/order HTTP/1.1".encode())
