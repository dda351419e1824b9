"""The trading side of the local exchange: keys, both desks, the accounts and the fault hooks.

It follows the market through `Market.add_step_hook`: after each book change resting orders are
matched; after each mark, funding is settled when due; after each public trade (replay), resting
orders at its price move forward in their queues (a queue model, arbitrage/sim/queue.py). Fills never happen on their own thread.
"""
from __future__ import annotations

from decimal import Decimal

from arbitrage.sim.auth import ApiKeys, Auth
from arbitrage.sim.coinm_account import CoinmAccount
from arbitrage.sim.coinm_desk import CoinmDesk
from arbitrage.sim.faults import Faults
from arbitrage.sim.market import DEPTH, MARK, Market
from arbitrage.sim.queue import NONE
from arbitrage.sim.spot_desk import SpotDesk
from arbitrage.sim.spot_wallet import SpotWallet

# BTC as the issue asks; ETH too so that PAIR=ETH trades on the local exchange out of the box
DEFAULT_SPOT_BALANCES = {"USDT": Decimal("100000"), "BTC": Decimal("1"), "ETH": Decimal("30")}
DEFAULT_COINM_BALANCES = {"BTC": Decimal("1"), "ETH": Decimal("30")}
DEFAULT_SPOT_RATES = (Decimal("0.001"), Decimal("0.001"))       # maker, taker (§8.1)
DEFAULT_COINM_RATES = (Decimal("0.0002"), Decimal("0.0005"))    # maker, taker (§8.4)
DEFAULT_LEVERAGE = 20
DEFAULT_MAINT_RATE = Decimal("0.004")    # maintenance margin: 0.4 % of the position value at mark


class Trading:
    def __init__(self, market: Market, keys: ApiKeys, publish_impact: bool, seed: int,
                 spot_balances: dict[str, Decimal] | None = None,
                 coinm_balances: dict[str, Decimal] | None = None,
                 spot_rates: tuple[Decimal, Decimal] = DEFAULT_SPOT_RATES,
                 coinm_rates: tuple[Decimal, Decimal] = DEFAULT_COINM_RATES,
                 leverage: int = DEFAULT_LEVERAGE, maint_rate: Decimal = DEFAULT_MAINT_RATE,
                 queue_model: str = NONE) -> None:
        self.market = market
        self.keys = keys
        self.auth = Auth(keys)
        self.faults = Faults()
        self.spot_rates = tuple(Decimal(r) for r in spot_rates)
        self.coinm_rates = tuple(Decimal(r) for r in coinm_rates)
        self.wallet = SpotWallet(DEFAULT_SPOT_BALANCES if spot_balances is None else spot_balances)
        self.account = CoinmAccount(DEFAULT_COINM_BALANCES if coinm_balances is None else coinm_balances,
                                    leverage, Decimal(maint_rate))
        self.spot = SpotDesk(market, self.faults, publish_impact, self.wallet, *self.spot_rates, seed=seed,
                             queue_model=queue_model)
        self.coinm = CoinmDesk(market, self.faults, publish_impact, self.account, *self.coinm_rates,
                               seed=seed, queue_model=queue_model)
        self.after_change: list = []     # called under the lock after each step (funding events)
        market.add_step_hook(self.on_step)
        market.add_trade_hook(self.on_trade)

    def on_step(self, symbol: str, kind: str) -> None:
        book = self.market.books.get(symbol)
        if book is None:
            return
        if kind == DEPTH:
            (self.spot if book.spec.is_spot else self.coinm).match_resting(symbol)
        elif kind == MARK and not book.spec.is_spot:
            self.coinm.on_mark(symbol)
            self._changed()

    def on_trade(self, symbol: str, price: Decimal, qty: Decimal, aggressor: str) -> None:
        """A public trade (replay): resting orders at its price move forward in their queues."""
        book = self.market.books.get(symbol)
        if book is not None:
            (self.spot if book.spec.is_spot else self.coinm).public_trade(symbol, price, qty, aggressor)

    def _changed(self) -> None:
        for hook in self.after_change:
            hook()

    def settle_funding_now(self, rate: Decimal | None = None) -> list:
        """Settle every perpetual now, at `rate` or at each mark's current rate."""
        rows = []
        with self.market.lock:
            for symbol, book in list(self.market.books.items()):
                if not book.spec.is_spot:
                    row = self.coinm.settle_funding(symbol, None if rate is None else Decimal(rate))
                    if row is not None:
                        rows.append(row)
            self._changed()
        return rows

    def force_reduce(self, symbol: str, contracts: Decimal, adl: bool = False):
        """A liquidation or ADL of the COIN-M position, announced to the user stream."""
        with self.market.lock:
            trade = self.coinm.force_reduce(symbol, contracts, adl=adl)
            if trade is not None:
                self.coinm.notify("forced", self.coinm.orders[trade.order_id], [trade])
            return trade

    def fills(self, symbol: str) -> list:
        """Every execution on `symbol` (the klines' volume); call holding the market lock."""
        book = self.market.books.get(symbol)
        if book is None:
            return []
        desk = self.spot if book.spec.is_spot else self.coinm
        return [t for t in desk.trades if t.symbol == symbol]
