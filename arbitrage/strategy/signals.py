"""The basis signal (design §5) and the window an entry must be inside. Pure."""
from __future__ import annotations

from decimal import Decimal

from arbitrage.numbers import plain
from arbitrage.strategy.exits import signed_spread

ENTER_RULE = "ENTER_BPS"
STOP_RULE = "STOP_BPS"


def spread_bps(mark: float, spot_mid: float) -> float:
    """(mark − spot_mid) / spot_mid × 10 000. Positive: perp rich (buy spot, sell perp)."""
    return (mark - spot_mid) / spot_mid * 1e4


def entry_window_rule(spread: float, direction: str, enter_bps: float,
                      stop_bps: float) -> str | None:
    """None when the spread is an entry signal in `direction`: ENTER_BPS ≤ s < STOP_BPS, `s` the
    spread signed by the direction (exits.signed_spread); otherwise the rule it breaks. At or
    beyond STOP_BPS the exit rule would stop the trade on its first evaluation: entered at
    −16 bps with STOP_BPS 12, a sell_spot trade pays a round trip of fees and the books'
    slippage for nothing. Runs on every evaluation: floats in, a constant out."""
    s = signed_spread(spread, direction)
    if s < enter_bps:
        return ENTER_RULE
    if s >= stop_bps:
        return STOP_RULE
    return None


def window_reason(rule: str, spread: float, enter_bps: Decimal | float,
                  stop_bps: Decimal | float) -> str:
    """The [SKIP] text for a rule entry_window_rule returned."""
    if rule == STOP_RULE:
        return f"spread {spread:+.2f} bps beyond STOP_BPS {plain(stop_bps)}"
    return f"spread {spread:+.2f} bps short of ENTER_BPS {plain(enter_bps)}"
