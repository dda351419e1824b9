"""The market of a backtest: the local exchange's own sources (synthetic model, capture replay)
played in simulated time, and the bot's streams delivered to its queue after the feed latency.

A `Timeline` yields market steps in time order; the exchange applies each one at its time (its
books move, resting orders match, funding settles), and every stream event the exchange publishes
for the bot's subscriptions is delivered `feed` ns later as the raw combined-stream message, which
the bot parses with its own code: a replayed message exactly as it was recorded (its stream name
is the recording's, e.g. `@depth@0ms`, which the bot does not read), anything the exchange makes
itself (marks, synthetic diffs) serialised as its WebSocket server would.
"""
from __future__ import annotations

from collections import deque
from typing import Callable, Iterator

import orjson

from arbitrage.marketdata.capture import iter_capture
from arbitrage.sim.market import DEPTH, MARK, TICKER, Market
from arbitrage.sim.recorded import Recorded
from arbitrage.sim.replay import ReplaySource
from arbitrage.sim.synthetic import TICK_SEC, SyntheticSource

Step = tuple[int, Callable[[], None]]      # (time ns, what the exchange does then)

_SUFFIX = {DEPTH: "@depth@100ms", MARK: "@markPrice@1s", TICKER: "@bookTicker"}


def synthetic_steps(source: SyntheticSource, market: Market, start_ns: int,
                    minutes: float) -> Iterator[Step]:
    """One model tick every 100 ms of simulated time, for `minutes`."""
    step_ns = int(TICK_SEC * 1e9)
    for i in range(1, int(minutes * 60 / TICK_SEC) + 1):
        at = start_ns + i * step_ns
        yield at, lambda at=at: source.tick(market, at // 1_000_000)


def replay_steps(source: ReplaySource, market: Market) -> Iterator[Step]:
    """Every recorded record at its recorded receive time (after `prepare`)."""
    for rec in source._records:
        yield rec.ns, lambda rec=rec: source._play(market, rec)


def first_line_ns(path: str) -> int:
    for ns, _ in iter_capture(path):
        return ns
    raise ValueError(f"{path}: no records")


class Feed:
    """The bot's subscriptions, as the exchange's WebSocket hub would serve them."""

    def __init__(self, symbols: dict[str, str], channels: set[str], feed_ns: int,
                 now_ns: Callable[[], int], draw_ns: Callable[[], int] | None = None) -> None:
        """`draw_ns`: a delay per event (a recorded profile) instead of `feed_ns`; deliveries
        keep their order, as a connection's messages do."""
        # (symbol, channel) -> (stream name, connection "spot" / "coinm")
        self.names = {(sym, ch): (sym.lower() + _SUFFIX[ch], conn)
                      for sym, conn in symbols.items() for ch in channels
                      if not (ch == MARK and conn == "spot")}
        self.feed_ns = feed_ns
        self.now_ns = now_ns
        self.pending: deque[tuple[int, str, str]] = deque()   # (deliver at, connection, raw)
        self.delivered = 0
        self.draw_ns = draw_ns
        self._last_at = 0

    def on_event(self, symbol: str, channel: str, payload: dict) -> None:
        name = self.names.get((symbol, channel))
        if name is None:
            return
        if type(payload) is Recorded:     # a recorded message, published unchanged: as received
            raw = payload.wire
        else:
            raw = (b'{"stream":"%s","data":%s}' % (name[0].encode(), orjson.dumps(payload))).decode()
        if self.draw_ns is None:
            self.pending.append((self.now_ns() + self.feed_ns, name[1], raw))
        else:
            self._last_at = max(self._last_at, self.now_ns() + self.draw_ns())
            self.pending.append((self._last_at, name[1], raw))
