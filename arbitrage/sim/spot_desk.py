"""Spot orders: filters against the book's mid, funds checked and locked in the SpotWallet."""
from __future__ import annotations

from decimal import Decimal

from arbitrage.models import BUY, SPOT
from arbitrage.sim.desk import Desk
from arbitrage.sim.faults import Faults
from arbitrage.sim.filters import check_spot
from arbitrage.sim.market import Market
from arbitrage.sim.matching import Take
from arbitrage.sim.orders import NewOrder, SimOrder, SimTrade
from arbitrage.sim.queue import NONE
from arbitrage.sim.spot_wallet import SpotWallet


class SpotDesk(Desk):
    kind = SPOT

    def __init__(self, market: Market, faults: Faults, publish_impact: bool, wallet: SpotWallet,
                 maker_rate: Decimal, taker_rate: Decimal, seed: int, queue_model: str = NONE) -> None:
        super().__init__(market, faults, publish_impact, first_order_id=10_000_001,
                         first_trade_id=50_000_001, seed=seed, queue_model=queue_model)
        self.wallet = wallet
        self.maker_rate = maker_rate
        self.taker_rate = taker_rate

    def check_filters(self, new: NewOrder) -> None:
        mid = self.market.books[new.spec.symbol].mid()
        ref = Decimal(f"{mid:.8f}") if mid is not None else None
        check_spot(new.spec, new.type == "MARKET", new.quantity, new.price, ref)

    def check_account(self, new: NewOrder, plan: list[Take]) -> None:
        spec = new.spec
        if new.side == BUY:
            if new.price is not None:
                need = new.quantity * new.price
            else:
                need = sum((t.qty * t.price for t in plan), Decimal(0))
            self.wallet.require(spec.quote_asset, need)
        else:
            self.wallet.require(spec.base_asset, new.quantity)

    def _reserved(self, order: SimOrder) -> tuple[str, Decimal]:
        spec = self.market.books[order.symbol].spec
        if order.side == BUY:
            return spec.quote_asset, order.remaining * order.price
        return spec.base_asset, order.remaining

    def on_rest(self, order: SimOrder) -> None:
        self.wallet.lock(*self._reserved(order))

    def on_close(self, order: SimOrder) -> None:
        self.wallet.unlock(*self._reserved(order))

    def book_fill(self, order: SimOrder, price: Decimal, qty: Decimal, maker: bool,
                  trade_id: int, now_ms: int) -> SimTrade:
        spec = self.market.books[order.symbol].spec
        locked_at = order.price if order.order_id in self.open_orders else None
        rate = self.maker_rate if maker else self.taker_rate
        commission, asset = self.wallet.fill(spec, order.side, qty, price, rate, locked_at, now_ms)
        return SimTrade(SPOT, order.symbol, trade_id, order.order_id, order.side, price, qty,
                        qty * price, commission, asset, Decimal(0), now_ms, maker)
