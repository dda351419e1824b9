"""The basis signal (design §5) and the window an entry must be inside. Pure."""
from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from arbitrage.strategy.exits import signed_spread
from arbitrage.numbers import plain

ENTER_RULE = "ENTER_BPS"
STOP_RULE = "STOP_BPS"


def spread_bps(mark: float, spot_mid: float) -> float:
    """(mark − spot_mid) / spot_mid × 10 000. Positive: perp rich (buy spot, sell perp)."""
    return (mark - spot_mid) / spot_mid * 1e4


class SignalBlock(NamedTuple):
    rule: str        # ENTER_RULE (no signal yet: the usual case, not worth a line) or STOP_RULE
    reason: str


def entry_signal_block(spread: float, direction: str, enter_bps: Decimal | float,
                       stop_bps: Decimal | float) -> SignalBlock | None:
    """None when the spread is an entry signal in `direction`: ENTER_BPS ≤ s < STOP_BPS, `s` the
    spread signed by the direction (exits.signed_spread). At or beyond STOP_BPS the exit rule
    would stop the trade on its first evaluation: entered at −16 bps with STOP_BPS 12, a
    sell_spot trade pays two round trips of fees and the book's slippage for nothing."""
    s = signed_spread(spread, direction)
    if s < float(enter_bps):
        return SignalBlock(ENTER_RULE, f"spread {spread:+.2f} bps short of ENTER_BPS {plain(enter_bps)}")
    if s >= float(stop_bps):
        return SignalBlock(STOP_RULE, f"spread {spread:+.2f} bps beyond STOP_BPS {plain(stop_bps)}")
    return None
