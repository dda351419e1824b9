"""The pair protocol against a scripted gateway: what happens to each leg is decided by the test.

(The same paths run against the local exchange over loopback in test_trading_*.py; here each
branch of the protocol is pinned down with exact numbers.)"""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from arbitrage.exchanges.errors import OrderNotFound, Rejected, UnknownOutcome
from arbitrage.execution.pairs import PairExecutor, PairSpec, client_id
from arbitrage.models import (BUY, COINM, SELL, SPOT, Fill, OrderRequest, OrderState, Position,
                              SymbolRules)
from arbitrage.execution.orders import NOT_PLACED, REJECTED

D = Decimal
SPOT_RULES = SymbolRules("BTCUSDT", SPOT, "TRADING", "BTC", "USDT", D("0.01"), D("0.01"),
                         D("1000000"), D("0.00001"), D("0.00001"), D("9000"), D("0"), D("5"))
PERP_RULES = SymbolRules("BTCUSD_PERP", COINM, "TRADING", "BTC", "USD", D("0.1"), D("0.1"),
                         D("1000000"), D("1"), D("1"), D("100000"), D("100000"), D("0"),
                         contract_size=D("100"), margin_asset="BTC")


class ScriptedGateway:
    """new_order answers from a script: a callable(req) -> OrderState, or an exception to raise."""

    def __init__(self, market: str, price: Decimal) -> None:
        self.market, self.price = market, price
        self.script: list = []
        self.orders: dict[str, OrderState] = {}
        self.sent: list[OrderRequest] = []
        self.hidden: set[str] = set()        # executed but not queryable yet (-2013)
        self.cancels: list[str] = []
        self.cancel_failures = 0             # the next N cancels get a 5xx (not executed)
        self.trades: dict[int, list[Fill]] = {}

    def state(self, req, status, executed, order_id=None):
        executed = D(executed)
        order_id = order_id or len(self.sent)
        fills = ()
        if self.market == SPOT and executed > 0:
            fee, asset = ((executed * D("0.001"), "BTC") if req.side == BUY
                          else (executed * self.price * D("0.001"), "USDT"))
            fills = (Fill(SPOT, req.symbol, order_id, 1, req.side, self.price, executed,
                          executed * self.price, fee, asset, D(0), 1, False),)
        elif executed > 0:                 # COIN-M answers carry no fills: userTrades has them
            base = executed * 100 / self.price
            self.trades[order_id] = [Fill(COINM, req.symbol, order_id, 1, req.side, self.price,
                                          executed, base, base * D("0.0005"), "BTC", D(0), 1, False)]
        st = OrderState(self.market, req.symbol, order_id, req.client_order_id,
                        req.side, req.type, status, req.quantity, executed, D(0),
                        self.price if executed else None, req.price or D(0), req.reduce_only, 1,
                        fills)
        self.orders[req.client_order_id] = st
        return st

    def new_order(self, req):
        self.sent.append(req)
        action = self.script.pop(0) if self.script else "fill"
        if action == "fill":
            return self.state(req, "FILLED", req.quantity)
        if action == "rest":
            return self.state(req, "NEW", 0)
        if isinstance(action, tuple) and action[0] == "partial":
            return self.state(req, "EXPIRED", action[1])
        if action == "reject":
            raise Rejected("Account has insufficient balance", status=400, code=-2010)
        if action == "reject-reduce-only":
            raise Rejected("ReduceOnly Order is rejected.", status=400, code=-2022)
        if action == "lost":                  # executed, but the answer never arrived
            self.state(req, "FILLED", req.quantity)
            raise UnknownOutcome("unknown", status=503, code=-1007)
        if action == "lost-unplaced":
            raise UnknownOutcome("unknown", status=503, code=-1007)
        raise AssertionError(action)

    def get_order(self, symbol, cid):
        if cid not in self.orders or cid in self.hidden:
            raise OrderNotFound("Order does not exist.", status=400, code=-2013)
        return self.orders[cid]

    def cancel_order(self, symbol, cid):
        self.cancels.append(cid)
        if self.cancel_failures > 0:
            self.cancel_failures -= 1
            raise UnknownOutcome("server error: 502 Bad Gateway", status=502, method="DELETE",
                                 path="/dapi/v1/order")
        st = self.orders[cid]
        return self.state(next(r for r in self.sent if r.client_order_id == cid), "CANCELED",
                          st.executed_qty, st.order_id)

    def fills(self, symbol, order_id):
        return self.trades.get(order_id, [])

    position_amount = D(0)

    def position(self, symbol):
        return Position(symbol, self.position_amount, D(0), D(0), D(0), D(0), 20, "cross")


def run(spot_script, perp_script, spot_qty="0.16393", contracts="100", kind="entry",
        spot_side=BUY, timeout=0.3, perp_cancel_failures=0):
    spot = ScriptedGateway(SPOT, D("61000"))
    perp = ScriptedGateway(COINM, D("61040"))
    spot.script, perp.script = list(spot_script), list(perp_script)
    perp.cancel_failures = perp_cancel_failures
    done, results = threading.Event(), []
    ex = PairExecutor(spot, perp, "BTC", timeout, 0.02, False,
                      lambda r: (results.append(r), done.set()), resolve_delays_s=(0.01,) * 4)
    perp_side = SELL if spot_side == BUY else BUY
    spec = PairSpec("T1", kind,
                    OrderRequest(SPOT, "BTCUSDT", spot_side, "MARKET", D(spot_qty),
                                 client_id("T1", "s", kind[0], 1)),
                    OrderRequest(COINM, "BTCUSD_PERP", perp_side, "MARKET", D(contracts),
                                 client_id("T1", "p", kind[0], 1), reduce_only=kind == "exit"),
                    D("61000"), D("61040"), SPOT_RULES, PERP_RULES)
    ex.submit(spec)
    assert done.wait(30)
    ex.shutdown()
    return results[0], spot, perp


def test_both_legs_fill_no_rescue():
    # 100 contracts x 100 USD / 61040 = 0.163827 BTC; spot 0.16393 BTC bought, 0.00016393 fee
    r, spot, perp = run(["fill"], ["fill"])
    assert r.halt_reason is None and not r.rescues
    assert r.spot_btc == D("0.16393") and r.contracts == D("-100")
    assert r.spot_fee_btc == D("0.00016393")
    assert r.spot_vwap == D("61000") and r.perp_vwap == D("61040")
    # every order's executions are collected for the ledger (COIN-M ones from userTrades)
    assert set(r.fills) == {"T1-s-e1", "T1-p-e1"} and not r.fills_missing
    assert r.fills["T1-p-e1"][0].qty == D("100")


def test_spot_fills_perp_rejected_rescue_sells_what_spot_holds():
    r, spot, perp = run(["fill"], ["reject"])
    assert r.perp.status == REJECTED and r.halt_reason is None
    (rescue,) = r.rescues
    # held = 0.16393 − 0.00016393 fee = 0.16376607 → floor to 0.00001 = 0.16376
    assert (rescue.request.market, rescue.request.side, rescue.request.quantity) == (SPOT, SELL, D("0.16376"))
    assert rescue.request.client_order_id == "T1-s-r1"
    assert r.contracts == 0


def test_perp_fills_spot_rejected_rescue_closes_contracts_reduce_only():
    r, spot, perp = run(["reject"], ["fill"])
    (rescue,) = r.rescues
    assert rescue.request.market == COINM and rescue.request.side == BUY
    assert rescue.request.quantity == D("100") and rescue.request.reduce_only
    assert r.contracts == 0 and r.halt_reason is None


def test_unequal_partials_rescue_the_excess_contracts():
    # spot fills 0.08 BTC (→ 0.0799200 held ≈ 48.8 contracts), perp 80 of 100: 31 too many
    r, spot, perp = run([("partial", "0.08")], [("partial", "80")])
    (rescue,) = r.rescues
    assert rescue.request.market == COINM and rescue.request.quantity == D("31")
    assert r.contracts == D("-49")
    assert r.halt_reason is None


def test_a_failed_rescue_is_tried_three_times_then_halts():
    r, spot, perp = run(["fill", "reject", "reject", "reject"], ["reject"])
    assert r.halt_reason and "rescue T1-s-r3 failed" in r.halt_reason
    assert [q.client_order_id for q in spot.sent] == ["T1-s-e1", "T1-s-r1", "T1-s-r2", "T1-s-r3"]
    r, spot, perp = run(["fill", "reject", "fill"], ["reject"])   # a transient refusal
    assert r.halt_reason is None and r.rescues[-1].request.client_order_id == "T1-s-r2"


def test_a_lost_answer_is_resolved_by_query_not_by_resending():
    r, spot, perp = run(["lost"], ["fill"])
    assert r.spot.status == "FILLED" and r.spot.history[:2] == ["SUBMITTED", "UNKNOWN"]
    assert len(spot.sent) == 1 and not r.rescues and r.halt_reason is None


def test_an_unplaced_order_becomes_not_placed_and_the_other_leg_is_rescued():
    r, spot, perp = run(["lost-unplaced"], ["fill"])
    assert r.spot.status == NOT_PLACED
    assert len(spot.sent) == 1                     # never re-sent
    assert r.rescues[0].request.market == COINM and r.contracts == 0


def test_resting_legs_are_cancelled_at_the_deadline():
    r, spot, perp = run(["rest"], ["rest"])
    assert spot.cancels == ["T1-s-e1"] and perp.cancels == ["T1-p-e1"]
    assert r.spot_btc == 0 and r.contracts == 0 and not r.rescues and r.halt_reason is None


def test_a_cancel_the_exchange_did_not_answer_is_asked_again():
    # found by a SIGKILL restart on a noisy venue: the recovery's cancel got a 502, the order was
    # taken as done, and a resting maker leg stayed on the book after the bot said FLAT
    r, spot, perp = run(["rest"], ["rest"], perp_cancel_failures=2)
    assert perp.cancels == ["T1-p-e1"] * 3 and perp.orders["T1-p-e1"].status == "CANCELED"
    assert r.halt_reason is None and r.contracts == 0


def test_a_leg_still_open_after_every_cancel_halts_the_pair():
    r, spot, perp = run(["rest"], ["rest"], perp_cancel_failures=9)
    assert perp.cancels == ["T1-p-e1"] * 3 and perp.orders["T1-p-e1"].status == "NEW"
    assert r.halt_reason and "T1-p-e1 still open on the exchange" in r.halt_reason
    assert not r.rescues                      # nothing is sized on a leg that can still fill


def test_exit_remainder_is_retried_once_then_halts():
    r, spot, perp = run(["fill"], [("partial", "60"), "fill"], kind="exit", spot_side=SELL)
    assert r.halt_reason is None
    (retry,) = r.rescues
    assert retry.request.client_order_id == "T1-p-x2" and retry.request.quantity == D("40")
    assert retry.request.reduce_only
    r, spot, perp = run(["fill"], [("partial", "60"), "reject", "reject", "reject"], kind="exit",
                        spot_side=SELL)
    assert r.halt_reason and "exit of BTCUSD_PERP incomplete" in r.halt_reason
    assert [q.client_order_id for q in perp.sent][-3:] == ["T1-p-x2", "T1-p-x3", "T1-p-x4"]


@pytest.mark.parametrize("trade,leg,step,n", [("T1732233058123", "s", "e", 1), ("T1", "p", "x", 2)])
def test_client_ids_are_deterministic_and_short(trade, leg, step, n):
    cid = client_id(trade, leg, step, n)
    assert cid == f"{trade}-{leg}-{step}{n}" and len(cid) <= 36


def test_recovery_after_a_restart_queries_and_completes_without_resending():
    # the first run sent the spot leg (it filled) and was killed before the perp leg went out
    spot = ScriptedGateway(SPOT, D("61000"))
    perp = ScriptedGateway(COINM, D("61040"))
    spot_req = OrderRequest(SPOT, "BTCUSDT", BUY, "MARKET", D("0.16393"), "T1-s-e1")
    perp_req = OrderRequest(COINM, "BTCUSD_PERP", SELL, "MARKET", D("100"), "T1-p-e1")
    spot.sent.append(spot_req)
    spot.state(spot_req, "FILLED", "0.16393")
    done, results = threading.Event(), []
    ex = PairExecutor(spot, perp, "BTC", 0.3, 0.02, False, lambda r: (results.append(r), done.set()),
                      resolve_delays_s=(0.01,) * 4)
    ex.recover(PairSpec("T1", "entry", spot_req, perp_req, D("61000"), D("61040"), SPOT_RULES,
                        PERP_RULES), [])
    assert done.wait(30)
    ex.shutdown()
    r = results[0]
    assert r.spot.status == "FILLED" and r.perp.status == NOT_PLACED
    assert len(spot.sent) == 2 and perp.sent == []            # only the rescue was sent
    assert r.rescues[0].request.client_order_id == "T1-s-r1" and r.halt_reason is None


def test_an_exit_remainder_follows_a_position_that_keeps_shrinking_without_a_halt():
    # reduce-heavy chaos: ADLs every few seconds while the exit's remainders are on their way.
    # Each -2022 is followed by a fresh position (100 -> 97 -> 94): a re-size, not a failure,
    # so an order that was not placed (x3) does not use up the last attempt before x5 closes it
    positions = [D("-97"), D("-94")]

    class Shrinking(ScriptedGateway):
        def position(self, symbol):
            return Position(symbol, positions.pop(0), D(0), D(0), D(0), D(0), 20, "cross")

    original = ScriptedGateway.position
    ScriptedGateway.position = Shrinking.position
    try:
        r, spot, perp = run(["fill"], ["reject-reduce-only", "reject-reduce-only", "lost-unplaced",
                                       "reject-reduce-only", "fill"], kind="exit", spot_side=SELL)
    finally:
        ScriptedGateway.position = original
    assert r.halt_reason is None
    assert [(q.client_order_id, q.quantity) for q in perp.sent] == [
        ("T1-p-e1", D("100")), ("T1-p-x2", D("100")), ("T1-p-x3", D("97")), ("T1-p-x4", D("97")),
        ("T1-p-x5", D("94"))]
    assert r.contracts == D("94")


def test_an_exit_remainder_refused_for_another_reason_still_halts_after_three_attempts():
    r, spot, perp = run(["fill"], ["reject-reduce-only", "reject", "reject", "reject", "fill"],
                        kind="exit", spot_side=SELL)
    assert r.halt_reason is not None and "after 3 attempt(s)" in r.halt_reason
    assert [q.client_order_id for q in perp.sent] == ["T1-p-e1", "T1-p-x2", "T1-p-x3", "T1-p-x4"]


def test_an_exit_refused_as_reduce_only_closes_what_the_position_really_holds():
    # an ADL took 3 of the 100 short contracts while the exit was on its way: BUY 100 reduce-only
    # is refused; the position (-97) says 97 are left, and those are closed
    ScriptedGateway.position_amount = D("-97")
    try:
        r, spot, perp = run(["fill"], ["reject-reduce-only", "reject-reduce-only", "fill"],
                            kind="exit", spot_side=SELL)
    finally:
        ScriptedGateway.position_amount = D(0)
    assert r.halt_reason is None
    assert [(q.client_order_id, q.quantity) for q in perp.sent] == [
        ("T1-p-e1", D("100")), ("T1-p-x2", D("100")), ("T1-p-x3", D("97"))]
