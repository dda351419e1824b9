"""Changing a resting order in place: spot's keep-priority quantity amend and COIN-M's modify.

Both run under the market lock on the desk's own records and announce the change to the user
streams ("amended"; a change that ends the order is announced as "canceled" / "expired").
"""
from __future__ import annotations

from decimal import Decimal

from arbitrage.sim.coinm_desk import CoinmDesk
from arbitrage.sim.desk import Desk
from arbitrage.sim.filters import check_coinm
from arbitrage.sim.market import wall_ms
from arbitrage.sim.matching import would_cross
from arbitrage.sim.orders import SimOrder
from arbitrage.sim.rest import ApiError


def amend_keep_priority(desk: Desk, order: SimOrder, new_qty: Decimal, new_client_id: str) -> SimOrder:
    """Spot (binance-ws-api.md §4.5): only a reduction below the current quantity; the order keeps
    its place in the queue. A quantity at or below what has filled ends the order: it expires
    (the amend that "makes the order expire", SPOT-CL 2026-04-02)."""
    with desk.market.lock:
        if not order.is_open:
            raise ApiError(-2011, "Unknown order sent.")
        if new_qty <= 0:
            raise ApiError(-1013, "Invalid quantity.")
        if new_qty == order.orig_qty and new_client_id == order.client_order_id:
            raise ApiError(-2038, "The requested action would change no state; rejecting")
        if new_qty > order.orig_qty:
            raise ApiError(-2038, "Order amend (quantity increase) is not supported.")
        desk.on_close(order)                       # release what the old quantity held …
        desk.rename(order, new_client_id)
        order.orig_qty = max(new_qty, order.executed)
        order.update_ms = wall_ms()
        if order.remaining <= 0:
            order.status = "EXPIRED"
            desk.queues.forget(order.order_id)
            desk.open_orders.pop(order.order_id, None)
            desk.notify("expired", order)
        else:
            desk.on_rest(order)                    # … and hold what the new one needs
            # its queue position is untouched: a smaller quantity keeps its place
            desk.notify("amended", order)
        return order


def modify(desk: CoinmDesk, order: SimOrder, qty: Decimal, price: Decimal) -> SimOrder:
    """COIN-M (binance-ws-api.md §5.3; Binance: "modified orders will be reordered in the match
    queue"): LIMIT only; the order goes to the back of its queue, whatever changed. A
    quantity at or below what has filled, or a post-only order that would take at the new price,
    cancels the order instead. Filters failing leave it as it was."""
    with desk.market.lock:
        if not order.is_open:
            raise ApiError(-2013, "Order does not exist.")
        if order.type != "LIMIT":
            raise ApiError(-4028, "Only limit order is supported.")
        spec = desk.market.books[order.symbol].spec
        check_coinm(spec, False, qty, price, desk.mark(order.symbol))
        order.update_ms = wall_ms()
        book = desk.market.books[order.symbol]
        if qty <= order.executed or (order.time_in_force == "GTX" and would_cross(book, order.side, price)):
            order.status = "CANCELED"
            desk.queues.forget(order.order_id)
            desk.open_orders.pop(order.order_id, None)
            desk.on_close(order)
            desk.notify("canceled", order)
            return order
        desk.open_orders.pop(order.order_id)
        order.orig_qty, order.price = qty, price
        desk.open_orders[order.order_id] = order   # priority lost: last in the queue …
        desk.queues.join(order.order_id, desk.level_qty(order))   # … behind its new level
        desk.notify("amended", order)
        return order
