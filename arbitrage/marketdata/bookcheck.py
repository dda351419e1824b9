"""Check a synced book against the exchange's own best bid/ask (`bookTicker`).

A depth diff bundles many updates (U..u) while a bookTicker is sent on every change of the top, so
the two describe the same state only when a ticker's `u` equals the `u` of a diff the book has
applied. Tickers usually arrive *before* that diff, so one whose `u` is ahead of the book waits
for it; one whose `u` falls inside a diff's range can never be compared and is only counted.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from arbitrage.marketdata.book import DepthSync
from arbitrage.models import BookTicker

SHOW = 5              # mismatch descriptions kept for display
MAX_PENDING = 1000    # tickers waiting for their diff; bounded, the oldest go first


@dataclass
class CheckCounts:
    tickers: int = 0
    compared: int = 0
    mismatches: int = 0
    before_sync: int = 0        # came while the book was not synced
    no_matching_diff: int = 0   # their u fell inside a diff's [U, u] range
    first_mismatches: list[str] = field(default_factory=list)


class TickerCheck:
    def __init__(self, sync: DepthSync) -> None:
        self.sync = sync
        self.counts = CheckCounts()
        self._pending: dict[int, BookTicker] = {}

    def on_ticker(self, ticker: BookTicker) -> str | None:
        """Returns a description when the book disagrees with the ticker."""
        c = self.counts
        c.tickers += 1
        if not self.sync.ready:
            c.before_sync += 1
            return None
        last = self.sync.book.last_update_id
        if ticker.update_id == last:
            return self._compare(ticker)
        if ticker.update_id > last:
            if len(self._pending) >= MAX_PENDING:
                self._pending.pop(next(iter(self._pending)))
                c.no_matching_diff += 1
            self._pending[ticker.update_id] = ticker
        else:
            c.no_matching_diff += 1
        return None

    def after_diff(self) -> str | None:
        """Call after every diff the book applied; compares a ticker that waited for it."""
        if not self._pending:
            return None
        if not self.sync.ready:
            self.counts.before_sync += len(self._pending)
            self._pending.clear()
            return None
        u = self.sync.book.last_update_id
        ticker = self._pending.pop(u, None)
        stale = [k for k in self._pending if k < u]
        for k in stale:
            del self._pending[k]
        self.counts.no_matching_diff += len(stale)
        return self._compare(ticker) if ticker is not None else None

    def finish(self) -> CheckCounts:
        self.counts.no_matching_diff += len(self._pending)
        self._pending.clear()
        return self.counts

    def _compare(self, t: BookTicker) -> str | None:
        c, book = self.counts, self.sync.book
        c.compared += 1
        bid, ask = book.best_bid(), book.best_ask()
        if bid == (t.bid, t.bid_qty) and ask == (t.ask, t.ask_qty):
            return None
        c.mismatches += 1
        text = (f"{t.symbol} u={t.update_id}: book bid {bid} ask {ask}; "
                f"bookTicker bid {(t.bid, t.bid_qty)} ask {(t.ask, t.ask_qty)}")
        if len(c.first_mismatches) < SHOW:
            c.first_mismatches.append(text)
        return text


def ticker_text(c: CheckCounts) -> str:
    return (f"bookTickers {c.tickers}, compared {c.compared}, mismatches {c.mismatches}, "
            f"not comparable {c.before_sync} before sync + {c.no_matching_diff} with no diff "
            f"ending at their u")
