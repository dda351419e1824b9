"""In-line stand-ins for the thread pools of the bot and the pair executor: in a backtest every
call runs at once on the one thread, and time passes only through the SimClock."""
from __future__ import annotations

from concurrent.futures import Future

from arbitrage.backtest.clock import SimClock


class InlineExecutor:
    """`submit` runs the call now and returns its finished Future (exceptions kept in it)."""

    def __init__(self, clock: SimClock | None = None) -> None:
        self.clock = clock       # set: the calls are concurrent branches (the pair's two legs)

    def submit(self, fn, *args, **kwargs) -> Future:
        fut: Future = Future()
        try:
            if self.clock is not None:
                fut.set_result(self.clock.branch(fn, *args, **kwargs))
            else:
                fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:      # as a pool would: the caller reads it from the Future
            fut.set_exception(exc)
        return fut

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def runner_for(clock: SimClock):
    """The PairExecutor's `runner`: the leg executor runs its calls as concurrent branches."""
    def make(max_workers: int, prefix: str) -> InlineExecutor:
        return InlineExecutor(clock if prefix == "leg" else None)
    return make
