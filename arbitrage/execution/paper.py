"""DRY_RUN fills on paper: what each order would have got, so a dry run's results mean something.

A MARKET order walks the local book's levels on its side, as the exchange's matching would: spot in
base quantity (VWAP = Σ p·q / Σ q), COIN-M in contracts (harmonic VWAP of an inverse contract,
N·S / Σ n·S/p). Commissions at the account's own rates (`FeeRates`), charged as Binance charges
them: a spot BUY in the base coin, a spot SELL in the quote coin, COIN-M in the margin coin; COIN-M
realized PnL against the paper position's (harmonic) entry price. A book too thin for the whole
quantity fills what it has and the order expires, as a real MARKET order does. A LIMIT order
(maker mode) fills whole at its limit price at the maker rate: paper cannot know whether the
touch would have traded, so maker dry runs are optimistic.

The books belong to the engine thread: `snapshot` copies the levels a pair can need when the pair
is submitted (on that thread); the legs are then filled from the copy on any thread, each fill
taking its liquidity out of it so an exit's remainder walks on from where its leg stopped.
Nothing here is sent anywhere or written to disk.
"""
from __future__ import annotations

import itertools
import threading
import time
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import Callable, Iterable

from arbitrage.models import (BUY, COINM, SELL, SPOT, Fill, Level, OrderRequest, OrderState,
                              SymbolRules)
from arbitrage.strategy.entry import FeeRates

Q8 = Decimal("0.00000001")
ZERO = Decimal(0)


def _dec(x: float | Decimal) -> Decimal:
    """A book float as the decimal it was parsed from (the shortest repr reads back as it); a
    whole number without its ".0" (contracts: 203, not 203.0)."""
    if isinstance(x, Decimal):
        return x
    return Decimal(int(x)) if x.is_integer() else Decimal(repr(x))


def walk(levels: Iterable[Level], qty: Decimal) -> list[tuple[Decimal, Decimal]]:
    """(price, quantity) taken level by level, best first, until `qty` (book units: base coin on
    spot, contracts on COIN-M) is filled or the levels run out."""
    taken: list[tuple[Decimal, Decimal]] = []
    left = qty
    for price, level_qty in levels:
        if left <= 0:
            break
        take = min(_dec(level_qty), left)
        if take > 0:
            taken.append((_dec(price), take))
            left -= take
    return taken


def spot_vwap(taken: list[tuple[Decimal, Decimal]]) -> Decimal | None:
    qty = sum((q for _, q in taken), ZERO)
    return sum((p * q for p, q in taken), ZERO) / qty if qty else None


def inverse_vwap(taken: list[tuple[Decimal, Decimal]], contract_size: Decimal) -> Decimal | None:
    """N·S / Σ n·S/p: the price at which N contracts are worth the BTC actually exchanged."""
    n = sum((q for _, q in taken), ZERO)
    base = sum((q * contract_size / p for p, q in taken), ZERO)
    return n * contract_size / base if base else None


class PaperDesk:
    def __init__(self, books: Callable[[], tuple], spot_rules: SymbolRules,
                 perp_rules: SymbolRules, fees: FeeRates,
                 clock: Callable[[], float] = time.time) -> None:
        """`books()` returns the (spot, COIN-M) OrderBooks; called on the engine thread only."""
        self._books = books
        self.rules = {SPOT: spot_rules, COINM: perp_rules}
        self.fees = fees
        self._clock = clock
        self._lock = threading.Lock()
        self._levels: dict[tuple[str, str], list[list[Decimal]]] = {}
        self._ids = itertools.count(1)
        self.position = ZERO                 # paper contracts (signed), what paper orders did
        self.entry_price: Decimal | None = None

    # -- engine thread -------------------------------------------------------------------------
    def snapshot(self, spot_qty: Decimal, contracts: Decimal) -> None:
        """Copy, for each side of both books, the best levels that cover the pair's quantity
        (a rescue or a remainder is never larger than its leg)."""
        spot, perp = self._books()
        levels = {}
        for market, book, need in ((SPOT, spot, float(spot_qty)), (COINM, perp, float(contracts))):
            for side, source in ((BUY, book.iter_asks()), (SELL, book.iter_bids())):
                copied, got = [], 0.0
                for price, qty in source:
                    copied.append([_dec(price), _dec(qty)])
                    got += qty
                    if got >= need:
                        break
                levels[(market, side)] = copied
        with self._lock:
            self._levels = levels

    # -- any thread ----------------------------------------------------------------------------
    def fill(self, req: OrderRequest) -> OrderState:
        with self._lock:
            if req.type == "MARKET":
                taken = walk(self._levels.get((req.market, req.side), ()), req.quantity)
                self._consume(req.market, req.side, taken)
                maker = False
            else:
                taken = [(req.price, req.quantity)]
                maker = True
            return self._state(req, taken, maker)

    def _consume(self, market: str, side: str, taken: list[tuple[Decimal, Decimal]]) -> None:
        levels = self._levels.get((market, side), [])
        for _, qty in taken:
            levels[0][1] -= qty
            if levels[0][1] <= 0:
                levels.pop(0)

    def _state(self, req: OrderRequest, taken: list[tuple[Decimal, Decimal]],
               maker: bool) -> OrderState:
        now_ms = int(self._clock() * 1000)
        order_id = next(self._ids)
        rules = self.rules[req.market]
        fills = tuple(self._fill(req, rules, order_id, price, qty, maker, now_ms)
                      for price, qty in taken)
        executed = sum((f.qty for f in fills), ZERO)
        cum_quote = sum((f.quote_qty for f in fills), ZERO)
        if req.market == SPOT:
            avg = spot_vwap(taken)
        else:
            avg = inverse_vwap(taken, rules.contract_size)
            avg = avg.quantize(Q8, ROUND_HALF_EVEN) if avg is not None else None
        status = "FILLED" if executed == req.quantity else "EXPIRED"
        return OrderState(req.market, req.symbol, order_id, req.client_order_id, req.side,
                          req.type, status, req.quantity, executed, cum_quote, avg,
                          req.price or ZERO, req.reduce_only, now_ms, fills)

    def _fill(self, req: OrderRequest, rules: SymbolRules, order_id: int, price: Decimal,
              qty: Decimal, maker: bool, now_ms: int) -> Fill:
        trade_id = next(self._ids)
        if req.market == SPOT:
            rate = self.fees.spot_maker if maker else self.fees.spot_taker
            quote = qty * price
            if req.side == BUY:
                commission, asset = _truncate8(qty * rate), rules.base_asset
            else:
                commission, asset = _truncate8(quote * rate), rules.quote_asset
            return Fill(SPOT, req.symbol, order_id, trade_id, req.side, price, qty, quote,
                        commission, asset, ZERO, now_ms, maker)
        rate = self.fees.coinm_maker if maker else self.fees.coinm_taker
        base_exact = qty * rules.contract_size / price
        realized = self._realize(req.side, qty, price, rules.contract_size)
        return Fill(COINM, req.symbol, order_id, trade_id, req.side, price, qty,
                    base_exact.quantize(Q8, ROUND_HALF_EVEN), _truncate8(base_exact * rate),
                    rules.margin_asset or rules.base_asset, realized, now_ms, maker)

    def _realize(self, side: str, qty: Decimal, price: Decimal, size: Decimal) -> Decimal:
        """Realized PnL (BTC) of one COIN-M fill against the paper position, which it updates:
        an inverse long of n contracts gains n·S·(1/entry − 1/price) when closed."""
        held = self.position
        signed = qty if side == BUY else -qty
        realized = ZERO
        if held == 0 or (held > 0) == (signed > 0):
            total = abs(held) + qty
            self.entry_price = (total / (abs(held) / self.entry_price + qty / price)
                                if held else price)
        else:
            closed = min(qty, abs(held))
            per_contract = size * (1 / self.entry_price - 1 / price)
            realized = (closed * per_contract if held > 0 else -closed * per_contract) \
                .quantize(Q8, ROUND_HALF_EVEN)
            if qty > abs(held):
                self.entry_price = price        # flipped: the rest opens at this price
            elif qty == abs(held):
                self.entry_price = None
        self.position = held + signed
        return realized


def _truncate8(value: Decimal) -> Decimal:
    return value.quantize(Q8, ROUND_DOWN)
