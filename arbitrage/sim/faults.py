"""Scripted trading faults for tests, and the count of order requests per market.

Each hook queues a number of "next orders" to affect; the desks pop them as orders arrive. The
counter counts every `POST .../order` that reached the exchange (accepted, rejected, or refused by
authentication), so a test can prove that DRY_RUN sent nothing and nothing was sent twice.
"""
from __future__ import annotations

import threading
from collections import Counter, deque
from decimal import Decimal

from arbitrage.models import COINM, SPOT

MARKETS = (SPOT, COINM)
DEFAULT_REJECT_MSG = "Account has insufficient balance for requested action."
SPOT_UNKNOWN = (-1007, "Timeout waiting for response from backend server. "
                       "Send status unknown; execution status unknown.")
COINM_UNKNOWN = (-1000, "Unknown error, please check your request or try again later.")


def check_market(market: str) -> str:
    if market not in MARKETS:
        raise ValueError(f"market must be one of {MARKETS}, not {market!r}")
    return market


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: Counter[str] = Counter()
        self._rejects: dict[str, deque[tuple[int, str]]] = {m: deque() for m in MARKETS}
        self._partials: dict[str, deque[Decimal]] = {m: deque() for m in MARKETS}
        self._unknown: Counter[str] = Counter()
        self._delays: dict[str, deque[float]] = {m: deque() for m in MARKETS}

    # -- scripting (tests) -----------------------------------------------------------------
    def delay_next_orders(self, market: str, seconds: float, n: int) -> None:
        with self._lock:
            self._delays[check_market(market)].extend([seconds] * n)

    def take_delay(self, market: str) -> float:
        """Seconds the next order waits before the matching engine sees it (0 = none)."""
        with self._lock:
            queue = self._delays[market]
            return queue.popleft() if queue else 0.0

    def reject_next_orders(self, market: str, n: int, code: int, msg: str) -> None:
        with self._lock:
            self._rejects[check_market(market)].extend([(code, msg)] * n)

    def fill_next_orders_partially(self, market: str, fraction: Decimal, n: int) -> None:
        if not Decimal(0) <= fraction <= Decimal(1):
            raise ValueError(f"fraction must be within [0, 1], not {fraction}")
        with self._lock:
            self._partials[check_market(market)].extend([fraction] * n)

    def answer_503_after_executing(self, market: str, n: int) -> None:
        with self._lock:
            self._unknown[check_market(market)] += n

    # -- used by the desks -----------------------------------------------------------------
    def received(self, market: str) -> None:
        with self._lock:
            self._received[market] += 1

    def orders_received(self, market: str) -> int:
        with self._lock:
            return self._received[check_market(market)]

    def take_reject(self, market: str) -> tuple[int, str] | None:
        with self._lock:
            queue = self._rejects[market]
            return queue.popleft() if queue else None

    def take_partial(self, market: str) -> Decimal | None:
        with self._lock:
            queue = self._partials[market]
            return queue.popleft() if queue else None

    def take_unknown_outcome(self, market: str) -> tuple[int, str] | None:
        with self._lock:
            if self._unknown[market] <= 0:
                return None
            self._unknown[market] -= 1
        return SPOT_UNKNOWN if market == SPOT else COINM_UNKNOWN
