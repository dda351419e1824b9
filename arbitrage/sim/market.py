"""The market state the servers share: books, marks, the one lock, the fault hooks.

A source (synthetic or replay) changes books only through `apply_changes` / `apply_recorded`, which
run under `lock` and hand the event to the listeners (the WebSocket hub) before releasing it. REST
snapshots take the same lock, so a snapshot's `lastUpdateId` is always the `u` of the last event
published — the property the documented client procedures (§5.2, §5.4) rely on.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter, deque
from contextlib import contextmanager
from decimal import Decimal
from typing import Callable, Iterator

from arbitrage.sim.book import Changes, SimBook
from arbitrage.sim.funding import FundingHistory
from arbitrage.sim.marks import MarkState, mark_update
from arbitrage.sim.wire_faults import FaultCounts

log = logging.getLogger("arbitrage.sim.market")

DEPTH, MARK, TICKER, TRADE = "depth", "markPrice", "bookTicker", "trade"
Listener = Callable[[str, str, dict], None]     # (symbol, channel, payload); must not block
# (symbol, DEPTH or MARK), called under the lock after every book change or mark, published or not:
# the trading side matches resting orders and settles funding here.
StepHook = Callable[[str, str], None]
# (symbol, price, quantity, the aggressor's side): a public trade, under the lock (queue models)
TradeHook = Callable[[str, Decimal, Decimal, str], None]

_RECENT_IDS = 4096   # how far back a stale snapshot can reach


_now_ns: Callable[[], int] = time.time_ns     # a backtest swaps in its simulated clock


def wall_ms() -> int:
    """The exchange's own time (order and trade times, funding): the wall clock, or the
    backtest's simulated time while one runs in this process (`use_time_source`)."""
    return _now_ns() // 1_000_000


@contextmanager
def use_time_source(now_ns: Callable[[], int]) -> Iterator[None]:
    """The local exchange reads time from `now_ns` inside the block (one backtest per process
    at a time: grid workers are separate processes)."""
    global _now_ns
    before, _now_ns = _now_ns, now_ns
    try:
        yield
    finally:
        _now_ns = before


class Market:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.books: dict[str, SimBook] = {}
        self.marks: dict[str, MarkState] = {}
        self.funding = FundingHistory()      # every settlement: the fundingRate endpoint's rows
        self.clock_ms: Callable[[], int] = wall_ms   # replay swaps in the recording's clock
        self.still_until = 0.0               # monotonic: the synthetic walk stands still until then
        # every mark passes through it: a funding history file announces its own settlements
        self.announce: Callable[[MarkState], MarkState] | None = None
        self._listeners: list[Listener] = []
        self._recent: dict[str, deque[int]] = {}
        self._drop: Counter[str] = Counter()
        self._stale: Counter[str] = Counter()
        self._silence_until: dict[str | None, float] = {}
        self._sent: Counter[str] = Counter()
        self._dropped: Counter[str] = Counter()
        self._silenced: Counter[str] = Counter()
        self._failed_listeners = 0
        self._hooks: list[StepHook] = []
        self._trade_hooks: list[TradeHook] = []
        self.fault_counts = FaultCounts()     # every fault injection of the exchange, per kind
        self._drop_rate = 0.0
        self._drop_rng = random.Random(0)

    # -- setup -----------------------------------------------------------------------------
    def add_book(self, book: SimBook) -> None:
        with self.lock:
            self.books[book.spec.symbol] = book
            self._recent[book.spec.symbol] = deque([book.last_update_id], maxlen=_RECENT_IDS)

    def add_listener(self, listener: Listener) -> None:
        with self.lock:
            self._listeners.append(listener)

    def add_step_hook(self, hook: StepHook) -> None:
        with self.lock:
            self._hooks.append(hook)

    def add_trade_hook(self, hook: TradeHook) -> None:
        with self.lock:
            self._trade_hooks.append(hook)

    @property
    def symbols(self) -> list[str]:
        return list(self.books)

    # -- changes from the sources ------------------------------------------------------------
    def apply_changes(self, symbol: str, bids: Changes, asks: Changes, event_ms: int,
                      id_jump: int = 0) -> dict:
        with self.lock:
            event = self.books[symbol].apply(bids, asks, event_ms, id_jump)
            self._after_diff(symbol, event)
            self._step(symbol, DEPTH)
            return event

    def apply_recorded(self, symbol: str, event: dict) -> None:
        with self.lock:
            self.books[symbol].apply_recorded(event)
            self._after_diff(symbol, event)
            self._step(symbol, DEPTH)

    def absorb(self, symbol: str, bids: Changes, asks: Changes) -> None:
        """Change levels without an event (replay: the recording owns the update ids, and its next
        update of a level overwrites what a fill took from it)."""
        with self.lock:
            self.books[symbol].absorb(bids, asks)

    def publish(self, symbol: str, channel: str, payload: dict) -> bool:
        with self.lock:
            return self._emit(symbol, channel, payload)

    def public_trade(self, symbol: str, payload: dict, publish: bool = True) -> None:
        """A trade of the market (a recorded `trade` event): published, then handed to the trade
        hooks. `m` true: the buyer was the maker, so a seller took the bids."""
        with self.lock:
            if publish:
                self._emit(symbol, TRADE, payload)
            if not self._trade_hooks:
                return
            try:
                price, qty = Decimal(str(payload["p"])), Decimal(str(payload["q"]))
            except (KeyError, ArithmeticError, ValueError, TypeError):
                log.warning("trade without a usable price or quantity on %s: %s", symbol, payload)
                return
            aggressor = "SELL" if payload.get("m") else "BUY"
            for hook in self._trade_hooks:
                try:
                    hook(symbol, price, qty, aggressor)
                except Exception:   # the market keeps running whatever the trading side does
                    log.exception("trade hook failed on %s", symbol)

    def set_mark(self, mark: MarkState, publish: bool = True) -> None:
        with self.lock:
            if self.announce is not None:
                mark = self.announce(mark)
            self.marks[mark.symbol] = mark
            if publish:
                self._emit(mark.symbol, MARK, mark_update(mark))
            self._step(mark.symbol, MARK)

    def _step(self, symbol: str, kind: str) -> None:
        for hook in self._hooks:
            try:
                hook(symbol, kind)
            except Exception:   # the market keeps running whatever the trading side does
                log.exception("step hook failed on %s %s", symbol, kind)

    def _after_diff(self, symbol: str, event: dict) -> None:
        self._recent[symbol].append(int(event["u"]))
        scripted = self._drop[symbol] > 0
        if scripted or (self._drop_rate and self._drop_rng.random() < self._drop_rate):
            if scripted:
                self._drop[symbol] -= 1
            self._dropped[symbol] += 1
            self.fault_counts.add("drop")
            log.info("[FAULT] %s diff U=%s u=%s not sent (sequence gap)", symbol, event["U"], event["u"])
            return
        if self._emit(symbol, DEPTH, event):
            self._sent[symbol] += 1

    def _emit(self, symbol: str, channel: str, payload: dict) -> bool:
        if self._is_silenced(symbol):
            self._silenced[symbol] += 1
            return False
        for listener in self._listeners:
            try:
                listener(symbol, channel, payload)
            except Exception:  # a broken listener must not stop the market
                self._failed_listeners += 1
                if self._failed_listeners == 1:
                    log.exception("stream listener failed")
        return True

    def _is_silenced(self, symbol: str) -> bool:
        if not self._silence_until:       # the usual case, on every event: no clock read
            return False
        now = time.monotonic()
        return any(self._silence_until.get(key, 0.0) > now for key in (None, symbol))

    # -- reads for REST ----------------------------------------------------------------------
    def depth(self, symbol: str, limit: int) -> tuple[int, list[list[str]], list[list[str]], int, int]:
        """(lastUpdateId, bids, asks, E, T) of the book as of the last published event."""
        with self.lock:
            book = self.books[symbol]
            last_id = book.last_update_id
            if self._stale[symbol] > 0:
                self._stale[symbol] -= 1
                # An older id with today's levels: a client that has the diffs since that id
                # converges anyway (quantities are absolute); one that does not must resnapshot.
                last_id = self._recent[symbol][0]
                log.info("[FAULT] %s stale depth snapshot lastUpdateId=%s (book at %s)",
                         symbol, last_id, book.last_update_id)
            bids, asks = book.levels(limit)
            return last_id, bids, asks, self.clock_ms(), book.last_trans_ms or self.clock_ms()

    def top(self, symbol: str) -> tuple[float | None, float | None, int]:
        with self.lock:
            book = self.books[symbol]
            return book.best_bid(), book.best_ask(), book.last_update_id

    # -- fault hooks -------------------------------------------------------------------------
    def drop_next_diff(self, symbol: str) -> None:
        with self.lock:
            self._check(symbol)
            self._drop[symbol] += 1

    def set_drop_rate(self, p: float, seed: int = 0) -> None:
        """Each diff is dropped with probability `p` (seeded, so a run repeats)."""
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"drop rate must be a probability within [0, 1], not {p}")
        with self.lock:
            self._drop_rate, self._drop_rng = float(p), random.Random(seed)

    def serve_stale_snapshot(self, symbol: str, n: int = 1) -> None:
        with self.lock:
            self._check(symbol)
            self._stale[symbol] += n

    def silence(self, symbol: str | None, seconds: float) -> None:
        with self.lock:
            if symbol is not None:
                self._check(symbol)
            self._silence_until[symbol] = time.monotonic() + seconds
            self.fault_counts.add("silence")
            log.info("[FAULT] streams of %s silent for %.1f s", symbol or "all symbols", seconds)

    def _check(self, symbol: str) -> None:
        if symbol not in self.books:
            raise KeyError(f"{symbol} is not listed on this local exchange ({self.symbols})")

    def stats(self) -> dict:
        with self.lock:
            return {"diffs_sent": dict(self._sent), "diffs_dropped": dict(self._dropped),
                    "events_silenced": dict(self._silenced),
                    "last_update_id": {s: b.last_update_id for s, b in self.books.items()}}
