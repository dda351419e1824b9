"""The bot's WebSocket API clients (arbitrage/exchanges/ws_api*.py): signing as binance-ws-api.md
§3 documents, error envelopes mapped to the REST error types, and against the local exchange over
loopback: place / status / cancel on both products, an answer lost (unknown outcome, resolved by
query, never re-sent), a disconnect with a request in flight, -1021 re-sync, 429 honoured."""
from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest

from arbitrage.exchanges.errors import (
    CancelRejected, ClockSkew, IpBanned, OrderNotFound, RateLimited, Rejected, Retryable,
    UnknownOutcome,
)
from arbitrage.exchanges.binance_coinm import CoinmClient
from arbitrage.exchanges.binance_spot import SpotClient
from arbitrage.exchanges.ws_api import answer_error, ws_signature
from arbitrage.models import COINM, SELL, SPOT, OrderRequest
from tests.fast_lanes_kit import (
    SPOT_SYMBOL, coinm_api, far_perp_buy, far_spot_buy, http, spot_api,
)
from tests.sim_clients import PERP, ex  # noqa: F401 (fixture by name)

K = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
S = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


# -- unit: signing and error envelopes ----------------------------------------------------------
def test_signature_matches_the_references_vectors():
    doc = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
           "quantity": "0.01000000", "price": "52000.00", "recvWindow": 100,
           "timestamp": 1645423376532, "apiKey": K}
    assert ws_signature(S, doc) == "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
    maker = {"apiKey": K, "newClientOrderId": "mm-000001", "newOrderRespType": "RESULT",
             "price": "60000.00", "quantity": "0.00100000", "recvWindow": 5000, "side": "BUY",
             "symbol": "BTCUSDT", "timestamp": 1747385641636, "type": "LIMIT_MAKER"}
    assert ws_signature(S, maker) == "288971a3d3a7d28339d097ee94ef2cf5fdbb35d2346805833c98c389bb15bd12"
    cm = {"apiKey": K, "newClientOrderId": "hedge-1", "newOrderRespType": "RESULT",
          "price": "95000.1", "quantity": "1", "recvWindow": 5000, "reduceOnly": True,
          "side": "SELL", "symbol": "BTCUSD_PERP", "timeInForce": "GTX",
          "timestamp": 1728413737111, "type": "LIMIT"}
    assert ws_signature(S, cm) == "db7c3821de77518ac195210c7041c89cb97cc5421e23845bc523d623fd249375"


LIMITS = [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
           "limit": 6000, "count": 322}]


@pytest.mark.parametrize("answer, cls, code", [
    ({"id": 1, "status": 400, "error": {"code": -2010, "msg": "Account has insufficient balance for requested action."},
      "rateLimits": LIMITS}, Rejected, -2010),
    ({"id": 1, "status": 400, "error": {"code": -2013, "msg": "Order does not exist."}}, OrderNotFound, -2013),
    ({"id": 1, "status": 400, "error": {"code": -2011, "msg": "Unknown order sent."}}, CancelRejected, -2011),
    ({"id": 1, "status": 400, "error": {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}},
     ClockSkew, -1021),
    ({"id": 1, "status": 503, "error": {"code": -1007, "msg": "Timeout waiting for response from backend server. "
                                                              "Send status unknown; execution status unknown."}},
     UnknownOutcome, -1007),
])
def test_error_answers_become_the_rest_error_types(answer, cls, code):
    exc = answer_error(answer, "order.place", now=0.0)
    assert type(exc) is cls and exc.code == code and exc.status == answer["status"]


def test_429_and_418_carry_the_retry_after_of_error_data():
    now = 1659142907.531
    limited = answer_error({"id": 1, "status": 429, "error": {
        "code": -1003, "msg": "Too much request weight used",
        "data": {"serverTime": 1659142907531, "retryAfter": 1659142917531}}}, "order.place", now)
    assert type(limited) is RateLimited and limited.retry_after == pytest.approx(10.0)
    banned = answer_error({"id": 1, "status": 418, "error": {
        "code": -1003, "msg": "Way too much request weight used; IP banned until 1659146400000.",
        "data": {"serverTime": 1659142907531, "retryAfter": 1659146400000}}}, "order.place", now)
    assert type(banned) is IpBanned and banned.retry_after == pytest.approx(3492.469)


# -- integration: the local exchange over loopback -------------------------------------------------
@pytest.fixture
def spot(ex):
    api = spot_api(ex)
    api.conn.start()
    yield api
    api.conn.stop()


@pytest.fixture
def cm(ex):
    api = coinm_api(ex)
    api.conn.start()
    yield api
    api.conn.stop()


def test_place_status_cancel_on_both_products(ex, spot, cm):
    for api, req in ((spot, far_spot_buy(ex, "ws-s-1")), (cm, far_perp_buy(ex, "ws-c-1"))):
        placed = api.place(req)
        assert (placed.market, placed.client_order_id, placed.status) == (req.market, req.client_order_id, "NEW")
        assert placed.price == req.price and placed.orig_qty == req.quantity
        assert api.status(req.symbol, req.client_order_id).order_id == placed.order_id
        assert api.cancel(req.symbol, req.client_order_id).status == "CANCELED"
        with pytest.raises(CancelRejected):
            api.cancel(req.symbol, req.client_order_id)
    with pytest.raises(OrderNotFound):
        spot.status(SPOT_SYMBOL, "never-sent")
    assert spot.account().can_trade and cm.can_trade()
    assert cm.position(PERP).amount == 0


def test_a_spot_taker_answer_carries_its_fills_as_rest_does(ex, spot):
    state = spot.place(OrderRequest(SPOT, SPOT_SYMBOL, SELL, "MARKET", Decimal("0.001"), "ws-mkt-1"))
    assert state.status == "FILLED" and sum(f.qty for f in state.fills) == Decimal("0.001")
    rest = SpotClient(http(ex)).get_order(SPOT_SYMBOL, "ws-mkt-1")
    assert (rest.executed_qty, rest.cum_quote) == (state.executed_qty, state.cum_quote)


def test_a_lost_answer_is_an_unknown_outcome_resolved_by_query_not_resent(ex):
    spot, cm = spot_api(ex, timeout=0.5), coinm_api(ex, timeout=0.5)
    spot.conn.start(), cm.conn.start()
    try:
        for api, req, market in ((spot, far_spot_buy(ex, "lost-s"), SPOT),
                                 (cm, far_perp_buy(ex, "lost-c"), COINM)):
            ex.lose_next_ws_answers(market)
            before = ex.orders_received(market)
            with pytest.raises(UnknownOutcome):
                api.place(req)
            assert ex.orders_received(market) == before + 1          # sent once, never again
            assert api.status(req.symbol, req.client_order_id).status == "NEW"   # it did land
            rest = (SpotClient if market == SPOT else CoinmClient)(http(ex))
            assert rest.get_order(req.symbol, req.client_order_id).status == "NEW"
            api.cancel(req.symbol, req.client_order_id)
        assert ex.fault_counts()["wsapi_lost"] == 2
    finally:
        spot.conn.stop(), cm.conn.stop()


def test_a_disconnect_with_a_request_in_flight_leaves_it_unknown_and_reconnects(ex):
    spot = spot_api(ex, timeout=5.0)
    spot.conn.start()
    try:
        ex.delay_next_ws_answers(SPOT, 2.0)
        outcome: list[BaseException] = []

        def place():
            try:
                spot.place(far_spot_buy(ex, "cut-1"))
            except BaseException as exc:
                outcome.append(exc)
        worker = threading.Thread(target=place)
        worker.start()
        time.sleep(0.3)
        spot.conn.reconnect()                 # the socket drops while the answer is pending
        worker.join(5)
        assert len(outcome) == 1 and isinstance(outcome[0], UnknownOutcome)
        deadline = time.monotonic() + 5
        while not spot.conn.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert spot.conn.connects == 2
        assert spot.status(SPOT_SYMBOL, "cut-1").status == "NEW"
        spot.cancel(SPOT_SYMBOL, "cut-1")
    finally:
        spot.conn.stop()


def test_not_connected_is_a_definite_failure_nothing_sent(ex):
    api = spot_api(ex)                         # never started
    with pytest.raises(Retryable):
        api.place(far_spot_buy(ex, "never-1"))
    assert ex.orders_received(SPOT) == 0


def test_minus_1021_resyncs_the_shared_clock_and_sends_once_more(ex, spot):
    ex.shift_clock(-3000)                      # the server's clock 3 s behind ours: -1021
    state = spot.place(far_spot_buy(ex, "clock-1"))
    assert state.status == "NEW" and spot.conn.http.clock_resyncs == 1
    assert spot.conn.http.offset_ms < -2000
    spot.cancel(SPOT_SYMBOL, "clock-1")


def test_a_429_blocks_rest_and_ws_alike_until_retry_after(ex):
    rest = http(ex)
    api = spot_api(ex, rest=rest)
    api.conn.start()
    try:
        ex.rate_limit_next(30)
        with pytest.raises(RateLimited):
            api.account()
        received = ex.orders_received(SPOT)
        with pytest.raises(RateLimited, match="not sent"):
            api.place(far_spot_buy(ex, "blocked-1"))
        with pytest.raises(RateLimited, match="not sent"):
            SpotClient(rest).account()
        assert ex.orders_received(SPOT) == received and rest.blocked_for() > 25
    finally:
        api.conn.stop()
