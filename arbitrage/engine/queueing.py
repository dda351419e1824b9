"""The engine's event queue: many producers (stream threads, REST pool, executor), one consumer.

`queue.SimpleQueue` is implemented in C and its put never takes a Python-level lock, which makes
the hand-off from a stream thread to the engine a fraction of a microsecond instead of the few
microseconds of `queue.Queue` (bench/). It is unbounded, so the bound is checked here: beyond
`maxsize` events the producer is told no, and the caller drops the event (a book then resyncs on
the gap) rather than letting memory grow behind a stuck engine.
"""
from __future__ import annotations

import queue
from typing import Any

Empty = queue.Empty


class EventQueue:
    __slots__ = ("_q", "maxsize")

    def __init__(self, maxsize: int = 20_000) -> None:
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self.maxsize = maxsize

    def put(self, item: Any, force: bool = False) -> bool:
        """False (nothing queued) when the queue already holds `maxsize` events. `force` is for
        the few events that must never be lost (an order's outcome, a snapshot answer): they are
        rare and bounded by what the bot itself asked for."""
        if not force and self._q.qsize() >= self.maxsize:
            return False
        self._q.put(item)
        return True

    def get(self, timeout: float | None = None) -> Any:
        """The next event; raises `Empty` after `timeout` seconds without one."""
        return self._q.get(timeout=timeout)

    def get_nowait(self) -> Any:
        return self._q.get_nowait()

    def empty(self) -> bool:
        return self._q.empty()

    def qsize(self) -> int:
        return self._q.qsize()
