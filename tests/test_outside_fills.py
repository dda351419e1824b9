"""Executions the bot did not order (liquidation / ADL), found by the sweep of userTrades, change
the open trade only if they happened while it was open. Found in a 30-minute chaos run: an ADL hit
trade A, A's exit closed what the exchange said was left, the sweep (rate-limited meanwhile) saw
the fill only once trade B was open, took it for B's and closed B; the bot then halted on a
position it had counted twice."""
from __future__ import annotations

from decimal import Decimal as D

from arbitrage.accounting import Accounting
from arbitrage.config import load_settings
from arbitrage.models import BUY, COINM, Fill
from arbitrage.strategy.engine import EXITING, HEDGED, Trade
from arbitrage.strategy.frontier import BUY_SPOT
from arbitrage.trader import Trader
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
