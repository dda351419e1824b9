"""The order methods both products' WebSocket APIs share (`order.place`, `order.cancel`,
`order.status`; binance-ws-api.md §4.1–§4.3, §5): the same parameters and the same parsers as REST
(`orders_wire`), so an answer becomes the same `OrderState` whichever lane carried it.

An order request without an answer is `UnknownOutcome` (from the connection): resolve it with
`status` / REST `get_order` by client order id, never by sending it again.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from arbitrage.exchanges.binance_rest import parsing
from arbitrage.exchanges.errors import UnreadableOrderAnswer
from arbitrage.exchanges.orders_wire import order_params
from arbitrage.exchanges.ws_api import WsApiConnection
from arbitrage.models import OrderRequest, OrderState

log = logging.getLogger(__name__)


class WsApiOrders:
    MARKET = ""
    ORDER_RESP_TYPE = ""
    parse_order: Callable[[dict[str, Any]], OrderState]

    def __init__(self, conn: WsApiConnection) -> None:
        self.conn = conn

    def place(self, req: OrderRequest, timeout: float | None = None) -> OrderState:
        """`order.place`. ValueError before sending when `req` cannot be valid; Rejected when
        refused; UnknownOutcome when it may or may not exist."""
        params = dict(order_params(req, self.MARKET, self.ORDER_RESP_TYPE))
        data = self.conn.call("order.place", params, timeout=timeout)
        return self._placed(req, data)

    def place_send(self, req: OrderRequest):
        """`order.place` written now, answered later (`place_wait`): two orders can leave back to
        back from one thread. NotConnected: not written."""
        return self.conn.write(self.place_prepare(req))

    def place_prepare(self, req: OrderRequest):
        """`order.place` built and signed, for `conn.write` later."""
        return self.conn.prepare("order.place", dict(order_params(req, self.MARKET,
                                                                 self.ORDER_RESP_TYPE)))

    def place_wait(self, req: OrderRequest, pending, timeout: float | None = None) -> OrderState:
        """The answer to `place_send`, as `place` returns it (ClockSkew is raised: the order was
        refused before execution, the caller may send it once more)."""
        return self._placed(req, self.conn.wait(pending, timeout))

    def _placed(self, req: OrderRequest, data: Any) -> OrderState:
        with parsing("WS", "order.place", data, UnreadableOrderAnswer):
            state = type(self).parse_order(data)
            if state.client_order_id != req.client_order_id:
                raise ValueError(f"answer is for client order id {state.client_order_id!r}")
        log.debug("[ORDER] ws %s %s -> %s", self.MARKET, req.client_order_id, state.status)
        return state

    def cancel(self, symbol: str, client_order_id: str) -> OrderState:
        """`order.cancel` by client order id; CancelRejected when unknown or already final."""
        return self._by_client_id("order.cancel", symbol, client_order_id)

    def status(self, symbol: str, client_order_id: str) -> OrderState:
        """`order.status`; OrderNotFound (-2013) when the exchange has no such order."""
        return self._by_client_id("order.status", symbol, client_order_id)

    def _by_client_id(self, method: str, symbol: str, client_order_id: str) -> OrderState:
        data = self.conn.call(method, {"symbol": symbol, "origClientOrderId": client_order_id})
        with parsing("WS", method, data):
            state = type(self).parse_order(data)
            if state.client_order_id != client_order_id:
                raise ValueError(f"answer is for client order id {state.client_order_id!r}")
            return state
