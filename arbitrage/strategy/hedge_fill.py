"""Hedge on fill (issue 15): each spot fill of a chase is hedged at once in whole contracts. Pure.

A COIN-M contract is `contract_size` USD of the coin, so base coin held is hedged by
base × price / contract_size contracts. Only whole contracts can be sent: the part below one
contract is carried, in the base coin (not USD, so a later fill at another price converts it at
that price), and joins the next fill. The carried part is the chase's naked exposure, by
construction below one contract; `naked_usd` reports it for the naked-size measurement.

The base coin counted is what is *held*: a spot BUY pays its commission in the coin bought
(Binance's rule unless BNB pays), so the caller passes the fill net of a commission in the base
coin; a SELL's commission is in the quote coin and does not change the base sold.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from arbitrage.models import BUY, SELL

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class HedgeStep:
    contracts: int              # whole contracts to send now (0: nothing yet)
    side: str                   # the COIN-M side: SELL against a spot BUY, BUY against a SELL
    carried_base: Decimal       # base coin not hedged yet, carried to the next fill
    naked_usd: Decimal          # carried_base at `price`: always below one contract


def hedge_for_fill(spot_side: str, fill_base: Decimal, carried_base: Decimal, price: Decimal,
                   contract_size: Decimal) -> HedgeStep:
    """Whole contracts for `fill_base` (held, net of a base-coin commission) plus what was
    carried, at `price` (the perp price the hedge will trade near)."""
    if spot_side not in (BUY, SELL):
        raise ValueError(f"unknown side {spot_side!r}")
    if price <= 0 or contract_size <= 0:
        raise ValueError("price and contract size must be positive")
    if fill_base < 0 or carried_base < 0:
        raise ValueError("fills and the carried part are quantities, never negative")
    unhedged = carried_base + fill_base
    contracts = int((unhedged * price / contract_size).to_integral_value(rounding=ROUND_DOWN))
    carried = unhedged - Decimal(contracts) * contract_size / price
    if carried < 0:             # contracts × S / price rounded up by the context: nothing owed
        carried = ZERO
    return HedgeStep(contracts, SELL if spot_side == BUY else BUY, carried, carried * price)
