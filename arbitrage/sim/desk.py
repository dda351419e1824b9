"""One market's order handling (spot or COIN-M): accept, take, rest, match on each book step, cancel.

Everything runs under `Market.lock`, the lock the sources change books under, so an order sees a
book no stream event is half-way through changing. A MARKET order walks the book and consumes it;
a LIMIT takes what crosses at the levels' prices (taker), then rests. Resting orders are invisible
in the published book; after each book step a resting BUY fills at its own price against asks at
or below it (maker), consuming them — mirror for SELL — so partial fills happen naturally.
The account side (funds, margin, reduce-only, fees) is the subclass's job. With a queue model
(arbitrage/sim/queue.py) a resting order also fills from trades at its price once the quantity
ahead of it has traded: at its own price, as maker, without taking from the book (the trade that
reached it has already happened there).
"""
from __future__ import annotations

import itertools
import random
import string
from decimal import ROUND_DOWN, Decimal
from typing import Callable

from arbitrage.models import BUY
from arbitrage.sim.faults import Faults
from arbitrage.sim.market import Market, wall_ms
from arbitrage.sim.matching import Take, consume, plan_take, would_cross
from arbitrage.sim.orders import NewOrder, SimOrder, SimTrade
from arbitrage.sim.queue import NONE, Queues
from arbitrage.sim.rest import ApiError
from arbitrage.sim.symbols import SimSymbol

ZERO = Decimal(0)
# (what, order, its new trades, the cancel's client id): what is "placed", "filled", "canceled",
# "expired", "amended" or "forced"; called under the market lock, right after the change
Listener = Callable[[str, SimOrder, list[SimTrade], "str | None"], None]
_ID_CHARS = string.ascii_letters + string.digits


class Desk:
    kind = ""
    duplicate_error = ApiError(-2010, "Duplicate order sent.")

    def __init__(self, market: Market, faults: Faults, publish_impact: bool, first_order_id: int,
                 first_trade_id: int, seed: int, queue_model: str = NONE) -> None:
        self.market = market
        self.queues = Queues(queue_model)
        self.faults = faults
        self.publish_impact = publish_impact
        self.orders: dict[int, SimOrder] = {}
        self.open_orders: dict[int, SimOrder] = {}       # insertion order = time priority
        self.trades: list[SimTrade] = []
        self._by_client: dict[tuple[str, str], int] = {}  # latest order with that client id
        self._order_ids = itertools.count(first_order_id)
        self._trade_ids = itertools.count(first_trade_id)
        self._rng = random.Random(seed)
        self._busy = False          # set while our own fills change the book: no re-entry
        self.listeners: list[Listener] = []      # the user data streams

    def notify(self, what: str, order: SimOrder, trades: list[SimTrade] | None = None,
               cancel_id: str | None = None) -> None:
        for listener in self.listeners:
            listener(what, order, list(trades or ()), cancel_id)

    # -- the account side (subclasses) -------------------------------------------------------
    def check_filters(self, new: NewOrder) -> None:
        raise NotImplementedError

    def check_account(self, new: NewOrder, plan: list[Take]) -> None:
        raise NotImplementedError

    def reduce_only_room(self, order: SimOrder) -> Decimal | None:
        """How much a resting order may still fill without growing a position (None: no limit)."""
        return None

    def on_rest(self, order: SimOrder) -> None:
        """The order starts resting (spot locks its funds)."""

    def on_close(self, order: SimOrder) -> None:
        """A resting order left the book (filled, canceled, expired): release what is left."""

    def book_fill(self, order: SimOrder, price: Decimal, qty: Decimal, maker: bool,
                  trade_id: int, now_ms: int) -> SimTrade:
        raise NotImplementedError

    # -- queries -----------------------------------------------------------------------------
    def find(self, symbol: str, order_id: int | None, client_id: str | None) -> SimOrder | None:
        with self.market.lock:
            if order_id is not None:
                order = self.orders.get(order_id)
                if order is None or (client_id is not None and order.client_order_id != client_id):
                    return None
            else:
                found = self._by_client.get((symbol, client_id or ""))
                order = self.orders.get(found) if found is not None else None
            return order if order is not None and order.symbol == symbol else None

    def open_list(self, symbol: str | None = None) -> list[SimOrder]:
        with self.market.lock:
            return [o for o in self.open_orders.values() if symbol in (None, o.symbol)]

    # -- placing -----------------------------------------------------------------------------
    def place(self, new: NewOrder) -> SimOrder:
        spec, side = new.spec, new.side
        with self.market.lock:
            book = self.market.books[spec.symbol]
            self.check_filters(new)
            scripted = self.faults.take_reject(self.kind)
            if scripted is not None:
                raise ApiError(*scripted)
            if new.client_order_id and self._open_with_client_id(spec.symbol, new.client_order_id):
                raise self.duplicate_error
            limit = new.price if new.type != "MARKET" else None
            plan = plan_take(book, side, new.quantity, limit)
            crossing = limit is not None and would_cross(book, side, limit)
            if new.type == "LIMIT_MAKER" and crossing:
                raise ApiError(-2010, "Order would immediately match and take.")
            self.check_account(new, plan)
            # a scripted partial fill applies to the next order that is accepted
            fraction = self.faults.take_partial(self.kind)
            cap = None if fraction is None else _to_step(new.quantity * fraction, spec)
            if cap is not None:
                plan = plan_take(book, side, min(cap, new.quantity), limit)
            order = self._register(new, cap)
            if new.time_in_force == "GTX" and crossing:
                order.status = "EXPIRED"                 # COIN-M post-only: accepted, then expired
            elif new.time_in_force == "FOK" and sum((t.qty for t in plan), ZERO) < new.quantity:
                order.status = "EXPIRED"
            else:
                if new.type != "LIMIT_MAKER" and new.time_in_force != "GTX":
                    self._execute(order, plan, maker=False)
                    self._taken_from_queues(order, plan)
                if order.remaining == 0:
                    order.status = "FILLED"
                elif new.type == "MARKET" or new.time_in_force in ("IOC", "FOK"):
                    order.status = "EXPIRED"             # the rest of a taker order does not rest
                else:
                    order.status = "PARTIALLY_FILLED" if order.executed else "NEW"
                    self.open_orders[order.order_id] = order
                    self.queues.join(order.order_id, self.level_qty(order))
                    self.on_rest(order)
            self.notify("placed", order, order.trades)
            return order

    def _open_with_client_id(self, symbol: str, client_id: str) -> bool:
        found = self._by_client.get((symbol, client_id))
        return found is not None and found in self.open_orders

    def _register(self, new: NewOrder, cap: Decimal | None) -> SimOrder:
        now = wall_ms()
        order = SimOrder(self.kind, new.spec.symbol, next(self._order_ids),
                         new.client_order_id or self.new_client_id(), new.side, new.type,
                         new.time_in_force, new.price if new.price is not None else ZERO,
                         new.quantity, new.reduce_only, now, now, fill_cap=cap)
        self.orders[order.order_id] = order
        self._by_client[(order.symbol, order.client_order_id)] = order.order_id
        return order

    def rename(self, order: SimOrder, client_id: str) -> None:
        """The order answers to a new client id from now on (an amend's newClientOrderId)."""
        with self.market.lock:
            self._by_client.pop((order.symbol, order.client_order_id), None)
            order.client_order_id = client_id
            self._by_client[(order.symbol, client_id)] = order.order_id

    def new_client_id(self) -> str:
        return "".join(self._rng.choice(_ID_CHARS) for _ in range(22))

    def _execute(self, order: SimOrder, takes: list[Take], maker: bool) -> None:
        """Fill `order` against `takes` (at the order's own price when it is the maker) and
        remove the taken quantity from the book."""
        if not takes:
            return
        now = wall_ms()
        self._busy = True
        try:
            for take in takes:
                price = order.price if maker else take.price
                trade = self.book_fill(order, price, take.qty, maker, next(self._trade_ids), now)
                order.executed += take.qty
                order.cum_quote += trade.quote_qty
                order.trades.append(trade)
                order.update_ms = now
                self.trades.append(trade)
            consume(self.market, self.market.books[order.symbol], order.side, takes,
                    self.market.clock_ms(), self.publish_impact)
        finally:
            self._busy = False

    # -- resting orders ----------------------------------------------------------------------
    def match_resting(self, symbol: str) -> None:
        """After a book step: fill resting orders the market now trades through."""
        if self._busy or not self.open_orders:
            return
        book = self.market.books.get(symbol)
        if book is None:
            return
        for order in list(self.open_orders.values()):
            if order.symbol != symbol or order.fillable <= 0:
                continue
            room = self.reduce_only_room(order)
            if room is not None and room <= 0:
                order.status = "EXPIRED"        # the position it was to reduce is gone
                order.update_ms = wall_ms()
                self._close(order)
                self.notify("expired", order)
                continue
            if self.queues.active:          # the level shrank: at most that much is ahead now
                self.queues.level(order.order_id, self.level_qty(order))
            wanted = order.fillable if room is None else min(order.fillable, room)
            takes = plan_take(book, order.side, wanted, order.price)
            if not takes:
                continue
            before = len(order.trades)
            self._execute(order, takes, maker=True)
            if order.remaining == 0:
                order.status = "FILLED"
                self._close(order)
            else:
                order.status = "PARTIALLY_FILLED"
            self.notify("filled", order, order.trades[before:])

    def cancel(self, symbol: str, order_id: int | None, client_id: str | None,
               cancel_id: str | None = None) -> SimOrder:
        """`cancel_id`: the cancel request's newClientOrderId (spot), shown in its event."""
        with self.market.lock:
            order = self.find(symbol, order_id, client_id)
            if order is None or not order.is_open:
                raise ApiError(-2011, "Unknown order sent.")
            order.status = "CANCELED"
            order.update_ms = wall_ms()
            self._close(order)
            self.notify("canceled", order, cancel_id=cancel_id)
            return order

    def _close(self, order: SimOrder) -> None:
        self.queues.forget(order.order_id)
        if self.open_orders.pop(order.order_id, None) is not None:
            self.on_close(order)

    # -- queue position (arbitrage/sim/queue.py) ---------------------------------------------
    def level_qty(self, order: SimOrder) -> Decimal:
        """What rests in the exchange's book at the order's price on its own side (without it)."""
        book = self.market.books[order.symbol]
        levels = book.bids if order.side == BUY else book.asks
        qty = levels.get(float(order.price), 0.0)
        return Decimal(book.spec.fmt_qty(qty)) if qty > 0 else ZERO

    def public_trade(self, symbol: str, price: Decimal, qty: Decimal, aggressor: str) -> None:
        """`qty` traded at `price`, the `aggressor` side taking: resting orders on the other side
        at that price or beyond it move forward in their queues, and what reaches them fills."""
        if not self.queues.active or not self.open_orders or self._busy:
            return
        left = qty
        for order in list(self.open_orders.values()):     # time priority
            if left <= 0:
                break
            if order.symbol != symbol or order.side == aggressor or order.fillable <= 0:
                continue
            if order.price < price if order.side == BUY else order.price > price:
                continue        # the trade did not reach this order's price
            reached = self.queues.trade(order.order_id, left)
            room = self.reduce_only_room(order)
            fill = min(reached, order.fillable, order.fillable if room is None else room)
            fill = _to_step(fill, self.market.books[symbol].spec)
            if fill <= 0:
                continue
            left -= fill        # what filled this order is not there for the ones behind it
            self._fill_from_queue(order, fill)

    def fill_resting(self, symbol: str, client_id: str, qty: Decimal | None = None):
        """A test's chosen moment: the open order fills now (whole, or `qty` of it) at its own
        price as the maker, as if the market had traded through it (whatever its partial-fill
        fault says). Returns the SimTrade."""
        with self.market.lock:
            order = self.find(symbol, None, client_id)
            if order is None or not order.is_open:
                raise ValueError(f"{symbol} {client_id}: no such open order")
            if qty is not None and not 0 < qty <= order.remaining:
                raise ValueError(f"{symbol} {client_id}: {qty} is not part of {order.remaining} open")
            self._fill_from_queue(order, order.remaining if qty is None else qty)
            return order.trades[-1]

    def _fill_from_queue(self, order: SimOrder, qty: Decimal) -> None:
        now = wall_ms()
        trade = self.book_fill(order, order.price, qty, True, next(self._trade_ids), now)
        order.executed += qty
        order.cum_quote += trade.quote_qty
        order.trades.append(trade)
        order.update_ms = now
        self.trades.append(trade)
        if order.remaining == 0:
            order.status = "FILLED"
            self._close(order)
        else:
            order.status = "PARTIALLY_FILLED"
        self.notify("filled", order, [trade])

    def _taken_from_queues(self, taker: SimOrder, takes: list[Take]) -> None:
        """A client's taker order traded with the levels it took: trades at those prices."""
        for take in takes:
            self.public_trade(taker.symbol, take.price, take.qty, taker.side)


def _to_step(qty: Decimal, spec: SimSymbol) -> Decimal:
    """Round down to the quantity grid (a partial fill never exceeds the asked fraction)."""
    steps = (qty / spec.step_size).to_integral_value(rounding=ROUND_DOWN)
    return steps * spec.step_size
