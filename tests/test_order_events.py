"""The order-event hub, the pushed pair watch and the WS gateway's fallback rules (pure, no
network): what wakes the monitor, when entries wait, when an order may go by REST."""
from __future__ import annotations

import logging
import threading
import time
from decimal import Decimal

import pytest

from arbitrage.clock import WALL
from arbitrage.exchanges.errors import UnknownOutcome
from arbitrage.exchanges.ws_api import NotConnected, _Pending
from arbitrage.exchanges.ws_gateway import WsGateway
from arbitrage.models import (BUY, COINM, ExecutionEvent, OrderRequest, PositionEvent,
                              UserStreamGap)
from arbitrage.execution.order_events import OrderEventHub
from arbitrage.execution.orders import TrackedOrder
from arbitrage.execution.pair_watch import PushedUpdates

CID = "T1-p-e1"


def execution(cid: str = CID, status: str = "FILLED") -> ExecutionEvent:
    return ExecutionEvent(COINM, "BTCUSD_PERP", cid, 7, BUY, "TRADE", status, Decimal(3),
                          Decimal(60000), Decimal(3), Decimal("0.00000250"), "BTC", 11, False,
                          Decimal(0), 1_000, time.time_ns())


def later(seconds: float, fn) -> threading.Thread:
    t = threading.Thread(target=lambda: (time.sleep(seconds), fn()), daemon=True)
    t.start()
    return t


def test_entries_wait_while_a_stream_is_down_and_until_a_reconciliation_after_a_gap():
    up = [False]
    hub = OrderEventHub(live=lambda: up[0])
    assert "down" in hub.entry_block()
    up[0] = True
    assert hub.entry_block() is None
    hub.deliver(UserStreamGap(COINM, 1_000_000_000, 5_000_000_000, "closed"))   # until 5000 ms
    hub.reconciled(4_000)            # started inside the gap: it may have missed events
    assert "gap" in hub.entry_block()
    hub.reconciled(5_001)
    assert hub.entry_block() is None


def test_the_monitor_wakes_on_its_order_event_and_only_reads_that_order():
    hub = OrderEventHub()
    watch = PushedUpdates(hub, WALL, poll_s=600.0)
    mine, other = (TrackedOrder(OrderRequest(COINM, "BTCUSD_PERP", BUY, "LIMIT", Decimal(1), c,
                                             price=Decimal(1))) for c in (CID, "T1-s-e1"))
    for o in (mine, other):
        o.apply("SUBMITTED")
        o.apply("NEW")
    later(0.05, lambda: hub.deliver(execution()))
    news: list = []
    deadline = time.monotonic() + 30
    while not news and time.monotonic() < deadline:
        news = watch.next([mine, other], deadline)
    assert news == [mine] and watch.polled == 0 and watch.pushed == 1


def test_a_final_event_before_the_answer_means_the_answer_is_late():
    hub = OrderEventHub()
    pending = _Pending("order.place", 1)
    pending.notify = hub.poke
    later(0.02, lambda: hub.deliver(execution()))
    assert hub.answer_late(CID, pending.done.is_set, grace_s=0.05, timeout=30) is True
    answered = _Pending("order.place", 2)
    answered.notify = hub.poke
    later(0.02, lambda: answered.finish({"status": 200, "result": {}}))
    assert hub.answer_late("T2-p-e1", answered.done.is_set, grace_s=0.05, timeout=30) is False


def test_forced_executions_are_logged_as_they_are_pushed(caplog):
    hub = OrderEventHub()
    with caplog.at_level(logging.WARNING, "arbitrage.order_events"):
        hub.deliver(PositionEvent("BTCUSD_PERP", "ADL", Decimal(-12), Decimal(60000), 1, 2))
        hub.deliver(execution("adl_autoclose-1"))
    assert hub.forced == 2 and "ADL" in caplog.text


class _Conn:
    connected, timeout = False, 1.0

    def __init__(self, error: Exception) -> None:
        self.error = error

    def write(self, pending):
        raise self.error


class _Ws:
    def __init__(self, error: Exception) -> None:
        self.error, self.conn = error, _Conn(error)

    def place_send(self, req):
        raise self.error

    def place_prepare(self, req):
        return "a signed frame"


class _Rest:
    http = None

    def __init__(self) -> None:
        self.sent: list = []

    def new_order(self, req):
        self.sent.append(req)
        return "by REST"


REQ = OrderRequest(COINM, "BTCUSD_PERP", BUY, "MARKET", Decimal(1), CID)


def test_an_order_never_written_goes_by_rest():
    rest = _Rest()
    gw = WsGateway(rest, _Ws(NotConnected("down")))
    assert gw.new_order(REQ) == "by REST" and gw.sent_rest == 1
    assert gw.send_order(REQ).result() == "by REST" and len(rest.sent) == 2


def test_an_order_written_without_an_answer_is_never_sent_again():
    rest = _Rest()
    gw = WsGateway(rest, _Ws(UnknownOutcome("send failed")))
    with pytest.raises(UnknownOutcome):
        gw.send_order(REQ).result()
    assert rest.sent == []
