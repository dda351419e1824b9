"""Chase entry (issue 15): the spot leg rests at the touch on its side and follows it. Pure.

What each move costs on Binance decides the intent: spot `order.amend.keepPriority` only *lowers*
the quantity and keeps the order's place in the queue, so it is used for size; any price change
is an `order.cancelReplace` (a new order at the back of the new level). Hence:

    give up    the entry rule no longer holds (the caller evaluates it: the basis closed)
               or following the touch would put the price more than CHASE_MAX_SLIP_BPS
               beyond where the chase started (against us: higher for a buy, lower for a sell)
    keep       less than CHASE_INTERVAL_MS since the last request; or the order is at the
               touch or better (a buy at or above the best bid: nobody ahead at a better price)
               and holds no more than it still needs
    amend qty  at the touch, but the order holds more than the plan still needs: lower it,
               keeping the place (never raised: that would cost the place)
    replace    the touch moved away (a buy below the best bid, a sell above the best ask): a
               cancel-replace at the touch for what is still needed

A buy chases the best bid, a sell the best ask; the replace price never crosses the other side
(a post-only order that would take is rejected). Prices are on the tick grid of the book.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from arbitrage.models import BUY, SELL

ZERO = Decimal(0)
KEEP, AMEND_QTY, REPLACE, GIVE_UP = "keep", "amend_qty", "replace", "give_up"


@dataclass(frozen=True, slots=True)
class ChaseSettings:
    interval_ms: float          # CHASE_INTERVAL_MS: the least time between two requests
    max_slip_bps: Decimal       # CHASE_MAX_SLIP_BPS: how far the price may follow the touch


@dataclass(frozen=True, slots=True)
class RestingOrder:
    side: str                   # BUY / SELL (spot)
    price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal
    start_price: Decimal        # the chase's first price: the slip is measured from it
    last_request_ms: int        # the last place / amend / replace sent for this chase

    @property
    def open_qty(self) -> Decimal:
        return self.orig_qty - self.executed_qty


@dataclass(frozen=True, slots=True)
class ChaseIntent:
    action: str                 # KEEP, AMEND_QTY, REPLACE, GIVE_UP
    price: Decimal | None = None    # REPLACE: the new price
    qty: Decimal | None = None      # AMEND_QTY: the order's new total quantity; REPLACE: the new order's
    reason: str = ""


def slip_bps(side: str, start: Decimal, price: Decimal) -> Decimal:
    """How far `price` is from `start` against us, in bps (negative: better than the start)."""
    move = price - start if side == BUY else start - price
    return move / start * 10_000


def decide_chase(order: RestingOrder, best_bid: Decimal, best_ask: Decimal, still_needed: Decimal,
                 entry_rule_met: bool, now_ms: int, s: ChaseSettings) -> ChaseIntent:
    """The next step of a chase. `still_needed`: the spot quantity the plan still wants filled
    (what is open on the order counts towards it; 0 = nothing more)."""
    if order.side not in (BUY, SELL):
        raise ValueError(f"unknown side {order.side!r}")
    if not entry_rule_met:
        return ChaseIntent(GIVE_UP, reason="the entry rule no longer holds")
    if still_needed <= 0:
        return ChaseIntent(GIVE_UP, reason="nothing more is needed")
    if now_ms - order.last_request_ms < s.interval_ms:
        return ChaseIntent(KEEP, reason="CHASE_INTERVAL_MS since the last request")
    buying = order.side == BUY
    touch = best_bid if buying else best_ask
    at_touch = order.price >= touch if buying else order.price <= touch
    if at_touch:
        if order.open_qty > still_needed:
            return ChaseIntent(AMEND_QTY, qty=order.executed_qty + still_needed,
                               reason="more open than needed: lowered, keeping the place")
        return ChaseIntent(KEEP, reason="at the touch")
    slip = slip_bps(order.side, order.start_price, touch)
    if slip > s.max_slip_bps:
        return ChaseIntent(GIVE_UP, reason=f"the touch {touch} is {slip:.2f} bps from the chase's "
                                           f"start {order.start_price}, beyond CHASE_MAX_SLIP_BPS "
                                           f"{s.max_slip_bps}")
    # never on or across the other side: a post-only order there would be rejected
    if (buying and touch >= best_ask) or (not buying and touch <= best_bid):
        return ChaseIntent(KEEP, reason="crossed book: no maker price")
    return ChaseIntent(REPLACE, price=touch, qty=still_needed, reason="the touch moved away")
