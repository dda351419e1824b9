"""When the ws path may skip a sweep of executions (arbitrage/accounting/sweep_cadence.py): only while pushed
news covers the account and names no execution outside the bot's pairs; pure, no network."""
from __future__ import annotations

from decimal import Decimal

from arbitrage.models import PositionEvent
from arbitrage.execution.order_events import OrderEventHub
from arbitrage.accounting.sweep_cadence import BACKSTOP_S, SweepCadence, sweep_due
from tests.test_order_events import execution


def test_a_sweep_is_due_unless_pushed_news_covers_everything():
    assert sweep_due(True, False, False, None)                 # the first one of a run
    assert not sweep_due(True, False, False, 1.0)
    assert sweep_due(False, False, False, 1.0)                 # a stream down, or a gap
    assert sweep_due(True, True, False, 1.0)                   # an execution not the bot's
    assert sweep_due(True, False, True, 1.0)                   # a pair's trades never showed
    assert sweep_due(True, False, False, BACKSTOP_S)           # the backstop, whatever is pushed


def test_the_hub_counts_executions_of_orders_not_the_bots():
    hub = OrderEventHub()
    hub.deliver(execution("T1796082270558-p-e1"))
    hub.deliver(execution("T1796082270558-s-r2"))
    assert hub.outside == 0
    for news in (execution("web_8f3a"),                        # a trade by hand
                 execution("autoclose-1796082270558"),         # a liquidation
                 PositionEvent("BTCUSD_PERP", "ADL", Decimal(-3), Decimal(60000), 1_000, 0)):
        before = hub.outside
        hub.deliver(news)
        assert hub.outside > before, news


def test_the_cadence_skips_while_quiet_and_sweeps_after_outside_news_or_a_gap():
    now = [0.0]
    up = [True]
    hub = OrderEventHub(live=lambda: up[0])
    cadence = SweepCadence(hub, lambda: now[0])
    due = cadence.due()
    assert due is not None                                     # the run's first
    cadence.swept(due)
    now[0] = 5.0
    assert cadence.due() is None and cadence.skipped == 1
    hub.deliver(execution("web_8f3a"))
    due = cadence.due()
    assert due is not None
    assert cadence.due() is not None                           # not swept yet: still due
    cadence.swept(due)
    assert cadence.due() is None
    cadence.leg_trades_missing()
    due = cadence.due()
    assert due is not None
    cadence.swept(due)
    up[0] = False                                              # a stream down
    assert cadence.due() is not None
    up[0] = True
    assert cadence.due() is None
    now[0] = 5.0 + BACKSTOP_S
    assert cadence.due() is not None


def test_the_rest_path_always_sweeps():
    cadence = SweepCadence(None, lambda: 0.0)
    cadence.swept(cadence.due())
    assert cadence.due() is not None


def test_a_position_in_doubt_forces_a_sweep_even_when_the_streams_said_nothing():
    hub = OrderEventHub()
    cadence = SweepCadence(hub, lambda: 1.0)
    cadence.swept(cadence.due())
    assert cadence.due() is None                               # a lost ADL event: nothing pushed
    assert cadence.due(force=True) is not None
