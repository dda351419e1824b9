"""COIN-M orders: filters against the mark, reduce-only and margin checks, fills into the account,
and funding settled when a mark passes the announced funding time."""
from __future__ import annotations

import logging
from decimal import Decimal

from arbitrage.models import BUY, COINM, SELL
from arbitrage.sim.coinm_account import CoinmAccount, IncomeRow, OpenOrderMargin
from arbitrage.sim.desk import Desk
from arbitrage.sim.faults import Faults
from arbitrage.sim.filters import check_coinm
from arbitrage.sim.market import Market, wall_ms
from arbitrage.sim.matching import Take
from arbitrage.sim.orders import ZERO, NewOrder, SimOrder, SimTrade
from arbitrage.sim.queue import NONE
from arbitrage.sim.rest import ApiError
from arbitrage.sim.symbols import SimSymbol

log = logging.getLogger("arbitrage.sim.coinm")

REDUCE_ONLY_REJECTED = ApiError(-2022, "ReduceOnly Order is rejected.")


class CoinmDesk(Desk):
    kind = COINM
    duplicate_error = ApiError(-4116, "ClientOrderId is duplicated.")

    def __init__(self, market: Market, faults: Faults, publish_impact: bool, account: CoinmAccount,
                 maker_rate: Decimal, taker_rate: Decimal, seed: int, queue_model: str = NONE) -> None:
        super().__init__(market, faults, publish_impact, first_order_id=20_000_001,
                         first_trade_id=60_000_001, seed=seed + 1, queue_model=queue_model)
        self.account = account
        self.maker_rate = maker_rate
        self.taker_rate = taker_rate
        self._funding_due: dict[str, int] = {}
        self._announced_rate: dict[str, float] = {}

    # -- prices --------------------------------------------------------------------------------
    def mark(self, symbol: str) -> Decimal:
        """The mark as clients see it on the wire; the book's mid before the first mark."""
        mark = self.market.marks.get(symbol)
        if mark is not None and mark.mark > 0:
            return Decimal(f"{mark.mark:.8f}")
        mid = self.market.books[symbol].mid()
        return Decimal(f"{mid:.8f}") if mid else Decimal(self.market.books[symbol].spec.start_price)

    def spec(self, symbol: str) -> SimSymbol:
        return self.market.books[symbol].spec

    def open_margin(self) -> list[OpenOrderMargin]:
        return [OpenOrderMargin(self.spec(o.symbol), o.remaining, o.price, o.reduce_only)
                for o in self.open_orders.values()]

    # -- the account side ----------------------------------------------------------------------
    def check_filters(self, new: NewOrder) -> None:
        check_coinm(new.spec, new.type == "MARKET", new.quantity, new.price, self.mark(new.spec.symbol))

    def check_account(self, new: NewOrder, plan: list[Take]) -> None:
        held = self.account.position(new.spec.symbol).amount
        buying = new.side == BUY
        reduces = held != 0 and (held > 0) != buying
        if new.reduce_only:
            if not reduces or new.quantity > abs(held):
                raise REDUCE_ONLY_REJECTED
            return
        growing = new.quantity if not reduces else max(Decimal(0), new.quantity - abs(held))
        if growing <= 0:
            return
        taken = sum((t.qty for t in plan), Decimal(0))
        if new.price is not None:
            price = new.price
        elif taken:     # MARKET: the harmonic average of the levels it will take
            price = taken / sum((t.qty / t.price for t in plan), Decimal(0))
        else:
            price = self.mark(new.spec.symbol)
        self.account.require_margin(new.spec, growing, price, self.mark(new.spec.symbol),
                                    self.open_margin())

    def reduce_only_room(self, order: SimOrder) -> Decimal | None:
        if not order.reduce_only:
            return None
        held = self.account.position(order.symbol).amount
        reduces = held != 0 and (held > 0) != (order.side == BUY)
        return abs(held) if reduces else Decimal(0)

    def book_fill(self, order: SimOrder, price: Decimal, qty: Decimal, maker: bool,
                  trade_id: int, now_ms: int) -> SimTrade:
        rate = self.maker_rate if maker else self.taker_rate
        spec = self.spec(order.symbol)
        result = self.account.fill(spec, order.side, qty, price, rate, now_ms, trade_id)
        order.base_exact += result.base_exact
        return SimTrade(COINM, order.symbol, trade_id, order.order_id, order.side, price, qty,
                        result.base_qty, result.commission, spec.base_asset, result.realized_pnl,
                        now_ms, maker)

    # -- forced reduction (a liquidation or auto-deleveraging of the position) ----------------
    def force_reduce(self, symbol: str, contracts: Decimal, adl: bool = False) -> SimTrade | None:
        """Close up to `contracts` of the position at the mark, as the liquidation engine
        (client id `autoclose-…`, taker fee) or ADL (`adl_autoclose`, no fee) would. The fill is a
        real order + userTrade + income rows, so walletBalance = start + Σ income still holds.
        None when the position is flat."""
        with self.market.lock:
            held = self.account.position(symbol).amount
            qty = min(Decimal(contracts), abs(held))
            if qty <= 0:
                return None
            spec = self.spec(symbol)
            side = SELL if held > 0 else BUY
            price = self.mark(symbol).quantize(spec.tick_size)
            now = wall_ms()
            client_id = "adl_autoclose" if adl else f"autoclose-{now}"
            order = SimOrder(COINM, symbol, next(self._order_ids), client_id, side, "MARKET", "GTC",
                             ZERO, qty, True, now, now, status="FILLED")
            self.orders[order.order_id] = order
            self._by_client[(symbol, client_id)] = order.order_id
            rate = ZERO if adl else self.taker_rate
            result = self.account.fill(spec, side, qty, price, rate, now, (trade_id := next(self._trade_ids)))
            trade = SimTrade(COINM, symbol, trade_id, order.order_id, side, price, qty, result.base_qty,
                             result.commission, spec.base_asset, result.realized_pnl, now, False)
            order.executed, order.cum_quote, order.base_exact = qty, result.base_qty, result.base_exact
            order.trades.append(trade)
            self.trades.append(trade)
            log.info("[FAULT] %s %s %s %s contracts @ %s (position %s -> %s)", symbol,
                     "ADL" if adl else "liquidation", side, qty, price, held,
                     self.account.position(symbol).amount)
            return trade

    # -- funding -------------------------------------------------------------------------------
    def on_mark(self, symbol: str) -> None:
        """Settle when a mark arrives at or after the funding time the previous mark announced,
        at the rate it announced (as Binance settles the displayed rate)."""
        mark = self.market.marks.get(symbol)
        if mark is None:
            return
        due = self._funding_due.get(symbol)
        if due is not None and mark.event_ms >= due:
            self.settle_funding(symbol, Decimal(f"{self._announced_rate[symbol]:.8f}"), funding_ms=due)
        self._funding_due[symbol] = mark.next_funding_ms
        self._announced_rate[symbol] = mark.funding_rate

    def settle_funding(self, symbol: str, rate: Decimal | None = None,
                       funding_ms: int | None = None) -> IncomeRow | None:
        """Book `symbol`'s funding at `rate` (else the mark's current rate) and add the settlement,
        position or not, to the fundingRate history: at `funding_ms` when scheduled, else now
        (a test's settle_funding_now; kept after the last row, one settlement per time)."""
        with self.market.lock:
            if rate is None:
                state = self.market.marks.get(symbol)
                rate = Decimal(f"{state.funding_rate:.8f}") if state else Decimal(0)
            mark = self.mark(symbol)
            row = self.account.settle_funding(self.spec(symbol), mark, rate, wall_ms())
            history = self.market.funding
            when = funding_ms if funding_ms is not None else max(wall_ms(), history.last_time(symbol) + 1)
            # the history row uses the income row's rate and mark: the endpoint agrees with what
            # the account was paid
            history.add(symbol, when, rate, mark)
            if row is not None:
                log.info("[FUNDING] %s rate %s: %s %s", symbol, rate, row.income, row.asset)
            return row
