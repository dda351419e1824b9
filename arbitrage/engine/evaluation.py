"""The strategy's read of the market after an event: market gates, the frontier both ways and the
spread. Pure (time comes in as `now_ns`); the bot runs it after every book or mark event and the
bench runs the very same function over the real captures.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from arbitrage.marketdata.view import MarketData
from arbitrage.models import Level
from arbitrage.strategy.frontier import (BUY_SPOT, SELL_SPOT, Frontier, below_threshold,
                                         compute_frontier)
from arbitrage.strategy.risk import MarketLimits, market_blocks, market_clear
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
             cap_btc: float, now_ns: int, ev: Evaluation, cap_usd: float = 0.0) -> Evaluation:
    """Fill `ev` (reused: no allocation per event beyond the results) and return it."""
    ev.at_ns = now_ns
    spot_sync, perp_sync, mark = md.spot, md.perp, md.mark
    spot_ready, perp_ready = spot_sync.ready, perp_sync.ready
    if market_clear(spot_ready, spot_sync.book.last_recv_ns or 0, perp_ready,
                    perp_sync.book.last_recv_ns or 0, mark.recv_ns if mark else None, now_ns,
                    limits):
        ev.blocks = []
    else:
        ev.blocks = market_blocks(*md.feed_states(), now_ns, limits)
    if not (spot_ready and perp_ready):
        ev.buy = ev.sell = None
        ev.spread_bps = None
        return ev
    spot, perp = spot_sync.book, perp_sync.book
    spot_bid, spot_ask = spot.best_prices()
    perp_bid, perp_ask = perp.best_prices()
    ev.buy = _frontier(BUY_SPOT, spot_ask, perp_bid, spot.iter_asks, perp.iter_bids,
                       contract_size, enter_bps, cap_btc, cap_usd)
    ev.sell = _frontier(SELL_SPOT, spot_bid, perp_ask, spot.iter_bids, perp.iter_asks,
                        contract_size, enter_bps, cap_btc, cap_usd)
    ev.spread_bps = (spread_bps(mark.mark, (spot_bid + spot_ask) / 2.0)
                     if mark and spot_bid is not None and spot_ask is not None else None)
    return ev


def _frontier(direction: str, spot_best: float | None, perp_best: float | None,
              spot_levels: Callable[[], Iterator[Level]], perp_levels: Callable[[], Iterator[Level]],
              contract_size: float, enter_bps: float, cap_btc: float, cap_usd: float) -> Frontier:
    """The walk only when the best prices already clear ENTER_BPS: most events never touch a
    level beyond the top of either book (nor build the walk's iterators)."""
    if spot_best is not None and perp_best is not None:
        quick = below_threshold(direction, spot_best, perp_best, enter_bps)
        if quick is not None:
            return quick
    return compute_frontier(direction, spot_levels(), perp_levels(), contract_size, enter_bps,
                            cap_btc, cap_usd)
