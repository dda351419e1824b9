"""Emergency unwind of a hedged hold (issue 15). Pure.

While a position is hedged (a carry across settlements, or a chase that filled), a basis that
moves far against it is closed at market on both legs rather than waited out: the spread signed
by the entry (exits.signed_spread: positive on the side it was entered on) at or beyond
EMERGENCY_UNWIND_BPS unwinds. EMERGENCY_UNWIND_BPS ≤ 0 disables it. Settings require it above
ENTER_BPS when on, so an entry never unwinds on its first evaluation. What a failed unwind does
(HALTED) is the executor's.
"""
from __future__ import annotations

from decimal import Decimal

from arbitrage.strategy.exits import signed_spread

EMERGENCY = "emergency_unwind"


def emergency_unwind(spread_bps: float | None, entry_direction: str,
                     emergency_bps: Decimal | float) -> str | None:
    """EMERGENCY with the numbers, or None (disabled, no spread yet, or within the limit)."""
    if float(emergency_bps) <= 0 or spread_bps is None:
        return None
    s = signed_spread(spread_bps, entry_direction)
    if s >= float(emergency_bps):
        return (f"{EMERGENCY}: spread {spread_bps:+.2f} bps is {s:.2f} bps against the position, "
                f"at or beyond EMERGENCY_UNWIND_BPS {emergency_bps}")
    return None
