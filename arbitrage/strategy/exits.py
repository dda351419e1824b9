"""Exit rules for a hedged position (design §8). Pure: the spread and the time are passed in.

Reading of the rules with direction. The design writes them on |spread|; read literally, a position
whose spread overshot to the other side (buy-spot entered at +8 bps, spread now −5) would be held
although it is in profit, and one that overshot far (−15) would be labelled a "stop". The trade is a
bet on the spread moving back towards zero from the side it was entered on, so the spread is first
signed by the entry: `s = spread` for BUY_SPOT (entered on a positive spread), `s = −spread` for
SELL_SPOT (entered on a negative one). Then, first that holds:

    converged  s ≤ EXIT_BPS     back within EXIT_BPS of zero, or beyond it on the other side
    stop       s ≥ STOP_BPS     moved further away on the entry side
    timeout    age ≥ MAX_HOLD_SEC

On the entry side (s ≥ 0) this is exactly the design's |spread| ≤ EXIT_BPS / |spread| ≥ STOP_BPS.
Settings guarantee EXIT_BPS < ENTER_BPS < STOP_BPS, so "converged" and "stop" never overlap.
Without a spread (no mark yet) only the timeout can fire.
"""
from __future__ import annotations

from decimal import Decimal

from arbitrage.strategy.frontier import BUY_SPOT, SELL_SPOT

CONVERGED = "converged"
STOP = "stop"
TIMEOUT = "timeout"


def signed_spread(spread_bps: float, entry_direction: str) -> float:
    """The spread as seen from the position: positive on the side it was entered on."""
    if entry_direction == BUY_SPOT:
        return spread_bps
    if entry_direction == SELL_SPOT:
        return -spread_bps
    raise ValueError(f"unknown direction {entry_direction!r}")


def exit_reason(spread_bps: float | None, entry_direction: str, opened_ms: int, now_ms: int,
                exit_bps: Decimal | float, stop_bps: Decimal | float,
                max_hold_sec: float) -> str | None:
    """"converged", "stop", "timeout" or None (keep holding)."""
    if entry_direction not in (BUY_SPOT, SELL_SPOT):
        raise ValueError(f"unknown direction {entry_direction!r}")
    if spread_bps is not None:
        s = signed_spread(spread_bps, entry_direction)
        if s <= float(exit_bps):
            return CONVERGED
        if s >= float(stop_bps):
            return STOP
    if now_ms - opened_ms >= max_hold_sec * 1000:
        return TIMEOUT
    return None
