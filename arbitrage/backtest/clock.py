"""Simulated time: advanced only by the backtest, never by the wall clock.

`sleep(s)` is how the engine's own code waits (pair polling, retry pauses, latency): in a backtest
it plays the market forward by `s` — the exchange's books move, resting orders fill, market data
is delivered to the bot's queue — and returns at once in wall time.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator


class SimClock:
    def __init__(self, start_ns: int, advance: Callable[[int], None] | None = None) -> None:
        self._now = start_ns
        # plays everything due up to the given time (set by the backtest once the market exists)
        self.on_advance: Callable[[int], None] = advance or (lambda target_ns: None)
        self._branch: int | None = None      # start of a `together` block
        self._branch_end = 0

    def now_ns(self) -> int:
        return self._now

    def now_ms(self) -> int:
        return self._now // 1_000_000

    def time(self) -> float:
        return self._now / 1e9

    def monotonic(self) -> float:
        return self._now / 1e9

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance_to(self._now + int(seconds * 1e9))

    def advance_to(self, target_ns: int) -> None:
        if target_ns >= self._now:       # equal: what is due right now is played too
            self.on_advance(target_ns)
            self._now = target_ns

    def set(self, now_ns: int) -> None:
        """Used by the driver: the time of the event being handled (never backwards)."""
        if now_ns > self._now:
            self._now = now_ns

    @contextmanager
    def together(self) -> Iterator[None]:
        """Calls made inside (through `branch`) each start at the block's start, as two threads
        would; the block ends when the longest of them does."""
        self._branch, self._branch_end = self._now, self._now
        try:
            yield
        finally:
            self._now = max(self._now, self._branch_end)
            self._branch = None

    def branch(self, fn, *args, **kwargs):
        """Run `fn` as one of the concurrent calls of a `together` block (or plainly outside)."""
        if self._branch is None:
            return fn(*args, **kwargs)
        self._now = self._branch          # the market is not rewound: it only moves forward
        try:
            return fn(*args, **kwargs)
        finally:
            self._branch_end = max(self._branch_end, self._now)
