"""The strategy's read of the market after an event: market gates, the frontier both ways and the
spread. Pure (time comes in as `now_ns`); the bot runs it after every book or mark event and the
bench runs the very same function over the real captures.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from arbitrage.marketdata import MarketData
from arbitrage.strategy.frontier import BUY_SPOT, SELL_SPOT, Frontier, compute_frontier
from arbitrage.strategy.risk import MarketLimits, market_blocks
from arbitrage.strategy.signals import spread_bps


@dataclass
class Evaluation:
    """Pure results, kept by the bot for its status line and handed to the trader."""
    at_ns: int = 0
    trigger_ns: int = 0             # receive time of the newest market event behind this read
    spread_bps: float | None = None
    buy: Frontier | None = None
    sell: Frontier | None = None
    blocks: list[str] = field(default_factory=list)


def evaluate(md: MarketData, limits: MarketLimits, contract_size: float, enter_bps: float,
             cap_btc: float, now_ns: int, ev: Evaluation) -> Evaluation:
    """Fill `ev` (reused: no allocation per event beyond the results) and return it."""
    ev.at_ns = now_ns
    ev.blocks = market_blocks(*md.feed_states(), now_ns, limits)
    if not (md.spot.ready and md.perp.ready):
        ev.buy = ev.sell = None
        ev.spread_bps = None
        return ev
    spot_book, perp_book = md.spot.book, md.perp.book
    ev.buy = compute_frontier(BUY_SPOT, spot_book.iter_asks(), perp_book.iter_bids(),
                              contract_size, enter_bps, cap_btc)
    ev.sell = compute_frontier(SELL_SPOT, spot_book.iter_bids(), perp_book.iter_asks(),
                               contract_size, enter_bps, cap_btc)
    mid = spot_book.mid()
    ev.spread_bps = spread_bps(md.mark.mark, mid) if (md.mark and mid) else None
    return ev
