"""ORDER_TRANSPORT=ws: one product's orders over its WebSocket API connection, with the product's
REST client as the fallback. Fits `execution.Gateway` (new_order / get_order / cancel_order /
fills / position) and adds `send_order`, which writes an order now and reads its answer later.

The fallback is taken only when the request was never written (`NotConnected`): the same order
then goes by REST. A request that was written and not answered is `UnknownOutcome`, resolved by
client order id as on REST — never sent again, by either lane. Queries (status) go by WebSocket
and, when that connection cannot answer, by REST (a query is safe to repeat); trade lists and
the position are REST (the ledger's exact source).
"""
from __future__ import annotations

import logging

from arbitrage.exchanges.errors import ClockSkew, UnknownOutcome
from arbitrage.exchanges.ws_api import NotConnected
from arbitrage.models import Fill, OrderRequest, OrderState

log = logging.getLogger("arbitrage.exchanges.ws_gateway")


class WsGateway:
    def __init__(self, rest, ws) -> None:
        """`rest`: SpotClient / CoinmClient; `ws`: SpotWsApi / CoinmWsApi on a started connection."""
        self.rest, self.ws = rest, ws
        self.http = rest.http          # one Retry-After window per IP: execution waits it out
        self.sent_ws = 0               # orders written to the WebSocket API
        self.sent_rest = 0             # orders that went by REST because it was down

    def __getattr__(self, name: str):  # anything else a caller asks of a venue client: REST
        return getattr(self.rest, name)

    @property
    def connected(self) -> bool:
        return self.ws.conn.connected

    # -- orders ------------------------------------------------------------------------------
    def new_order(self, req: OrderRequest) -> OrderState:
        try:
            pending = self.ws.place_send(req)
        except NotConnected:
            return self._by_rest(req)
        self.sent_ws += 1
        return self._answer(req, pending)

    def send_order(self, req: OrderRequest) -> "SentOrder":
        """Write `req` now, on this thread (the engine's: no hand-off before the socket); the
        answer is read by `SentOrder.result()` on another. Nothing here raises: an error is
        raised by `result()`, where the executor handles every outcome."""
        return self.prepare_order(req).write()

    def prepare_order(self, req: OrderRequest) -> "SentOrder":
        """Build and sign `req`; `SentOrder.write()` puts it on the wire (two legs prepared
        first leave back to back)."""
        try:
            return SentOrder(self, req, self.ws.place_prepare(req), None)
        except Exception as exc:                             # noqa: BLE001 - raised by result()
            return SentOrder(self, req, None, exc)

    def _answer(self, req: OrderRequest, pending, timeout: float | None = None) -> OrderState:
        try:
            return self.ws.place_wait(req, pending, timeout)
        except ClockSkew:
            # refused before execution: sent once more the connection's way (it re-syncs first)
            log.warning("[ORDER] %s refused for the clock (WS): re-synced and sent again",
                        req.client_order_id)
            self.http.sync_time(self.ws.conn._time_path)
            return self.new_order(req)

    def _by_rest(self, req: OrderRequest) -> OrderState:
        self.sent_rest += 1
        log.warning("[ORDER] %s by REST: the WebSocket API is not connected", req.client_order_id)
        return self.rest.new_order(req)

    def get_order(self, symbol: str, client_order_id: str) -> OrderState:
        try:
            return self.ws.status(symbol, client_order_id)
        except (NotConnected, UnknownOutcome):
            return self.rest.get_order(symbol, client_order_id)

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        try:
            return self.ws.cancel(symbol, client_order_id)
        except NotConnected:
            return self.rest.cancel_order(symbol, client_order_id)

    def amend_keep_priority(self, symbol: str, client_order_id: str, new_qty) -> OrderState:
        """Spot only. By REST when the WebSocket API is down (never written: safe)."""
        try:
            return self.ws.amend_keep_priority(symbol, client_order_id, new_qty)
        except NotConnected:
            return self.rest.amend_keep_priority(symbol, client_order_id, new_qty)

    def cancel_replace(self, cancel_client_id: str, req: OrderRequest):
        """Spot only. By REST only when it was never written (NotConnected)."""
        try:
            return self.ws.cancel_replace(cancel_client_id, req)
        except NotConnected:
            self.sent_rest += 1
            return self.rest.cancel_replace(cancel_client_id, req)

    def fills(self, symbol: str, order_id: int) -> list[Fill]:
        return self.rest.fills(symbol, order_id)

    def position(self, symbol: str):
        return self.rest.position(symbol)


class SentOrder:
    """An order `send_order` wrote (or could not write); `result()` waits for its answer."""
    __slots__ = ("gateway", "req", "pending", "error")

    def __init__(self, gateway: WsGateway, req: OrderRequest, pending, error) -> None:
        self.gateway, self.req, self.pending, self.error = gateway, req, pending, error

    def write(self) -> "SentOrder":
        if self.pending is None or self.error is not None:
            return self
        try:
            self.gateway.ws.conn.write(self.pending)
        except NotConnected:
            self.pending = None                              # result() sends it by REST
        except Exception as exc:                             # noqa: BLE001 - raised by result()
            self.pending, self.error = None, exc
            return self
        else:
            self.gateway.sent_ws += 1
        return self

    @property
    def sent_ns(self) -> int:
        return self.pending.sent_ns if self.pending is not None else 0

    @property
    def timeout(self) -> float:
        return self.gateway.ws.conn.timeout

    def result(self, timeout: float | None = None) -> OrderState:
        """The answer (waiting up to `timeout`, else the connection's own), or its error."""
        if self.error is not None:
            raise self.error
        if self.pending is None:
            return self.gateway._by_rest(self.req)
        return self.gateway._answer(self.req, self.pending, timeout)
