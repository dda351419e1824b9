"""The chase executor's I/O step by step, on scripted gateways and a clock that moves only when
the executor sleeps: each partial fill hedged in whole contracts with the rest carried, a moved
touch replaced by cancel-replace, a give-up that leaves nothing open (a fill below one contract
sold back at market), and a cancel-replace without an answer read back by client id."""
from __future__ import annotations

import contextlib
import dataclasses
from decimal import Decimal as D

from arbitrage.backtest.inline import InlineExecutor
from arbitrage.execution.chase import ChaseExecutor, ChaseFeed, ChaseMarket
from arbitrage.exchanges.errors import CancelRejected, OrderNotFound, UnknownOutcome
from arbitrage.exchanges.spot_amend_wire import Replaced
from arbitrage.execution.pairs import PairExecutor, PairSpec
from arbitrage.models import BUY, COINM, SELL, SPOT, Fill, OrderRequest, OrderState, SymbolRules
from arbitrage.strategy.chase import ChaseSettings
from arbitrage.strategy.frontier import BUY_SPOT, SELL_SPOT

SPOT_RULES = SymbolRules("BTCUSDT", SPOT, "TRADING", "BTC", "USDT", D("0.01"), D("0.01"),
                         D("1000000"), D("0.00001"), D("0.00001"), D("9000"), D("0"), D("5"))
PERP_RULES = SymbolRules("BTCUSD_PERP", COINM, "TRADING", "BTC", "USD", D("0.1"), D("0.1"),
                         D("1000000"), D("1"), D("1"), D("100000"), D("0"), D("0"),
                         contract_size=D("100"), margin_asset="BTC")


class Clock:
    def __init__(self) -> None:
        self.t = 0.0
        self.script: list = []            # (at seconds, action), run as time passes them

    def now_ns(self) -> int:
        return int(self.t * 1e9) + 1_700_000_000_000_000_000

    def now_ms(self) -> int:
        return self.now_ns() // 1_000_000

    def time(self) -> float:
        return self.now_ns() / 1e9

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.001)
        while self.script and self.script[0][0] <= self.t:
            self.script.pop(0)[1]()

    @contextlib.contextmanager
    def together(self):
        yield


class Venue:
    """One product's orders as the exchange holds them (by client id)."""
    def __init__(self, market: str, clock: Clock) -> None:
        self.market, self.clock = market, clock
        self.orders: dict[str, OrderState] = {}
        self.fills_of: dict[int, list[Fill]] = {}
        self.ids = 100
        self.requests: list[tuple] = []
        self.lose_next_replace_answer = False
        self.unreadable: set[str] = set()     # queries of these ids fail (no answer)

    def _new(self, req: OrderRequest) -> OrderState:
        self.ids += 1
        st = OrderState(self.market, req.symbol, self.ids, req.client_order_id, req.side, req.type,
                        "NEW", req.quantity, D(0), D(0), None, req.price or D(0), req.reduce_only,
                        self.clock.now_ms())
        self.orders[req.client_order_id] = st
        self.fills_of[st.order_id] = []
        if req.type == "MARKET":
            st = self.fill(req.client_order_id, req.quantity, D("60000"))
        return st

    def new_order(self, req: OrderRequest) -> OrderState:
        self.requests.append(("new", req.client_order_id))
        return self._new(req)

    def fill(self, cid: str, qty: D, price: D) -> OrderState:
        st = self.orders[cid]
        done = st.executed_qty + qty
        quote = qty * price if self.market == SPOT else qty * 100 / price
        fee_asset = "BTC" if self.market == COINM or st.side == BUY else "USDT"
        self.fills_of[st.order_id].append(Fill(
            self.market, st.symbol, st.order_id, len(self.fills_of[st.order_id]) + 1, st.side,
            price, qty, quote, D(0), fee_asset, D(0), self.clock.now_ms(), st.type != "MARKET"))
        st = dataclasses.replace(st, executed_qty=done, cum_quote=st.cum_quote + quote,
                                 avg_price=price,
                                 status="FILLED" if done == st.orig_qty else "PARTIALLY_FILLED")
        self.orders[cid] = st
        return st

    def get_order(self, symbol: str, cid: str) -> OrderState:
        if cid in self.unreadable:
            raise OSError("connection reset")
        if cid not in self.orders:
            raise OrderNotFound("Order does not exist.", code=-2013)
        return self.orders[cid]

    def cancel_order(self, symbol: str, cid: str) -> OrderState:
        self.requests.append(("cancel", cid))
        st = self.get_order(symbol, cid)
        if st.final:
            raise CancelRejected("Unknown order sent.", code=-2011)
        self.orders[cid] = dataclasses.replace(st, status="CANCELED")
        return self.orders[cid]

    def cancel_replace(self, cancel_cid: str, req: OrderRequest) -> Replaced:
        self.requests.append(("cancel_replace", cancel_cid, req.client_order_id, req.price))
        done = Replaced(self.cancel_order(req.symbol, cancel_cid), self._new(req))
        if self.lose_next_replace_answer:
            self.lose_next_replace_answer = False
            raise UnknownOutcome("no answer within 10s")
        return done

    def amend_keep_priority(self, symbol: str, cid: str, qty: D) -> OrderState:
        self.requests.append(("amend", cid, qty))
        self.orders[cid] = dataclasses.replace(self.orders[cid], orig_qty=qty)
        return self.orders[cid]

    def fills(self, symbol: str, order_id: int) -> list[Fill]:
        return list(self.fills_of[order_id])


def chase_kit(rule: bool = True, bid: str = "60000"):
    clock = Clock()
    spot, coinm = Venue(SPOT, clock), Venue(COINM, clock)
    results = []
    pairs = PairExecutor(spot, coinm, "BTC", 1.0, 0.1, False, on_done=results.append,
                         clock=clock, runner=lambda n, prefix: InlineExecutor())
    feed = ChaseFeed()
    chase = ChaseExecutor(pairs, feed, ChaseSettings(200.0, D("5")), 1.0)
    state = {"bid": D(bid), "rule": rule}

    def publish() -> None:
        feed.publish(ChaseMarket(state["bid"], state["bid"] + D("0.01"), D("60000"),
                                 D("60000.1"), {BUY_SPOT: state["rule"], SELL_SPOT: False}))
    publish()
    return clock, spot, coinm, chase, results, state, publish


def submit(chase, qty: str = "0.01", price: str = "60000") -> None:
    spot_req = OrderRequest(SPOT, "BTCUSDT", BUY, "LIMIT_MAKER", D(qty), "T1-s-e1", price=D(price))
    perp_req = OrderRequest(COINM, "BTCUSD_PERP", SELL, "MARKET", D(6), "T1-p-e1")
    chase.submit(PairSpec("T1", "entry", spot_req, perp_req, D(price), D("60000"), SPOT_RULES,
                          PERP_RULES), BUY_SPOT, D(1))


def test_each_fill_is_hedged_in_whole_contracts_and_a_moved_touch_is_replaced():
    clock, spot, coinm, chase, results, state, publish = chase_kit()

    def touch_up() -> None:
        state["bid"] = D("60001")
        publish()
    clock.script = [(0.15, lambda: spot.fill("T1-s-e1", D("0.004"), D("60000"))),
                    (0.45, touch_up),
                    (0.75, lambda: spot.fill("T1-s-e2", D("0.006"), D("60001")))]
    submit(chase)
    (r,) = results
    assert r.halt_reason is None
    # 0.004 BTC at 60000 is 2.4 contracts: 2 sent, 0.0006667 BTC carried into the next fill
    hedges = [(o.request.client_order_id, o.executed) for o in r.orders if o.request.market == COINM]
    assert hedges == [("T1-p-e1", D(2)), ("T1-p-e2", D(4))]
    assert ("cancel_replace", "T1-s-e1", "T1-s-e2", D("60001")) in spot.requests
    assert r.spot_btc == D("0.01") and r.contracts == D(-6) and not [
        o for o in r.rescues if "-r" in o.request.client_order_id]
    assert r.spot_vwap == D("60000.60000000")       # over both spot orders
    assert chase.stats.replaces == 1 and len(chase.stats.naked_ms) == 2
    assert chase.stats.naked_usd_max < 100           # the carried part: below one contract
    assert chase.stats.describe().startswith("chase: 1 chases, 0 given up, 1 cancel-replaces, "
                                             "0 amends, 2 hedges on fill; naked fill -> hedge")


def test_a_chase_that_gives_up_cancels_and_sells_a_part_below_one_contract_back():
    clock, spot, coinm, chase, results, state, publish = chase_kit()

    def basis_closes() -> None:
        state["rule"] = False
        publish()
    clock.script = [(0.15, lambda: spot.fill("T1-s-e1", D("0.001"), D("60000"))),  # 0.6 contract
                    (0.45, basis_closes)]
    submit(chase)
    (r,) = results
    assert chase.stats.given_up == 1 and r.halt_reason is None
    assert spot.orders["T1-s-e1"].status == "CANCELED"
    assert not coinm.orders                           # nothing to hedge: below one contract
    back = spot.orders["T1-s-r1"]                     # the naked part flattened at market
    assert (back.side, back.type, back.executed_qty) == (SELL, "MARKET", D("0.001"))
    assert r.spot_btc == 0 and r.contracts == 0


def test_the_touch_beyond_chase_max_slip_gives_up_with_nothing_open():
    clock, spot, coinm, chase, results, state, publish = chase_kit()

    def runs_away() -> None:
        state["bid"] = D("60060")                     # 10 bps above the start, CHASE_MAX_SLIP 5
        publish()
    clock.script = [(0.3, runs_away)]
    submit(chase)
    (r,) = results
    assert chase.stats.given_up == 1
    assert [o.status for o in spot.orders.values()] == ["CANCELED"]
    assert r.spot_btc == 0 and r.contracts == 0 and not coinm.orders


def test_a_cancel_replace_without_an_answer_is_read_back_by_client_id_never_resent():
    clock, spot, coinm, chase, results, state, publish = chase_kit()
    spot.lose_next_replace_answer = True

    def touch_up() -> None:
        state["bid"] = D("60001")
        publish()
    clock.script = [(0.3, touch_up),
                    (0.9, lambda: spot.fill("T1-s-e2", D("0.01"), D("60001")))]
    submit(chase)
    (r,) = results
    assert r.halt_reason is None
    replaces = [q for q in spot.requests if q[0] == "cancel_replace"]
    assert len(replaces) == 1                         # resolved by a query, not sent again
    assert r.spot_btc == D("0.01") and r.contracts == D(-6)


def test_a_spot_order_whose_outcome_stays_unknown_halts_and_sends_nothing_more():
    clock, spot, coinm, chase, results, state, publish = chase_kit()
    spot.lose_next_replace_answer = True
    spot.unreadable.add("T1-s-e2")

    def touch_up() -> None:
        state["bid"] = D("60001")
        publish()
    clock.script = [(0.3, touch_up)]
    submit(chase)
    (r,) = results
    assert r.halt_reason and "T1-s-e2" in r.halt_reason
    assert not coinm.orders and not [q for q in spot.requests if q[0] == "new" and "-r" in q[1]]
