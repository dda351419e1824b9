"""Spot balances: free and locked per asset, moved only by fills, locks and unlocks.

Fees (reference §8.1): commission is charged in the asset received — BUY pays `qty × rate` in the
base asset, SELL pays `qty × price × rate` in the quote asset — truncated to 8 decimals, so every
balance stays exact at 8 decimals and equals start + Σ fills − Σ commissions.
"""
from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_DOWN, Decimal

from arbitrage.models import BUY
from arbitrage.sim.rest import ApiError
from arbitrage.sim.symbols import SimSymbol

Q8 = Decimal("0.00000001")
INSUFFICIENT = "Account has insufficient balance for requested action."


def truncate8(value: Decimal) -> Decimal:
    return value.quantize(Q8, rounding=ROUND_DOWN)


class SpotWallet:
    def __init__(self, balances: dict[str, Decimal]) -> None:
        self.free: defaultdict[str, Decimal] = defaultdict(Decimal, {a: Decimal(v) for a, v in balances.items()})
        self.locked: defaultdict[str, Decimal] = defaultdict(Decimal)
        self.update_ms = 0

    def require(self, asset: str, amount: Decimal) -> None:
        if self.free[asset] < amount:
            raise ApiError(-2010, INSUFFICIENT)

    def lock(self, asset: str, amount: Decimal) -> None:
        self.free[asset] -= amount
        self.locked[asset] += amount

    def unlock(self, asset: str, amount: Decimal) -> None:
        self.locked[asset] -= amount
        self.free[asset] += amount

    def fill(self, spec: SimSymbol, side: str, qty: Decimal, price: Decimal, rate: Decimal,
             locked_at: Decimal | None, now_ms: int) -> tuple[Decimal, str]:
        """Book one fill; `locked_at` is the resting order's limit price (its funds are locked),
        None when the fill is paid from free funds. Returns (commission, commission asset)."""
        base, quote = spec.base_asset, spec.quote_asset
        quote_qty = qty * price
        if side == BUY:
            commission, asset = truncate8(qty * rate), base
            if locked_at is None:
                self.free[quote] -= quote_qty
            else:       # locked at the limit price; a better price gives the difference back
                self.locked[quote] -= qty * locked_at
                self.free[quote] += qty * (locked_at - price)
            self.free[base] += qty - commission
        else:
            commission, asset = truncate8(quote_qty * rate), quote
            if locked_at is None:
                self.free[base] -= qty
            else:
                self.locked[base] -= qty
            self.free[quote] += quote_qty - commission
        self.update_ms = now_ms
        return commission, asset

    def rows(self) -> list[tuple[str, Decimal, Decimal]]:
        assets = sorted(set(self.free) | set(self.locked))
        return [(a, self.free[a], self.locked[a]) for a in assets]
