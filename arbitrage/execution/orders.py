"""One order's life as the bot tracks it: a status that changes only through `TrackedOrder.apply`,
over an explicit table (nautilus_trader style).

A POST that timed out or got a 5xx is UNKNOWN, never "failed": only a query by client order id
moves it on (to what the exchange reports, or to NOT_PLACED when the exchange says it has no such
order). Executed quantity never goes backwards; a report that tries is refused.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal

from arbitrage.models import OrderRequest, OrderState
from arbitrage.numbers import plain

log = logging.getLogger("arbitrage.orders")

INITIALIZED = "INITIALIZED"   # client id chosen and recorded; nothing sent yet
SUBMITTED = "SUBMITTED"       # POST in flight
UNKNOWN = "UNKNOWN"           # POST outcome unknown (timeout / 5xx): query by client id
NOT_PLACED = "NOT_PLACED"     # the exchange says the order does not exist
REJECTED = "REJECTED"         # the exchange refused it (4xx with a code)

_OPEN = ("NEW", "PENDING_NEW", "PARTIALLY_FILLED")
_FINAL_EXCHANGE = ("FILLED", "CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED")
_ANY_EXCHANGE = _OPEN + _FINAL_EXCHANGE

ALLOWED: dict[str, tuple[str, ...]] = {
    INITIALIZED: (SUBMITTED,),
    SUBMITTED: _ANY_EXCHANGE + (UNKNOWN, REJECTED),
    UNKNOWN: _ANY_EXCHANGE + (UNKNOWN, NOT_PLACED),
    "PENDING_NEW": _ANY_EXCHANGE,
    "NEW": _ANY_EXCHANGE,
    "PARTIALLY_FILLED": ("PARTIALLY_FILLED",) + _FINAL_EXCHANGE,
    # final states only accept the same news again (a late duplicate report)
    "FILLED": ("FILLED",),
    "CANCELED": ("CANCELED",),
    "EXPIRED": ("EXPIRED",),
    "EXPIRED_IN_MATCH": ("EXPIRED_IN_MATCH",),
    REJECTED: (REJECTED,),
    NOT_PLACED: (NOT_PLACED,),
}
FINAL = frozenset(_FINAL_EXCHANGE + (NOT_PLACED,))
OPEN = frozenset(_OPEN)        # resting on the exchange: it can still fill


class OrderTransitionError(RuntimeError):
    pass


@dataclass
class TrackedOrder:
    request: OrderRequest
    status: str = INITIALIZED
    state: OrderState | None = None       # the last exchange report
    error: str | None = None               # why it was rejected / why its outcome is unknown
    history: list[str] = field(default_factory=list)

    @property
    def final(self) -> bool:
        return self.status in FINAL

    @property
    def executed(self) -> Decimal:
        return self.state.executed_qty if self.state else Decimal(0)

    @property
    def avg_price(self) -> Decimal | None:
        return self.state.avg_price if self.state else None

    def apply(self, status: str, state: OrderState | None = None, error: str | None = None) -> None:
        if status not in ALLOWED.get(self.status, ()):
            raise OrderTransitionError(
                f"{self.request.client_order_id}: {self.status} -> {status} is not allowed")
        if state is not None:
            if state.client_order_id and state.client_order_id != self.request.client_order_id:
                raise OrderTransitionError(f"{self.request.client_order_id}: report for "
                                           f"{state.client_order_id}")
            if self.state is not None and state.executed_qty < self.state.executed_qty:
                raise OrderTransitionError(f"{self.request.client_order_id}: executed qty went "
                                           f"back from {plain(self.state.executed_qty)} to "
                                           f"{plain(state.executed_qty)}")
            self.state = state
        if error is not None:
            self.error = error
        if status != self.status:
            self.history.append(status)
        self.status = status

    def report(self, state: OrderState) -> None:
        """Apply an exchange report (POST/GET/DELETE answer)."""
        self.apply(state.status, state)
