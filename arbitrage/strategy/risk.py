"""Risk gates (design §6). Pure: every input is passed in, time included; each gate has its own reason.

This file holds the market-data gates (book readiness, staleness, skew, mark). The account gates
(liquidation distance, margin ratio, balances, filters, cool-down) join them with trading.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the gates need to know about one book or the mark, read off the engine's state."""
    name: str                 # "spot BTCUSDT", "perp BTCUSD_PERP", "mark BTCUSD_PERP"
    ready: bool
    why_not_ready: str        # e.g. "buffering", "awaiting_snapshot"; "" when ready
    last_recv_ns: int         # local receive time of the last applied update; 0 = never


@dataclass(frozen=True, slots=True)
class MarketLimits:
    book_stale_ms: float
    mark_stale_ms: float
    max_skew_ms: float


def _age_ms(feed: FeedState, now_ns: int) -> float:
    return (now_ns - feed.last_recv_ns) / 1e6


def market_blocks(spot: FeedState, perp: FeedState, mark: FeedState, now_ns: int,
                  limits: MarketLimits) -> list[str]:
    """Reasons that forbid trading now; an empty list means the market data is fit to trade on."""
    reasons: list[str] = []
    for feed in (spot, perp):
        if not feed.ready:
            reasons.append(f"{feed.name} book not ready ({feed.why_not_ready})")
        elif _age_ms(feed, now_ns) > limits.book_stale_ms:
            reasons.append(f"{feed.name} book stale ({_age_ms(feed, now_ns):.0f} ms "
                           f"> BOOK_STALE_MS {limits.book_stale_ms:.0f})")
    if not mark.ready:
        reasons.append(f"{mark.name} not received yet")
    elif _age_ms(mark, now_ns) > limits.mark_stale_ms:
        reasons.append(f"{mark.name} stale ({_age_ms(mark, now_ns):.0f} ms "
                       f"> MARK_STALE_MS {limits.mark_stale_ms:.0f})")
    if spot.ready and perp.ready:
        skew = abs(spot.last_recv_ns - perp.last_recv_ns) / 1e6
        if skew > limits.max_skew_ms:
            reasons.append(f"book skew {skew:.0f} ms > MAX_BOOK_SKEW_MS {limits.max_skew_ms:.0f}")
    return reasons
