"""Helpers shared by the spot and COIN-M trading endpoints: parameters, windows, order counts."""
from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from decimal import Decimal
from typing import Callable, Sequence, TypeVar

from arbitrage.sim.rest import ApiError, Request

_log = logging.getLogger("arbitrage.sim")
from arbitrage.sim.symbols import SimSymbol

T = TypeVar("T")
_DIGITS = re.compile(r"^[0-9]{1,20}$")


def d8(value: Decimal) -> str:
    return f"{value:.8f}"


def int_param(req: Request, name: str) -> int | None:
    raw = req.params.get(name, "")
    if not raw:
        return None
    if not _DIGITS.match(raw):
        raise ApiError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.")
    return int(raw)


def limit_param(req: Request, default: int, maximum: int) -> int:
    value = int_param(req, "limit")
    if value is None:
        return default
    return max(1, min(value, maximum))


def order_ref(req: Request) -> tuple[int | None, str | None]:
    """(orderId, origClientOrderId) of a query or cancel; at least one is required."""
    order_id = int_param(req, "orderId")
    client_id = req.params.get("origClientOrderId") or None
    if order_id is None and client_id is None:
        raise ApiError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
    return order_id, client_id


def listed(symbol: str, specs: Sequence[SimSymbol]) -> SimSymbol:
    for spec in specs:
        if spec.symbol == symbol:
            return spec
    raise ApiError(-1121, "Invalid symbol.")


def window(rows: list[T], time_of: Callable[[T], int], id_of: Callable[[T], int], req: Request,
           default_limit: int, max_limit: int) -> list[T]:
    """Binance's history selection: fromId (id ≥), startTime/endTime (inclusive), then the first
    `limit` rows when a starting point was given, else the most recent `limit` — oldest first."""
    from_id, start, end = int_param(req, "fromId"), int_param(req, "startTime"), int_param(req, "endTime")
    limit = limit_param(req, default_limit, max_limit)
    picked = [r for r in rows
              if (from_id is None or id_of(r) >= from_id)
              and (start is None or time_of(r) >= start)
              and (end is None or time_of(r) <= end)]
    if from_id is not None or start is not None:
        return picked[:limit]
    return picked[-limit:]


class OrderCounter:
    """`X-MBX-ORDER-COUNT-<n><unit>` headers of successful orders (reference §10.2)."""

    def __init__(self, windows: Sequence[tuple[str, float]]) -> None:
        self.windows = list(windows)            # (header suffix, seconds), e.g. ("10S", 10)
        self._longest = max(sec for _, sec in self.windows)
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def record(self) -> dict[str, str]:
        now = time.monotonic()
        with self._lock:
            self._times.append(now)
            while self._times and self._times[0] <= now - self._longest:
                self._times.popleft()
            return {f"X-MBX-ORDER-COUNT-{suffix}": str(sum(1 for t in self._times if t > now - sec))
                    for suffix, sec in self.windows}


def lose_the_answer_if_scripted(faults, market: str, client_order_id: str, status: str) -> None:
    """The order has executed; a scripted fault now answers 503 "status unknown" instead."""
    unknown = faults.take_unknown_outcome(market)
    if unknown is not None:
        _log.info("[FAULT] %s order %s executed (%s), answered 503", market, client_order_id, status)
        raise ApiError(*unknown, status=503)


def wait_before_matching(faults, market: str) -> None:
    """A scripted slow order: the answer (and the execution) comes `seconds` late, as when the
    matching engine is busy; a client may give up or be killed meanwhile."""
    delay = faults.take_delay(market)
    if delay > 0:
        time.sleep(delay)


def find_order(desk, symbol: str, req: Request):
    """The order a GET names by orderId or origClientOrderId; -2013 as Binance says it. Call it
    holding the market lock."""
    order_id, client_id = order_ref(req)
    order = desk.find(symbol, order_id, client_id)
    if order is None:
        raise ApiError(-2013, "Order does not exist.")
    return order
