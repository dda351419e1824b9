from decimal import Decimal

import pytest

from arbitrage.models import COINM, OrderRequest, OrderState
from arbitrage.execution.orders import (
    NOT_PLACED, REJECTED, SUBMITTED, UNKNOWN, OrderTransitionError, TrackedOrder,
)

REQ = OrderRequest(COINM, "BTCUSD_PERP", "SELL", "MARKET", Decimal("5"), "T1-cm-e1")


def state(status, executed, cid="T1-cm-e1"):
    return OrderState(COINM, "BTCUSD_PERP", 7, cid, "SELL", "MARKET", status, Decimal("5"),
                      Decimal(executed), Decimal(0), None, Decimal(0), False, 1)


def test_normal_life():
    o = TrackedOrder(REQ)
    o.apply(SUBMITTED)
    o.report(state("PARTIALLY_FILLED", "2"))
    o.report(state("FILLED", "5"))
    assert o.final and o.executed == Decimal("5")
    o.report(state("FILLED", "5"))              # a late duplicate is harmless
    assert o.history == [SUBMITTED, "PARTIALLY_FILLED", "FILLED"]


def test_unknown_is_resolved_only_by_a_report_or_not_found():
    o = TrackedOrder(REQ)
    o.apply(SUBMITTED)
    o.apply(UNKNOWN, error="503")
    assert not o.final
    o.report(state("FILLED", "5"))
    assert o.executed == 5
    p = TrackedOrder(REQ)
    p.apply(SUBMITTED)
    p.apply(UNKNOWN)
    p.apply(NOT_PLACED)
    assert p.final and p.executed == 0


@pytest.mark.parametrize("bad", [
    lambda o: o.report(state("FILLED", "5")),                  # not submitted yet
    lambda o: (o.apply(SUBMITTED), o.report(state("FILLED", "5")), o.report(state("NEW", "0"))),
    lambda o: (o.apply(SUBMITTED), o.report(state("PARTIALLY_FILLED", "3")),
               o.report(state("PARTIALLY_FILLED", "2"))),       # executed went backwards
    lambda o: (o.apply(SUBMITTED), o.report(state("NEW", "0", cid="other"))),
    lambda o: (o.apply(SUBMITTED), o.apply(REJECTED), o.apply(UNKNOWN)),
])
def test_illegal_moves_are_refused(bad):
    with pytest.raises(OrderTransitionError):
        bad(TrackedOrder(REQ))
