"""The engine thread's view of the market: both synced books and the mark.

Owned by the one engine thread (design §1 "one writer"). It is fed events from the queue and asks
for REST snapshots through an injected callable; the snapshot comes back later as another event, so
the engine never blocks on the network while the diffs keep being buffered.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from arbitrage.marketdata.book import DepthSync
from arbitrage.marketdata.bookcheck import TickerCheck
from arbitrage.models import BookTicker, DepthDiff, MarkPrice, SnapshotResult, StreamStatus
from arbitrage.strategy.risk import FeedState

log = logging.getLogger("arbitrage.marketdata")

SNAPSHOT_RETRY_INITIAL_S = 0.5
SNAPSHOT_RETRY_MAX_S = 10.0


@dataclass
class FeedCounters:
    diffs: int = 0
    marks: int = 0
    snapshots: int = 0
    snapshot_errors: int = 0
    disconnects: int = 0
    ignored: dict[str, int] = field(default_factory=dict)


class MarketData:
    def __init__(self, spot_symbol: str, coinm_symbol: str,
                 request_snapshot: Callable[[str], None], verify: bool = False) -> None:
        self.spot = DepthSync(spot_symbol, "spot")
        self.perp = DepthSync(coinm_symbol, "coinm")
        self.coinm_symbol = coinm_symbol
        self._names = (f"spot {spot_symbol}", f"perp {coinm_symbol}", f"mark {coinm_symbol}")
        self.mark: MarkPrice | None = None
        self.counters = FeedCounters()
        self._request = request_snapshot
        self._syncs = {spot_symbol: self.spot, coinm_symbol: self.perp}
        self._by_connection = {"spot": (self.spot,), "coinm": (self.perp,)}
        # VERIFY_BOOKS: the exchange's own bookTicker checks each book; a mismatch resyncs it
        self.checks = ({sym: TickerCheck(sync) for sym, sync in self._syncs.items()}
                       if verify else {})
        self._in_flight: set[str] = set()
        self._retry_at_ns: dict[str, int] = {}
        self._retry_delay_s: dict[str, float] = {}

    # -- events -----------------------------------------------------------------------------
    def on_diff(self, diff: DepthDiff) -> bool:
        """Apply a diff. True when a book changed (the strategy should re-evaluate)."""
        sync = self._syncs.get(diff.symbol)
        if sync is None:
            self._ignore(diff.symbol)
            return False
        self.counters.diffs += 1
        was_ready = sync.ready
        if sync.on_diff(diff):
            self._ask_snapshot(diff.symbol)
        elif self.checks:
            self._verdict(sync, self.checks[diff.symbol].after_diff())
        return sync.ready or was_ready

    def on_ticker(self, ticker: BookTicker) -> None:
        check = self.checks.get(ticker.symbol)
        if check is not None:
            self._verdict(self._syncs[ticker.symbol], check.on_ticker(ticker))

    def _verdict(self, sync: DepthSync, mismatch: str | None) -> None:
        if mismatch is not None:
            log.error("[BOOKCHECK] %s", mismatch)
            if sync.invalidate("book disagrees with the exchange's bookTicker"):
                self._ask_snapshot(sync.symbol)

    def on_mark(self, mark: MarkPrice) -> bool:
        if mark.symbol != self.coinm_symbol:
            self._ignore(mark.symbol)
            return False
        self.counters.marks += 1
        if self.mark is None or mark.event_ms >= self.mark.event_ms:
            self.mark = mark
            return True
        return False

    def on_snapshot(self, result: SnapshotResult, now_ns: int) -> bool:
        self._in_flight.discard(result.symbol)
        sync = self._syncs.get(result.symbol)
        if sync is None:
            return False
        if result.snapshot is None:
            self.counters.snapshot_errors += 1
            delay = self._retry_delay_s.get(result.symbol, SNAPSHOT_RETRY_INITIAL_S)
            self._retry_delay_s[result.symbol] = min(delay * 2, SNAPSHOT_RETRY_MAX_S)
            self._retry_at_ns[result.symbol] = now_ns + int(delay * 1e9)
            log.warning("[RESYNC] %s depth snapshot failed (%s); retrying in %.1f s",
                        result.symbol, result.error, delay)
            return False
        self.counters.snapshots += 1
        self._retry_delay_s.pop(result.symbol, None)
        if sync.on_snapshot(result.snapshot):
            self._ask_snapshot(result.symbol)
        return sync.ready

    def on_stream_status(self, status: StreamStatus) -> None:
        if status.connected:
            return          # the runner logs it; the books resync on the first diff that follows
        self.counters.disconnects += 1
        for sync in self._by_connection.get(status.connection, ()):
            sync.on_disconnect(status.reason)
        log.warning("[STREAM] %s disconnected (%s): books on it resync", status.connection,
                    status.reason)

    def on_timer(self, now_ns: int) -> None:
        """Re-ask for snapshots whose previous attempt failed, once their back-off has passed."""
        for symbol, at in list(self._retry_at_ns.items()):
            if now_ns >= at:
                del self._retry_at_ns[symbol]
                self._ask_snapshot(symbol)

    # -- views for the strategy -------------------------------------------------------------
    def feed_states(self) -> tuple[FeedState, FeedState, FeedState]:
        spot, perp, mark = self.spot, self.perp, self.mark
        return (FeedState(self._names[0], spot.ready, "" if spot.ready else spot.state,
                          spot.book.last_recv_ns or 0),
                FeedState(self._names[1], perp.ready, "" if perp.ready else perp.state,
                          perp.book.last_recv_ns or 0),
                FeedState(self._names[2], mark is not None, "", mark.recv_ns if mark else 0))

    @property
    def resyncs(self) -> int:
        return self.spot.resyncs + self.perp.resyncs

    # -- internals --------------------------------------------------------------------------
    def _ask_snapshot(self, symbol: str) -> None:
        if symbol in self._in_flight or symbol in self._retry_at_ns:
            return
        self._in_flight.add(symbol)
        self._request(symbol)

    def _ignore(self, symbol: str) -> None:
        n = self.counters.ignored.get(symbol, 0)
        if n == 0:
            log.warning("ignoring market data for unexpected symbol %s", symbol)
        self.counters.ignored[symbol] = n + 1
