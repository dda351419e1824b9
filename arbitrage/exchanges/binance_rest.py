"""What the spot and COIN-M REST clients share: payload-shape guarding, filter parsing, the
public endpoints both venues have under their own prefix, and stream names.

Raw dicts stop in the venue files: every method returns a type from `arbitrage.models`. A payload
of the wrong shape becomes `BadResponse` with its first bytes, so callers only handle BinanceError.

The order endpoints (new / query / cancel / open orders) have the same paths and parameters on
both venues; only the answer's shape differs, so each venue supplies `parse_order`.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

from arbitrage.exchanges.errors import (
    BadResponse, CancelRejected, OrderNotFound, Rejected, Retryable, UnknownOutcome,
    UnknownSymbol, UnreadableOrderAnswer,
)
from arbitrage.exchanges.http import BinanceHttp, Params
from arbitrage.exchanges.orders_wire import order_params, rows
from arbitrage.exchanges.streams import parse_snapshot
from arbitrage.models import DepthSnapshot, OrderRequest, OrderState, SymbolRules

log = logging.getLogger(__name__)

# Binance codes the callers act on, as their own Rejected subclasses (reference §7.4, §10.5).
TYPED_REJECTIONS: dict[int, type[Rejected]] = {
    -1121: UnknownSymbol,    # "Invalid symbol."
    -2013: OrderNotFound,    # "Order does not exist."
    -2011: CancelRejected,   # "Unknown order sent." (cancel of an unknown or final order)
}
_ZERO = Decimal(0)


@contextmanager
def parsing(method: str, path: str, payload: Any,
            error: type[BadResponse] = BadResponse) -> Iterator[None]:
    """Turn a shape error while reading `payload` into `error` quoting its first bytes."""
    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError, InvalidOperation, AttributeError) as exc:
        head = json.dumps(payload, default=str)[:120]
        raise error(f"unexpected payload ({type(exc).__name__}: {exc}): {head!r}",
                    method=method, path=path) from None


def filters_by_type(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["filterType"]: f for f in entry["filters"]}


def dec(value: Any) -> Decimal:
    """Decimal from a wire string, or from a JSON number via its shortest repr (100 -> "100")."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError(f"not a decimal: {value!r}")
    return Decimal(value if isinstance(value, str) else str(value))


def grid_fields(filters: dict[str, dict[str, Any]]) -> dict[str, Decimal]:
    """PRICE_FILTER / LOT_SIZE / MARKET_LOT_SIZE as SymbolRules keyword arguments."""
    price, lot = filters["PRICE_FILTER"], filters["LOT_SIZE"]
    market_lot = filters.get("MARKET_LOT_SIZE")
    return dict(
        tick_size=dec(price["tickSize"]), min_price=dec(price["minPrice"]),
        max_price=dec(price["maxPrice"]), step_size=dec(lot["stepSize"]),
        min_qty=dec(lot["minQty"]), max_qty=dec(lot["maxQty"]),
        market_max_qty=dec(market_lot["maxQty"]) if market_lot else _ZERO,
    )


def call(http: BinanceHttp, method: str, path: str, params: Params = None,
         signed: bool = False) -> Any:
    """One request; the rejections callers act on come back as their typed subclasses."""
    try:
        return http.request(method, path, params, signed=signed)
    except Rejected as exc:
        typed = TYPED_REJECTIONS.get(exc.code) if type(exc) is Rejected else None
        if typed is None:
            raise
        raise typed(exc.msg, status=exc.status, code=exc.code,
                    method=exc.method, path=exc.path) from None


def get_for_symbol(http: BinanceHttp, path: str, params: dict[str, Any]) -> Any:
    """Unsigned GET; -1121 "Invalid symbol." arrives as UnknownSymbol."""
    return call(http, "GET", path, params)


def post_order(http: BinanceHttp, path: str, params: Params) -> Any:
    """The one order POST: sent once, never retried here. Anything that leaves its outcome open
    is UnknownOutcome, to be resolved by querying the client order id (design §7)."""
    try:
        return call(http, "POST", path, params, signed=True)
    except Retryable as exc:
        # 408 is Binance's "timeout waiting for the backend": like -1007, the order may exist.
        if exc.status != 408:
            raise
        raise UnknownOutcome(exc.msg, status=exc.status, code=exc.code,
                             method=exc.method, path=exc.path) from None
    except BadResponse as exc:
        if exc.status is None or not 200 <= exc.status < 300:
            raise   # e.g. a WAF page on 403: refused before reaching the exchange
        raise UnreadableOrderAnswer(exc.msg, status=exc.status, method=exc.method,
                                    path=exc.path) from None


class BinanceRestClient:
    """The endpoints spot (`/api/v3`) and COIN-M (`/dapi/v1`) share, under the venue's prefix."""

    PREFIX = ""
    DEPTH_HAS_TIME = False      # COIN-M depth carries `E`; its absence means a wrong payload
    MARKET = ""                 # SPOT / COINM: which OrderRequests this client accepts
    ORDER_RESP_TYPE = ""        # spot FULL (fills included); COIN-M RESULT (its richest answer)

    @staticmethod
    def parse_order(data: dict[str, Any]) -> OrderState:
        raise NotImplementedError

    def __init__(self, http: BinanceHttp, now_ns: Callable[[], int] = time.time_ns) -> None:
        self.http = http
        self._now_ns = now_ns

    def server_time(self) -> int:
        path = f"{self.PREFIX}/time"
        data = self.http.request("GET", path)
        with parsing("GET", path, data):
            return int(data["serverTime"])

    def sync_time(self) -> int:
        """Measure and store the server-time offset used for signed requests (ms)."""
        return self.http.sync_time(f"{self.PREFIX}/time")

    def ping(self) -> None:
        self.http.request("GET", f"{self.PREFIX}/ping")

    def _rules_from(self, path: str, data: Any, symbol: str,
                    parse: Callable[[dict[str, Any]], SymbolRules]) -> SymbolRules:
        """Pick `symbol`'s entry out of an exchangeInfo body and parse it."""
        with parsing("GET", path, data):
            entry = next((s for s in data["symbols"] if s["symbol"] == symbol), None)
            if entry is None:
                raise UnknownSymbol(f"{symbol} not in exchangeInfo", method="GET", path=path)
        with parsing("GET", path, entry):   # quote the symbol's entry, not the rate limits
            return parse(entry)

    def depth(self, symbol: str, limit: int = 1000) -> DepthSnapshot:
        path = f"{self.PREFIX}/depth"
        data = get_for_symbol(self.http, path, {"symbol": symbol, "limit": limit})
        recv_ns = self._now_ns()
        with parsing("GET", path, data):
            snap = parse_snapshot(data, symbol, recv_ns)
            if self.DEPTH_HAS_TIME and snap.event_ms is None:
                raise KeyError("E")
            return snap

    @staticmethod
    def stream_url(ws_base: str, streams: list[str]) -> str:
        """`<ws_base>/stream?streams=a/b`: every message arrives as {"stream": .., "data": ..}."""
        return f"{ws_base.rstrip('/')}/stream?streams={'/'.join(streams)}"

    @staticmethod
    def depth_stream(symbol: str) -> str:
        return f"{symbol.lower()}@depth@100ms"

    @staticmethod
    def ticker_stream(symbol: str) -> str:
        return f"{symbol.lower()}@bookTicker"

    # --- orders (signed) -----------------------------------------------------------------------

    def new_order(self, req: OrderRequest) -> OrderState:
        """Place one order. Raises ValueError before sending if `req` cannot be valid; Rejected
        when refused; UnknownOutcome when it may or may not exist (query `get_order` then)."""
        path = f"{self.PREFIX}/order"
        params = order_params(req, self.MARKET, self.ORDER_RESP_TYPE)
        data = post_order(self.http, path, params)
        with parsing("POST", path, data, UnreadableOrderAnswer):
            state = self.parse_order(data)
            if state.client_order_id != req.client_order_id:
                raise ValueError(f"answer is for client order id {state.client_order_id!r}")
        log.debug("[ORDER] %s %s -> %s executed %s", self.MARKET, req.client_order_id,
                  state.status, state.executed_qty)
        return state

    def get_order(self, symbol: str, client_order_id: str) -> OrderState:
        """The order's current state; OrderNotFound when the exchange has no such order."""
        return self._order_call("GET", symbol, client_order_id)

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        """Cancel an open order; CancelRejected when it is unknown or already final."""
        return self._order_call("DELETE", symbol, client_order_id)

    def open_orders(self, symbol: str) -> list[OrderState]:
        path = f"{self.PREFIX}/openOrders"
        data = call(self.http, "GET", path, {"symbol": symbol}, signed=True)
        with parsing("GET", path, data):
            return [self.parse_order(row) for row in rows(data)]

    def _order_call(self, method: str, symbol: str, client_order_id: str) -> OrderState:
        path = f"{self.PREFIX}/order"
        data = call(self.http, method, path,
                    {"symbol": symbol, "origClientOrderId": client_order_id}, signed=True)
        with parsing(method, path, data):
            state = self.parse_order(data)
            if state.client_order_id != client_order_id:
                raise ValueError(f"answer is for client order id {state.client_order_id!r}")
            return state
