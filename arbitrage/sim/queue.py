"""Queue position of resting orders: how much stands ahead of each one at its price.

The local exchange's books are market-by-price (one quantity per level, as Binance publishes them),
so where a client's order sits inside a level can only be estimated. Two models
(`SIM_QUEUE_MODEL`):

- `none` — no queue: a resting order fills only when the book trades *through* its price (the
  opposite side reaches it: every order ahead must then be gone). Trades at its price do not
  fill it. This is the conservative rule the exchange always had, and the default, so existing
  runs and backtests keep their results.
- `risk_averse` — hftbacktest's `RiskAverseQueueModel`: an order joins behind the quantity
  resting at its price when it is accepted; only trades at its price (or through it) move it
  forward; a level decrease without a trade is assumed to be a cancel *behind* it, except that
  what is ahead can never exceed what rests at the level (ahead = min(ahead, level)). Trade volume
  beyond what is ahead fills the order. Trading through the price still fills it as with `none`.

Trades come from the replayed recording's public trade stream and from this exchange's own
clients' taker orders hitting the level; the synthetic market prints no public trades, so there
an order moves forward only by level decreases and clients' takers. An amend that keeps priority
(spot `order.amend.keepPriority`, a quantity decrease) keeps the place; COIN-M `order.modify`
and spot cancel-replace go to the back of the new level (Binance: "modified orders will be
reordered in the match queue").
"""
from __future__ import annotations

from decimal import Decimal

NONE, RISK_AVERSE = "none", "risk_averse"
MODELS = (NONE, RISK_AVERSE)
ZERO = Decimal(0)


class Queues:
    """`ahead[order_id]`: the quantity in front of each resting order (risk_averse only)."""

    def __init__(self, model: str = NONE) -> None:
        if model not in MODELS:
            raise ValueError(f"queue model must be one of {', '.join(MODELS)}, not {model!r}")
        self.model = model
        self.ahead: dict[int, Decimal] = {}

    @property
    def active(self) -> bool:
        return self.model == RISK_AVERSE

    def join(self, order_id: int, level_qty: Decimal) -> None:
        """The order rests now, behind everything at its level (a new order or a re-priced one)."""
        if self.active:
            self.ahead[order_id] = max(ZERO, level_qty)

    def forget(self, order_id: int) -> None:
        self.ahead.pop(order_id, None)

    def level(self, order_id: int, level_qty: Decimal) -> None:
        """The level now holds `level_qty` (without us): what is ahead cannot be more."""
        ahead = self.ahead.get(order_id)
        if ahead is not None and level_qty < ahead:
            self.ahead[order_id] = max(ZERO, level_qty)

    def trade(self, order_id: int, qty: Decimal) -> Decimal:
        """`qty` traded at the order's price (or through it): the part beyond what was ahead
        reached the order and is what it may fill now (0 with `none`)."""
        ahead = self.ahead.get(order_id)
        if ahead is None or qty <= 0:
            return ZERO
        left = ahead - qty
        self.ahead[order_id] = max(ZERO, left)
        return -left if left < 0 else ZERO

    def position(self, order_id: int) -> Decimal | None:
        """What is ahead of the order (None: not tracked, e.g. model `none`)."""
        return self.ahead.get(order_id)
