"""How the pair monitor learns that an order changed: the strategy `PairExecutor` waits with.

- `PolledUpdates` (ORDER_TRANSPORT=rest, paper, backtest): sleep `poll_s`, then read every open
  order again (REST `GET order`).
- `PushedUpdates` (ORDER_TRANSPORT=ws): wait on the user streams' `OrderEventHub` and read only
  the order that has news, the moment it has it; while a stream is down, poll as above.

`next(orders, deadline)` blocks and returns the orders to read now (possibly none: the deadline
or a short wake-up to look at the streams' health came first).
"""
from __future__ import annotations

from arbitrage.clock import Clock
from arbitrage.execution.order_events import OrderEventHub
from arbitrage.execution.orders import TrackedOrder

SEEN_KEPT = 500


class PolledUpdates:
    def __init__(self, clock: Clock, poll_s: float) -> None:
        self.clock, self.poll_s = clock, poll_s

    def next(self, orders: list[TrackedOrder], deadline: float) -> list[TrackedOrder]:
        self.clock.sleep(self.poll_s)
        return [o for o in orders if not o.final]

    def answer_late(self, client_id: str, pending, timeout: float) -> bool | None:
        return None                            # nothing pushed: the caller waits for the answer


class PushedUpdates:
    HEALTH_CHECK_S = 0.25      # a stream that dies while the monitor waits is noticed this fast
    ANSWER_GRACE_S = 0.05      # an answer still missing this long after the final event is late

    def __init__(self, hub: OrderEventHub, clock: Clock, poll_s: float) -> None:
        self.hub, self.clock, self.poll_s = hub, clock, poll_s
        self._seen: dict[str, int] = {}        # events per client id already acted on
        self.pushed = self.polled = 0          # reads caused by an event / by a poll
        self.overtaken = 0                     # answers the stream overtook (read by client id)

    def answer_late(self, client_id: str, pending, timeout: float) -> bool | None:
        """For a leg written over the WebSocket API: True when its user stream reported it final
        and the answer has not come (the answer lost or late): the executor reads the order
        instead, so a lone fill is rescued the moment it is known. False when the answer came
        or `timeout` passed first (waited: the answer is not waited for again). None: nothing
        was written to wait for."""
        if pending is None:
            return None
        if not self.hub.live():                # no pushed news to act on: wait for the answer
            pending.done.wait(timeout)
            return False
        pending.notify = self.hub.poke
        late = self.hub.answer_late(client_id, pending.done.is_set, self.ANSWER_GRACE_S, timeout)
        self.overtaken += late
        return late

    def next(self, orders: list[TrackedOrder], deadline: float) -> list[TrackedOrder]:
        waiting = [o for o in orders if not o.final]
        if not self.hub.live():                # nothing is pushed now: poll like REST does
            self.clock.sleep(self.poll_s)
            self.polled += len(waiting)
            return waiting
        seen = {o.request.client_order_id: self._seen.get(o.request.client_order_id, 0)
                for o in waiting}
        timeout = min(max(0.0, deadline - self.clock.monotonic()), self.HEALTH_CHECK_S)
        changed = set(self.hub.wait(seen, timeout))
        if len(self._seen) > SEEN_KEPT:
            self._seen.clear()
        self._seen.update(seen)
        news = [o for o in waiting if o.request.client_order_id in changed]
        self.pushed += len(news)
        return news
