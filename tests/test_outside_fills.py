"""Executions the bot did not order (liquidation / ADL), found by the sweep of userTrades, change
the open trade only if they happened while it was open. Found in a 30-minute chaos run: an ADL hit
trade A, A's exit closed what the exchange said was left, the sweep (rate-limited meanwhile) saw
the fill only once trade B was open, took it for B's and closed B; the bot then halted on a
position it had counted twice."""
from __future__ import annotations

from decimal import Decimal as D

from arbitrage.accounting.bookkeeping import Accounting
from arbitrage.config import load_settings
from arbitrage.models import BUY, COINM, Fill
from arbitrage.execution.pairs import PairResult
from arbitrage.strategy.engine import EXITING, FLAT, HEDGED, Trade
from arbitrage.accounting.tradelog import TradeLog, read_rows
from arbitrage.strategy.frontier import BUY_SPOT
from arbitrage.engine.trader import Trader
from tests.test_entry import BTCUSD_PERP, BTCUSDT, FEES


class SentPairs:
    """The executor's entry points, recorded (the engine under test only decides)."""

    def __init__(self) -> None:
        self.specs: list = []

    def submit(self, spec, record_first: bool = True) -> None:
        self.specs.append(spec)


def hedged_trader(opened_ms: int) -> tuple[Trader, SentPairs]:
    settings = load_settings(["--venue", "sim"], {}, dotenv_path=None)
    sent = SentPairs()
    trader = Trader(settings, BTCUSDT, BTCUSD_PERP, sent, FEES, lambda: None,
                    Accounting(None, BTCUSDT, BTCUSD_PERP, start_ms=0))
    trader.state = HEDGED
    trader.trade = Trade("T2000", BUY_SPOT, opened_ms, 8.0, spot_btc=D("0.05"),
                         spot_held=D("0.04995"), contracts=D(-30))
    trader.contracts_net = D(-30)
    return trader, sent


def adl_buy(contracts: int, time_ms: int, order_id: int) -> Fill:
    return Fill(COINM, "BTCUSD_PERP", order_id, order_id * 10, BUY, D("60000"), D(contracts),
                D(contracts) * 100 / D("60000"), D(0), "BTC", D(0), time_ms, False)


def test_a_fill_from_before_the_trade_opened_leaves_the_trade_alone():
    trader, sent = hedged_trader(opened_ms=2_000)
    trader._outside_fills([adl_buy(2, time_ms=1_500, order_id=77)], now_ms=3_000)
    assert trader.state == HEDGED and trader.trade.contracts == -30 and sent.specs == []
    assert trader.contracts_net == -28            # the count follows the exchange all the same
    assert trader.outside_changes == 1 and trader.halt_reason is None


def test_a_fill_while_the_trade_is_open_closes_it():
    trader, sent = hedged_trader(opened_ms=2_000)
    trader._outside_fills([adl_buy(2, time_ms=2_500, order_id=78)], now_ms=3_000)
    assert trader.state == EXITING and trader.trade.contracts == -28
    assert [s.kind for s in sent.specs] == ["exit"] and sent.specs[0].perp.quantity == 28


def test_only_the_fills_of_the_open_trade_count_when_both_come_in_one_sweep():
    trader, sent = hedged_trader(opened_ms=2_000)
    trader._outside_fills([adl_buy(2, time_ms=1_500, order_id=79),
                           adl_buy(3, time_ms=2_600, order_id=80)], now_ms=3_000)
    assert trader.state == EXITING and trader.trade.contracts == -27
    assert trader.contracts_net == -25


def _exit_of_its_own(trader, order_id: int) -> PairResult:
    """The result of an exit whose COIN-M leg executed but whose trades never showed in time (the
    pair's row leaves the order out: `fills_missing`)."""
    from arbitrage.execution.pairs import PairSpec
    from arbitrage.models import SELL, OrderRequest, OrderState
    from arbitrage.execution.orders import SUBMITTED, TrackedOrder
    cid = "T2000-p-x1"
    req = OrderRequest(COINM, "BTCUSD_PERP", BUY, "MARKET", D(30), cid, reduce_only=True)
    sreq = OrderRequest("spot", "BTCUSDT", SELL, "MARKET", D("0.04995"), "T2000-s-x1")
    perp, spot = TrackedOrder(req), TrackedOrder(sreq)
    for order in (perp, spot):
        order.apply(SUBMITTED)
    perp.report(OrderState(COINM, "BTCUSD_PERP", order_id, cid, BUY, "MARKET", "FILLED", D(30),
                           D(30), D(0), D("60000"), D(0), True, 2_900))
    spec = PairSpec("T2000", "exit", sreq, req, D(0), D(0), BTCUSDT, BTCUSD_PERP)
    return PairResult(spec, spot, perp, contracts=D(30), fills_missing=[cid])


def test_late_executions_of_the_bots_own_order_are_booked_for_its_trade_not_as_outside(tmp_path):
    trader, sent = hedged_trader(opened_ms=2_000)
    trader.accounting = Accounting(TradeLog(tmp_path / "trades_log.csv"), BTCUSDT, BTCUSD_PERP,
                                   start_ms=0)
    trader.start_exit("timeout", None, 2_800)
    trader.on_pair_done(_exit_of_its_own(trader, 91), 3_000)
    assert trader.state == FLAT and trader.contracts_net == 0
    trader._outside_fills([adl_buy(30, time_ms=2_900, order_id=91)], now_ms=5_000)
    rows = read_rows(tmp_path / "trades_log.csv")
    assert [(r.event, r.trade_id, r.cm_orderId) for r in rows] == [("late", "T2000", "91")]
    assert trader.contracts_net == 0 and trader.outside_changes == 0


def test_a_sweep_during_an_exit_holds_back_what_happened_since_it_started(tmp_path):
    trader, sent = hedged_trader(opened_ms=2_000)
    trader.accounting = Accounting(TradeLog(tmp_path / "trades_log.csv"), BTCUSDT, BTCUSD_PERP,
                                   start_ms=0)
    trader.start_exit("timeout", None, 60_000)
    adl = adl_buy(1, time_ms=61_000, order_id=92)          # an ADL while the exit is in flight
    trader._outside_fills([adl], now_ms=62_000)
    assert not (tmp_path / "trades_log.csv").exists() and trader.contracts_net == -30
    trader.on_pair_done(_exit_of_its_own(trader, 93), 63_000)   # the exit closed what was left
    trader._outside_fills([adl], now_ms=64_000)             # the next sweep books it, once
    trader._outside_fills([adl], now_ms=65_000)
    rows = read_rows(tmp_path / "trades_log.csv")
    assert [(r.event, r.cm_orderId) for r in rows if r.event != "late"] == [("adl", "92")]
    assert trader.contracts_net == 1 and trader.outside_changes == 1
