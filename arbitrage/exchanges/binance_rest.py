"""What the spot and COIN-M REST clients share: payload-shape guarding, filter parsing, the
public endpoints both venues have under their own prefix, and stream names.

Raw dicts stop in the venue files: every method returns a type from `arbitrage.models`. A payload
of the wrong shape becomes `BadResponse` with its first bytes, so callers only handle BinanceError.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

from arbitrage.exchanges.errors import BadResponse, Rejected, UnknownSymbol
from arbitrage.exchanges.http import BinanceHttp
from arbitrage.exchanges.streams import parse_snapshot
from arbitrage.models import DepthSnapshot, SymbolRules

_BAD_SYMBOL = -1121
_ZERO = Decimal(0)


@contextmanager
def parsing(method: str, path: str, payload: Any) -> Iterator[None]:
    """Turn a shape error while reading `payload` into BadResponse quoting its first bytes."""
    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError, InvalidOperation, AttributeError) as exc:
        head = json.dumps(payload, default=str)[:120]
        raise BadResponse(f"unexpected payload ({type(exc).__name__}: {exc}): {head!r}",
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


def get_for_symbol(http: BinanceHttp, path: str, params: dict[str, Any]) -> Any:
    """GET that reports Binance's -1121 "Invalid symbol." as the typed UnknownSymbol."""
    try:
        return http.request("GET", path, params)
    except Rejected as exc:
        if exc.code == _BAD_SYMBOL:
            raise UnknownSymbol(exc.msg, status=exc.status, code=exc.code,
                                method=exc.method, path=exc.path) from None
        raise


class BinanceRestClient:
    """The endpoints spot (`/api/v3`) and COIN-M (`/dapi/v1`) share, under the venue's prefix."""

    PREFIX = ""
    DEPTH_HAS_TIME = False      # COIN-M depth carries `E`; its absence means a wrong payload

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
