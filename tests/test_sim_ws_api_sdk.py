"""The local exchange's WebSocket API and user streams driven by Binance's official SDKs
(binance-sdk-spot, binance-sdk-derivatives-trading-coin-futures; requirements-dev.txt): their
`websocket_api` clients place, query, modify and cancel orders, and their user-stream callbacks
receive each event as the SDK's own model class (a field of the wrong type would leave a raw dict,
binance-ws-api.md §7.2). Every client stays on loopback (tests.sim_clients.loopback_only)."""
from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

pytest.importorskip("binance_sdk_spot", reason="dev requirement (requirements-dev.txt)")
pytest.importorskip("binance_sdk_derivatives_trading_coin_futures", reason="dev requirement")

from binance_common.configuration import (  # noqa: E402
    ConfigurationWebSocketAPI, ConfigurationWebSocketStreams,
)
from binance_sdk_derivatives_trading_coin_futures.derivatives_trading_coin_futures import (  # noqa: E402
    DerivativesTradingCoinFutures,
)
from binance_sdk_spot.spot import Spot  # noqa: E402

from arbitrage.sim import LocalExchange  # noqa: E402
from tests.sim_clients import (  # noqa: E402,F401 (fixtures by name)
    PERP, SPOT, best, ex, loopback_only, sdk_types_match,
)
from tests.ws_api_client import rest  # noqa: E402

D = Decimal


def ws_config(ex: LocalExchange, url: str) -> ConfigurationWebSocketAPI:
    return ConfigurationWebSocketAPI(api_key=ex.api_key, api_secret=ex.api_secret, stream_url=url,
                                     reconnect_attempts=1)


async def until(events: list, count: int, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if len(events) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{len(events)} of {count} events after {timeout} s: {events}")


def kinds(events: list) -> list[str]:
    return [type(e.actual_instance).__name__ for e in events]


def test_the_spot_sdk_trades_and_hears_its_fills_on_one_connection(ex):
    bid = best(ex, SPOT)[0]
    price = f"{bid * D('0.98'):.2f}"

    async def session():
        ws = await Spot(config_ws_api=ws_config(ex, ex.ws_api_url)).websocket_api.create_connection()
        assert ws is not None
        events: list = []
        subscription = await ws.user_data_stream_subscribe_signature()
        subscription.stream.on("message", events.append)
        try:
            placed = await ws.order_place(symbol=SPOT, side="BUY", type="LIMIT", time_in_force="GTC", price=price,
                                          quantity="0.00100", new_client_order_id="sdk-1",
                                          new_order_resp_type="RESULT", recv_window=5000)
            result = placed.data().result
            assert (result.status, result.client_order_id, result.price) == ("NEW", "sdk-1", f"{D(price):.8f}")
            assert {r.rateLimitType for r in placed.rate_limits} == {"ORDERS", "REQUEST_WEIGHT"}
            status = (await ws.order_status(symbol=SPOT, orig_client_order_id="sdk-1")).data().result
            assert status.order_id == result.order_id and status.is_working is True
            assert [o.order_id for o in (await ws.open_orders_status(symbol=SPOT)).data().result] == [result.order_id]
            amended = (await ws.order_amend_keep_priority(symbol=SPOT, order_id=result.order_id, new_qty="0.0005",
                                                          new_client_order_id="sdk-1")).data().result
            assert amended.amended_order.qty == "0.00050000"
            replaced = (await ws.order_cancel_replace(
                symbol=SPOT, cancel_replace_mode="STOP_ON_FAILURE", cancel_order_id=result.order_id, side="BUY",
                type="LIMIT", time_in_force="GTC", price=price, quantity="0.00100",
                new_client_order_id="sdk-2")).data().result
            assert (replaced.cancel_result, replaced.new_order_result) == ("SUCCESS", "SUCCESS")
            canceled = (await ws.order_cancel(symbol=SPOT, orig_client_order_id="sdk-2")).data().result
            assert canceled.status == "CANCELED"
            again = (await ws.order_cancel(symbol=SPOT, orig_client_order_id="sdk-2")).data()
            assert again == {"error": {"code": -2011, "msg": "Unknown order sent."}}
            sold = (await ws.order_place(symbol=SPOT, side="SELL", type="MARKET", quantity="0.00200")).data().result
            assert sold.status == "FILLED" and sold.fills
            account = (await ws.account_status(omit_zero_balances=True)).data().result
            commission = (await ws.account_commission(symbol=SPOT)).data().result
            assert commission.standard_commission.maker == "0.00100000"
            session_now = (await ws.session_status()).data().result
            assert session_now.user_data_stream is True
            await until(events, 12)
            return events, sold, account
        finally:
            await ws.close_connection()

    events, sold, account = asyncio.run(session())
    names = kinds(events)
    assert set(names) == {"ExecutionReport", "OutboundAccountPosition"}, names
    reports = [e.actual_instance for e in events if type(e.actual_instance).__name__ == "ExecutionReport"]
    assert [(r.x, r.X) for r in reports if r.i != sold.order_id] == [
        ("NEW", "NEW"), ("REPLACED", "NEW"), ("CANCELED", "CANCELED"), ("NEW", "NEW"), ("CANCELED", "CANCELED")]
    fills = [r for r in reports if r.i == sold.order_id and r.x == "TRADE"]
    trades = rest(ex.rest_url, ex.api_key, ex.api_secret, "GET", "/api/v3/myTrades", symbol=SPOT,
                  orderId=sold.order_id).json()
    assert [(f.t, f.l, f.L, f.n) for f in fills] == [(t["id"], t["qty"], t["price"], t["commission"]) for t in trades]
    via_rest = rest(ex.rest_url, ex.api_key, ex.api_secret, "GET", "/api/v3/account").json()["balances"]
    assert [(b.asset, b.free, b.locked) for b in account.balances] == [
        (b["asset"], b["free"], b["locked"]) for b in via_rest if D(b["free"]) or D(b["locked"])]


def test_the_coinm_sdk_trades_over_the_ws_api_and_hears_the_listen_key_stream(ex):
    bid = best(ex, PERP)[0]

    async def session():
        cm = DerivativesTradingCoinFutures(config_ws_api=ws_config(ex, ex.ws_dapi_url),
                                           config_ws_streams=ConfigurationWebSocketStreams(stream_url=ex.ws_url))
        ws = await cm.websocket_api.create_connection()
        streams = await cm.websocket_streams.create_connection()
        events: list = []
        try:
            key = (await ws.start_user_data_stream()).data().result.listen_key
            (await streams.user_data(key)).on("message", events.append)
            await asyncio.sleep(0.3)
            bought = (await ws.new_order(symbol=PERP, side="BUY", type="MARKET", quantity="2",
                                         new_order_resp_type="RESULT")).data().result
            assert (bought.status, bought.executed_qty) == ("FILLED", "2")
            queried = (await ws.query_order(symbol=PERP, order_id=bought.order_id)).data().result
            assert queried.avg_price == bought.additional_properties.get("avgPrice", queried.avg_price)
            positions = (await ws.position_information(pair="BTCUSD")).data().result
            assert [p.position_amt for p in positions if p.symbol == PERP] == ["2"]
            balances = (await ws.futures_account_balance()).data().result
            account = (await ws.account_information()).data().result
            wallet = next(a.wallet_balance for a in account.assets if a.asset == "BTC")
            assert next(b.balance for b in balances if b.asset == "BTC") == wallet
            resting = (await ws.new_order(symbol=PERP, side="SELL", type="LIMIT", time_in_force="GTX", quantity="1",
                                          price=f"{bid * D('1.02'):.1f}", reduce_only="true",
                                          new_client_order_id="hedge-1")).data().result
            modified = (await ws.modify_order(symbol=PERP, side="SELL", quantity="2", price=f"{bid * D('1.03'):.1f}",
                                              orig_client_order_id="hedge-1")).data().result
            assert (modified.orig_qty, modified.order_id) == ("2", resting.order_id)
            canceled = (await ws.cancel_order(symbol=PERP, order_id=resting.order_id)).data().result
            assert canceled.status == "CANCELED"
            assert (await ws.keepalive_user_data_stream()).data().result.listen_key == key
            await until(events, 6)
            assert (await ws.close_user_data_stream()).data().result is not None
            return events, bought, wallet
        finally:
            await ws.close_connection()
            await streams.close_connection()

    events, bought, wallet = asyncio.run(session())
    assert kinds(events) == ["OrderTradeUpdate", "OrderTradeUpdate", "AccountUpdate", "OrderTradeUpdate",
                             "OrderTradeUpdate", "OrderTradeUpdate"], kinds(events)
    fill = events[1].actual_instance
    assert (fill.o.x, fill.o.X, fill.o.i, fill.o.z) == ("TRADE", "FILLED", bought.order_id, "2")
    assert events[2].actual_instance.a.m == "ORDER" and events[2].actual_instance.a.B[0].wb == wallet
    assert [e.actual_instance.o.x for e in events[3:]] == ["NEW", "AMENDMENT", "CANCELED"]
