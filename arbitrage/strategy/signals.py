"""The basis signal (design §5). Pure."""
from __future__ import annotations


def spread_bps(mark: float, spot_mid: float) -> float:
    """(mark − spot_mid) / spot_mid × 10 000. Positive: perp rich (buy spot, sell perp)."""
    return (mark - spot_mid) / spot_mid * 1e4
