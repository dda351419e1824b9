"""The one source of time of the engine: the wall clock live, simulated time in a backtest.

Bot, Trader, PairExecutor and StateStore read time only through a `Clock`, so the same code runs
live (`WALL`) and in a backtest (`arbitrage.backtest.clock.SimClock`, advanced by market events,
whose `sleep` plays the market forward instead of waiting). Venue/HTTP code keeps its own
wall-clock timing (retry backoff against a real network).
"""
from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int: ...
    def now_ms(self) -> int: ...
    def time(self) -> float: ...          # seconds since the epoch (as time.time())
    def monotonic(self) -> float: ...     # seconds, for deadlines and intervals
    def sleep(self, seconds: float) -> None: ...
    def together(self): ...               # a block whose calls start at the same moment


class WallClock:
    """Live time: the system clock, and a thread that really sleeps."""

    @staticmethod
    def now_ns() -> int:
        return time.time_ns()

    @staticmethod
    def now_ms() -> int:
        return time.time_ns() // 1_000_000

    @staticmethod
    def time() -> float:
        return time.time()

    @staticmethod
    def monotonic() -> float:
        return time.monotonic()

    @staticmethod
    def sleep(seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    @staticmethod
    def together():
        """Live, concurrent calls run on threads and start together by themselves."""
        return nullcontext()


WALL = WallClock()
