"""Mark price, index and funding of a perpetual, and their two wire forms (§6.1, §6.2)."""
from __future__ import annotations

from dataclasses import dataclass

INTEREST_RATE = 0.0001          # Binance's fixed interest component per funding interval
FUNDING_CAP = 0.025             # the adjustedFundingRateCap seen in fundingInfo (§6.3)


@dataclass(frozen=True, slots=True)
class MarkState:
    symbol: str
    pair: str
    mark: float
    index: float
    funding_rate: float
    next_funding_ms: int
    event_ms: int


def funding_rate(premium: float) -> float:
    """Binance's formula F = P + clamp(I − P, ±0.05 %), so a small basis pays the 0.01 % interest
    and only a large one moves the rate; `premium` is the (smoothed) basis as a fraction."""
    rate = premium + min(max(INTEREST_RATE - premium, -0.0005), 0.0005)
    return min(max(rate, -FUNDING_CAP), FUNDING_CAP)


def next_funding_ms(now_ms: int, interval_sec: float) -> int:
    """Next multiple of the interval since the epoch: 8 h gives 00:00/08:00/16:00 UTC."""
    step = max(1, int(interval_sec * 1000))
    return (now_ms // step + 1) * step


def mark_update(m: MarkState) -> dict:
    return {"e": "markPriceUpdate", "E": m.event_ms, "s": m.symbol, "p": f"{m.mark:.8f}",
            "P": f"{m.index:.8f}", "i": f"{m.index:.8f}", "r": f"{m.funding_rate:.8f}",
            "T": m.next_funding_ms}


def premium_index_row(m: MarkState) -> dict:
    return {"symbol": m.symbol, "pair": m.pair, "markPrice": f"{m.mark:.8f}",
            "indexPrice": f"{m.index:.8f}", "estimatedSettlePrice": f"{m.index:.8f}",
            "lastFundingRate": f"{m.funding_rate:.8f}", "interestRate": f"{INTEREST_RATE:.8f}",
            "nextFundingTime": m.next_funding_ms, "time": m.event_ms}
