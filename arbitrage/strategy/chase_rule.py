"""Whether a chase may go on following the touch (issue 15): the entry rule, re-read on every
evaluation while the spot leg rests. Pure.

scalp: the spread on the entry's side still at or beyond ENTER_BPS (the seed's signal);
carry: the predicted funding still paid to the position (positive for a spot buy / perp short,
negative for the other side). A chase whose rule stops holding gives up (decide_chase).
"""
from __future__ import annotations

from decimal import Decimal

from arbitrage.strategy.exits import signed_spread
from arbitrage.strategy.frontier import BUY_SPOT, SELL_SPOT


def entry_rule_holds(strategy: str, spread_bps: float | None, funding_rate: float | None,
                     enter_bps: Decimal | float) -> dict[str, bool]:
    """For each direction, whether the rule that opened it still holds."""
    out = {}
    for direction in (BUY_SPOT, SELL_SPOT):
        if strategy == "carry":
            sign = 1 if direction == BUY_SPOT else -1
            out[direction] = funding_rate is not None and funding_rate * sign > 0
        else:
            out[direction] = (spread_bps is not None
                              and signed_spread(spread_bps, direction) >= float(enter_bps))
    return out
