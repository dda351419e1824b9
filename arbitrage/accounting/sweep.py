"""Executions on the account that no pair of the bot booked (a liquidation, an ADL, a trade made by
hand, a leg whose trades never showed): which of a sweep's executions to book now, and how far the
sweep may move on. Pure; the booking itself is bookkeeping.py's.

The ledger is the record of what is booked: every row carries its exchange order ids, so an
execution is booked iff its (market, order id) is in the ledger. The sweep (spot myTrades and
COIN-M userTrades since the cursor, every few seconds whatever the engine state, and once before
trading on start) books every execution that is not. Only the executions of a pair still in flight
wait: their rows come with the pair's result, so nothing from the pair's start on is booked by a
sweep until the pair is done (then whatever is still missing is someone else's).
"""
from __future__ import annotations

from dataclasses import dataclass

OVERLAP_MS = 60_000     # each sweep reads this far behind the cursor (trade lists can lag)
LAG_MS = 10_000         # the cursor stays this far behind the newest execution read, for the same reason
CLOCK_MARGIN_MS = 15_000  # a pair's start in local time vs the exchange's execution times (clock skew)
SPOT_SPAN_MS = 24 * 3600 * 1000 - 1        # myTrades: endTime - startTime at most 24 h
COINM_SPAN_MS = 7 * 24 * 3600 * 1000 - 1   # userTrades: at most 7 days
MAX_WINDOWS = 40                           # reads per symbol and sweep, after a long stop


@dataclass(frozen=True)
class SweepCut:
    book: list           # executions to book now (not in the ledger, not the pair in flight's)
    cursor_ms: int       # every execution before it is booked, or from before the ledger's history


def windows(since_ms: int, now_ms: int, span_ms: int) -> list[tuple[int, int | None]]:
    """(startTime, endTime) of the reads that cover `since_ms` to now: one open-ended read when the
    venue's longest window reaches now, else consecutive windows (the newest MAX_WINDOWS)."""
    if now_ms - since_ms <= span_ms:
        return [(since_ms, None)]
    starts = list(range(since_ms, now_ms + 1, span_ms + 1))[-MAX_WINDOWS:]
    return [(s, min(s + span_ms, now_ms)) for s in starts[:-1]] + [(starts[-1], None)]


def cut(fills: list, booked: set[tuple[str, str]], floor_ms: int, cursor_ms: int,
        hold_from_ms: int | None, read_to_ms: int | None = None) -> SweepCut:
    """`booked`: (market, order id) of every ledger row; `floor_ms`: executions before it are not
    this ledger's (before the first start, or already covered by the saved cursor);
    `hold_from_ms`: a pair is in flight since then (exchange time), None when none is;
    `read_to_ms`: the reads covered everything up to then (a quiet market moves the cursor too)."""
    new = [f for f in fills
           if f.time_ms >= floor_ms and (f.market, str(f.order_id)) not in booked]
    book = [f for f in new if hold_from_ms is None or f.time_ms < hold_from_ms]
    waiting = [f.time_ms for f in new if hold_from_ms is not None and f.time_ms >= hold_from_ms]
    ends = [f.time_ms for f in fills] + ([read_to_ms] if read_to_ms is not None else [])
    if not ends:
        return SweepCut(book, cursor_ms)
    reach = max(ends) - LAG_MS
    if hold_from_ms is not None:        # the pair's own may not show yet: read them again
        reach = min([reach, hold_from_ms - 1] + [t - 1 for t in waiting])
    return SweepCut(book, max(floor_ms, reach))
