"""Faults of the fast lanes: WebSocket API answers lost or late, user-data events lost.

Scripted ("the next n …", for tests) like the order faults in `faults.py`; the chaos plan
scripts them periodically. Each injection is counted in the exchange's fault counts when it takes
effect: "wsapi_lost", "wsapi_late", "event_lost" (and, fired by the exchange directly,
"uds_drop" and "listenkey_expired").
"""
from __future__ import annotations

import threading
from collections import Counter, deque

from arbitrage.sim.faults import check_market
from arbitrage.sim.wire_faults import FaultCounts


class ChannelFaults:
    def __init__(self, counts: FaultCounts) -> None:
        self.counts = counts
        self._lock = threading.Lock()
        self._lost: Counter[str] = Counter()
        self._late: dict[str, deque[float]] = {}
        self._events_lost: Counter[str] = Counter()

    # -- scripting ---------------------------------------------------------------------------
    def lose_next_answers(self, market: str, n: int = 1) -> None:
        """The next `n` orders placed over the WebSocket API execute; no answer is sent."""
        with self._lock:
            self._lost[check_market(market)] += n

    def delay_next_answers(self, market: str, seconds: float, n: int = 1) -> None:
        """The next `n` orders placed over the WebSocket API execute at once; the answer comes
        `seconds` later."""
        with self._lock:
            self._late.setdefault(check_market(market), deque()).extend([seconds] * n)

    def lose_next_events(self, market: str, n: int = 1) -> None:
        """The next `n` order events (executionReport / ORDER_TRADE_UPDATE) are never sent."""
        with self._lock:
            self._events_lost[check_market(market)] += n

    # -- used by the WebSocket API and the user streams --------------------------------------
    def take_lost_answer(self, market: str) -> bool:
        return self._take(self._lost, market, "wsapi_lost")

    def take_late_answer(self, market: str) -> float:
        with self._lock:
            queue = self._late.get(market)
            if not queue:
                return 0.0
            seconds = queue.popleft()
        self.counts.add("wsapi_late")
        return seconds

    def take_lost_event(self, market: str) -> bool:
        return self._take(self._events_lost, market, "event_lost")

    def _take(self, pending: Counter[str], market: str, kind: str) -> bool:
        with self._lock:
            if pending[market] <= 0:
                return False
            pending[market] -= 1
        self.counts.add(kind)
        return True
