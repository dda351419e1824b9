"""The order-event hub: what the user data streams pushed about the bot's orders, for the pair
monitor to wait on instead of sleeping between REST polls.

Stream threads `deliver` events; the execution thread `wait`s on the client order ids of the
orders it watches and wakes the moment one of them has news. The hub keeps no order state of its
own: news is a reason to read the order (one `order.status` over the WebSocket API), so the
executor's state always comes from the exchange's answer with the parsers it already trusts.

It also knows when pushed news cannot be relied on — a stream down, or a gap (`UserStreamGap`)
that no REST reconciliation has covered yet: the monitor then polls, and new entries wait
(`entry_block`) until an account fetch (balances + the sweep of executions) that started after
the gap has come back.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from arbitrage.models import BalanceEvent, ExecutionEvent, PositionEvent, UserStreamGap
from arbitrage.accounting.sweep_cadence import BOT_ORDER

log = logging.getLogger("arbitrage.order_events")

KEPT = 2000                 # client ids remembered (a pair uses a handful)
FINAL = ("FILLED", "CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED")
# ACCOUNT_UPDATE reasons that move a position the bot did not order (Binance's `m`)
FORCED = ("ADL", "LIQUIDATION", "INSURANCE_CLEAR", "AUTO_EXCHANGE")


class OrderEventHub:
    def __init__(self, live: Callable[[], bool] = lambda: True,
                 now_ms: Callable[[], int] | None = None) -> None:
        self.live = live                       # both user streams delivering right now
        self._now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)
        self._news: OrderedDict[str, int] = OrderedDict()   # client id -> events seen
        self._final_at: OrderedDict[str, float] = OrderedDict()  # client id -> when final (monotonic)
        self._cond = threading.Condition()
        self.gap_until_ms = 0                  # end of the latest gap (0: none)
        self.reconciled_ms = 0                 # start of the latest REST reconciliation
        self.events = self.gaps = self.forced = 0
        self.outside = 0                       # executions pushed for orders not the bot's (the sweep's)

    # -- stream threads ---------------------------------------------------------------------
    def deliver(self, event) -> None:
        kind = type(event)
        if kind is ExecutionEvent:
            with self._cond:
                self.events += 1
                cid = event.client_order_id
                self._news[cid] = self._news.pop(cid, 0) + 1
                if event.status in FINAL and cid not in self._final_at:
                    self._final_at[cid] = time.monotonic()
                while len(self._news) > KEPT:
                    self._news.popitem(last=False)
                while len(self._final_at) > KEPT:
                    self._final_at.popitem(last=False)
                if event.trade_id is not None and not BOT_ORDER.fullmatch(cid):
                    self.outside += 1
                self._cond.notify_all()
            if event.client_order_id.startswith(("autoclose", "adl_autoclose")):
                self._forced(f"{event.symbol} {event.side} {event.last_qty} @ {event.last_price} "
                             f"({event.client_order_id}, {event.status})")
        elif kind is UserStreamGap:
            with self._cond:
                self.gaps += 1
                self.gap_until_ms = max(self.gap_until_ms, event.until // 1_000_000)
                self._cond.notify_all()        # a waiter re-reads its orders: events may be lost
        elif kind is PositionEvent and event.reason in FORCED:
            self._forced(f"{event.symbol} position {event.amount} ({event.reason})")
        elif kind is BalanceEvent and event.reason in FORCED:
            self._forced(f"{event.market} balances {event.balances} ({event.reason})")

    def _forced(self, what: str) -> None:
        with self._cond:
            self.forced += 1
            self.outside += 1
        log.warning("[USER] forced execution pushed: %s; the sweep books it", what)

    # -- the engine -------------------------------------------------------------------------
    def reconciled(self, started_ms: int) -> None:
        """A REST reconciliation that started at `started_ms` has come back without error."""
        with self._cond:
            self.reconciled_ms = max(self.reconciled_ms, started_ms)

    def entry_block(self) -> str | None:
        """Why no new entry may start now (None: pushed news is complete)."""
        if not self.live():
            return "user data stream down: orders are watched by REST polls"
        if self.gap_until_ms and self.reconciled_ms <= self.gap_until_ms:
            return "user data stream gap: waiting for a REST reconciliation"
        return None

    # -- the execution thread ---------------------------------------------------------------
    def poke(self) -> None:
        """Wake the waiters (an order's answer came in: `answer_late` waits on it too)."""
        with self._cond:
            self._cond.notify_all()

    def answer_late(self, client_id: str, answered: Callable[[], bool], grace_s: float,
                    timeout: float) -> bool:
        """Wait for an order's answer (`answered`, poked when it comes) up to `timeout` s; True
        when the stream said the order is final and its answer is still missing `grace_s` later:
        the order is then read by client id instead of waiting on (a late answer)."""
        end = time.monotonic() + timeout
        with self._cond:
            while not answered():
                now = time.monotonic()
                final_at = self._final_at.get(client_id)
                if final_at is not None and now >= final_at + grace_s:
                    return True
                until = end if final_at is None else min(end, final_at + grace_s)
                if now >= end:
                    return False
                self._cond.wait(until - now)
            return False

    def news(self, client_ids: Iterable[str]) -> dict[str, int]:
        with self._cond:
            return {cid: self._news.get(cid, 0) for cid in client_ids}

    def wait(self, seen: dict[str, int], timeout: float) -> list[str]:
        """Block until one of `seen`'s client ids has more events than `seen` says (or a gap was
        reported, or `timeout` s passed); the ids with news (all of them after a gap)."""
        gaps = self.gaps
        with self._cond:
            def changed() -> list[str]:
                if self.gaps != gaps:
                    return list(seen)
                return [cid for cid, n in seen.items() if self._news.get(cid, 0) != n]
            found = changed()
            if not found:
                self._cond.wait_for(lambda: bool(changed()), timeout)
                found = changed()
            for cid in found:
                seen[cid] = self._news.get(cid, 0)
            return found
