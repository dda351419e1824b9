"""Taking liquidity from the exchange's own book.

`plan_take` reads the book (best level first) without changing it, so an order can be checked
against funds, FOK, post-only and reduce-only rules before anything happens. `consume` then removes
what was taken through the book-change path (`Market.apply_changes`), so the depth stream shows the
impact exactly as the book has it — or, in replay, through `Market.absorb`, because a replayed
book's update ids belong to the recording.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from arbitrage.models import BUY
from arbitrage.sim.book import Changes, SimBook
from arbitrage.sim.market import TICKER, Market


@dataclass(frozen=True, slots=True)
class Take:
    key: float          # the book's own price key (float)
    price: Decimal      # the level's price as on the wire
    qty: Decimal        # how much of it is taken


def opposite_levels(book: SimBook, side: str) -> list[tuple[float, float]]:
    """The levels a `side` order trades against, best first."""
    if side == BUY:
        return sorted(book.asks.items())
    return sorted(book.bids.items(), key=lambda kv: -kv[0])


def would_cross(book: SimBook, side: str, price: Decimal) -> bool:
    levels = opposite_levels(book, side)
    if not levels:
        return False
    best = Decimal(book.spec.fmt_price(levels[0][0]))
    return best <= price if side == BUY else best >= price


def plan_take(book: SimBook, side: str, qty: Decimal, limit: Decimal | None) -> list[Take]:
    """Levels an order of `qty` would take, best first, never beyond `limit` (None: any price)."""
    spec, left, out = book.spec, qty, []
    for key, level_qty in opposite_levels(book, side):
        if left <= 0:
            break
        price = Decimal(spec.fmt_price(key))
        if limit is not None and (price > limit if side == BUY else price < limit):
            break
        take = min(left, Decimal(spec.fmt_qty(level_qty)))
        if take > 0:
            out.append(Take(key, price, take))
            left -= take
    return out


def consume(market: Market, book: SimBook, side: str, takes: list[Take], event_ms: int,
            publish: bool) -> None:
    """Remove `takes` (made by a `side` order) from the opposite side of the book."""
    if not takes:
        return
    levels = book.asks if side == BUY else book.bids
    fmt = book.spec.fmt_qty
    changes: Changes = {}
    for t in takes:
        before = Decimal(fmt(changes.get(t.key, levels.get(t.key, 0.0))))
        changes[t.key] = float(max(Decimal(0), before - t.qty))
    bids, asks = ({}, changes) if side == BUY else (changes, {})
    symbol = book.spec.symbol
    if not publish:
        market.absorb(symbol, bids, asks)
        return
    top_before = book.best()
    market.apply_changes(symbol, bids, asks, event_ms)
    if book.best() != top_before:           # keep bookTicker in step with the book
        ticker = book.ticker(event_ms)
        if ticker is not None:
            market.publish(symbol, TICKER, ticker)
