"""The COIN-M account: a wallet per margin coin, one-way positions of inverse contracts, income.

Inverse-contract math (reference §8.4), contract size S USD, everything in the coin:
  value of q contracts at P      q·S/P
  entry price                    contract-weighted harmonic mean of the opening fills
  realized PnL on a reducing fill  long q·S·(1/E − 1/X), short q·S·(1/X − 1/E)
  unrealized PnL at the mark M   a·S·(1/E − 1/M) for signed contracts a
  commission                     q·S/price·rate, truncated to 8 decimals (§8.2)
  funding                        a·S/M·rate, paid by longs when the rate is positive
Each wallet change is one income row (REALIZED_PNL, COMMISSION, FUNDING_FEE) of exactly the
amount added, so walletBalance = start + Σ income, and Σ income agrees with userTrades.
Realized PnL and funding are rounded half-even to 8 decimals.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import Iterable

from arbitrage.models import BUY
from arbitrage.sim.market import wall_ms
from arbitrage.sim.rest import ApiError
from arbitrage.sim.symbols import SimSymbol

ZERO = Decimal(0)
Q8 = Decimal("0.00000001")


def round8(value: Decimal) -> Decimal:
    return value.quantize(Q8, rounding=ROUND_HALF_EVEN)


def truncate8(value: Decimal) -> Decimal:
    return value.quantize(Q8, rounding=ROUND_DOWN)


@dataclass
class PerpPosition:
    symbol: str
    amount: Decimal = ZERO      # signed contracts
    entry: Decimal = ZERO       # harmonic mean of the opening fills (full precision)
    update_ms: int = 0


@dataclass(frozen=True)
class IncomeRow:
    symbol: str
    income_type: str
    income: Decimal
    asset: str
    time_ms: int
    tran_id: int
    trade_id: str


@dataclass(frozen=True)
class FillResult:
    commission: Decimal
    realized_pnl: Decimal
    base_qty: Decimal           # q·S/price rounded to 8 (userTrades baseQty)
    base_exact: Decimal


@dataclass(frozen=True)
class OpenOrderMargin:
    """What an open order reserves: remaining contracts at its price (reduce-only reserves none)."""
    spec: SimSymbol
    remaining: Decimal
    price: Decimal
    reduce_only: bool


class CoinmAccount:
    def __init__(self, balances: dict[str, Decimal], leverage: int, maint_rate: Decimal,
                 first_tran_id: int = 9_000_000_001) -> None:
        self.start = {a: Decimal(v) for a, v in balances.items()}
        self.wallet: dict[str, Decimal] = dict(self.start)
        self.positions: dict[str, PerpPosition] = {}
        self.income: list[IncomeRow] = []
        self.leverage = leverage
        self.maint_rate = maint_rate
        # per asset, as Binance keeps it: the time of the asset's last change, here the opening
        # deposit until the first income; clients skip an asset row whose updateTime is 0
        # (ccxt binance parse_balance_custom: "skip stale/uninitialized assets")
        opened_ms = wall_ms()
        self.update_ms: dict[str, int] = {a: opened_ms for a in self.start}
        self._tran_ids = itertools.count(first_tran_id)

    def position(self, symbol: str) -> PerpPosition:
        return self.positions.setdefault(symbol, PerpPosition(symbol))

    def balance(self, asset: str) -> Decimal:
        return self.wallet.get(asset, ZERO)

    # -- changes ---------------------------------------------------------------------------
    def fill(self, spec: SimSymbol, side: str, qty: Decimal, price: Decimal, rate: Decimal,
             now_ms: int, trade_id: int) -> FillResult:
        size = Decimal(spec.contract_size)
        pos = self.position(spec.symbol)
        base_exact = qty * size / price
        commission = truncate8(base_exact * rate)
        signed = qty if side == BUY else -qty
        held = pos.amount
        realized = ZERO
        reducing = held != 0 and (held > 0) != (signed > 0)
        if not reducing:
            total = abs(held) + qty
            pos.entry = total / (abs(held) / pos.entry + qty / price) if held else price
        else:
            closed = min(qty, abs(held))
            per_contract = size * (1 / pos.entry - 1 / price)
            realized = round8(closed * per_contract if held > 0 else -closed * per_contract)
            if qty > abs(held):
                pos.entry = price           # flipped: the rest opens at this fill's price
            elif qty == abs(held):
                pos.entry = ZERO
        pos.amount = held + signed
        pos.update_ms = now_ms
        asset = spec.base_asset
        if reducing:
            self._book(spec.symbol, "REALIZED_PNL", realized, asset, now_ms, str(trade_id))
        if commission:
            self._book(spec.symbol, "COMMISSION", -commission, asset, now_ms, str(trade_id))
        return FillResult(commission, realized, round8(base_exact), base_exact)

    def settle_funding(self, spec: SimSymbol, mark: Decimal, rate: Decimal, now_ms: int) -> IncomeRow | None:
        pos = self.position(spec.symbol)
        if pos.amount == 0:
            return None
        income = round8(-pos.amount * Decimal(spec.contract_size) / mark * rate)
        return self._book(spec.symbol, "FUNDING_FEE", income, spec.base_asset, now_ms, "")

    def _book(self, symbol: str, kind: str, amount: Decimal, asset: str, now_ms: int,
              trade_id: str) -> IncomeRow:
        row = IncomeRow(symbol, kind, amount, asset, now_ms, next(self._tran_ids), trade_id)
        self.wallet[asset] = self.balance(asset) + amount
        self.income.append(row)
        self.update_ms[asset] = now_ms
        return row

    # -- risk numbers ----------------------------------------------------------------------
    def unrealized(self, spec: SimSymbol, mark: Decimal) -> Decimal:
        pos = self.position(spec.symbol)
        if pos.amount == 0:
            return ZERO
        return round8(pos.amount * Decimal(spec.contract_size) * (1 / pos.entry - 1 / mark))

    def notional(self, spec: SimSymbol, mark: Decimal) -> Decimal:
        """Signed position value in the coin at the mark."""
        return round8(self.position(spec.symbol).amount * Decimal(spec.contract_size) / mark)

    def maint_margin(self, spec: SimSymbol, mark: Decimal) -> Decimal:
        return round8(abs(self.notional(spec, mark)) * self.maint_rate)

    def position_initial_margin(self, spec: SimSymbol, mark: Decimal) -> Decimal:
        return round8(abs(self.notional(spec, mark)) / self.leverage)

    def order_initial_margin(self, orders: Iterable[OpenOrderMargin]) -> Decimal:
        total = sum((o.remaining * Decimal(o.spec.contract_size) / o.price / self.leverage
                     for o in orders if not o.reduce_only and o.price > 0), ZERO)
        return round8(total)

    def liquidation_price(self, spec: SimSymbol) -> Decimal:
        """Cross margin, one position on the coin: solve W + a·S·(1/E − 1/P) = m·|a|·S/P for P,
        i.e. P = (a + m·|a|)·S / (W + a·S/E). 0 when flat or when no price can liquidate (a short
        fully covered by the wallet)."""
        pos = self.position(spec.symbol)
        a = pos.amount
        if a == 0:
            return ZERO
        size = Decimal(spec.contract_size)
        denominator = self.balance(spec.base_asset) + a * size / pos.entry
        numerator = (a + self.maint_rate * abs(a)) * size
        if denominator == 0 or (numerator > 0) != (denominator > 0):
            return ZERO
        return round8(numerator / denominator)

    def require_margin(self, spec: SimSymbol, contracts: Decimal, price: Decimal, mark: Decimal,
                       open_orders: Iterable[OpenOrderMargin]) -> None:
        """-2019 unless what the account has left covers the initial margin of `contracts` more."""
        asset = spec.base_asset
        orders = list(open_orders)
        available = (self.balance(asset) + self.unrealized(spec, mark)
                     - self.position_initial_margin(spec, mark)
                     - self.order_initial_margin(o for o in orders if o.spec.base_asset == asset))
        needed = contracts * Decimal(spec.contract_size) / price / self.leverage
        if needed > available:
            raise ApiError(-2019, "Margin is insufficient.")
