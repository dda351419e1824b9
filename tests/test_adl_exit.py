"""Every execution on the account in the bot's symbols lands in exactly one ledger row, whatever
the engine was doing when it happened (issue 10, item 5). Found by chaos runs: contracts an ADL
took while an exit was in flight (its reduce-only leg refused, -2022) never became an `adl` row,
and a restart said "state matches the exchange" without booking them."""
from __future__ import annotations

from decimal import Decimal

import pytest

from arbitrage.accounting.ledger import Balances, check_invariant
from arbitrage.models import BUY, COINM, SELL, OrderRequest
from arbitrage.models import SPOT as SPOT_MARKET
from arbitrage.sim import LocalExchange
from arbitrage.accounting.tradelog import read_rows
from tests.conftest import wait_for
from tests.harness import EASY, PERP, SPOT, BotRun

QUICK_EXIT = ("--exit-bps", "-50", "--stop-bps", "50", "--max-hold-sec", "2")


@pytest.fixture
def sim():
    ex = LocalExchange(source="synthetic", seed=3).start()
    yield ex
    ex.stop()


def _adl_order_ids(sim) -> set[str]:
    desk = sim.trading.coinm
    return {str(o.order_id) for o in desk.orders.values()
            if o.client_order_id.startswith(("adl_", "autoclose"))}


def _booked(rows, order_ids: set[str]) -> list[str]:
    return [i for r in rows for i in (r.cm_orderId or "").split() if i in order_ids]


def test_an_adl_while_the_exit_is_in_flight_is_booked_once(sim):
    r = BotRun(sim, *EASY, *QUICK_EXIT, "--reopen-cooldown-sec", "600")   # one trade
    start = r.bot.accounting.start_balances
    wait_for(lambda: r.trader.state == "HEDGED", timeout=120, what="a hedged trade")
    sim.delay_next_orders("coinm", 2.0)     # the exit's contract leg waits at the exchange...
    sim.delay_next_orders("spot", 2.0)
    wait_for(lambda: r.trader.state == "EXITING", timeout=30, what="the exit in flight")
    assert sim.reduce_position(PERP, 1, adl=True) is not None   # ...while an ADL takes one
    wait_for(lambda: r.trader.state != "EXITING", timeout=60, what="the exit to finish")
    r.close()
    assert r.trader.halt_reason is None, r.trader.halt_reason
    rows = read_rows(r.trades_log)
    adl = _adl_order_ids(sim)
    assert len(adl) == 1 and _booked(rows, adl) == sorted(adl), [r.event for r in rows]
    # booked before the trade's close row, so that the trade's net_btc counts it
    (trade_id,) = {r.trade_id for r in rows if r.event == "open"}
    assert [r.event for r in rows if r.trade_id == trade_id] == ["open", "adl", "close"]
    end = Balances.from_accounts(r.bot.spot_client.account(), r.bot.coinm_client.account())
    inv = check_invariant(rows, start, end)
    assert inv.ok, inv.describe()


def _ids_in(rows) -> set[tuple[str, str]]:
    return {(market, i) for r in rows
            for market, ids in ((SPOT_MARKET, r.spot_orderId), (COINM, r.cm_orderId))
            for i in (ids or "").split()}


def _trade_by_hand(client, market: str, symbol: str, side: str, qty: str, cid: str):
    return client.new_order(OrderRequest(market, symbol, side, "MARKET", Decimal(qty), cid))


def test_a_restart_books_the_executions_its_ledger_misses(sim, tmp_path):
    first = BotRun(sim, *EASY, *QUICK_EXIT, "--flatten-on-exit", workdir=tmp_path)
    start = first.bot.accounting.start_balances
    first.wait_closed_trades(1)
    first.close()
    # while the bot is down, someone trades on the account in both of its symbols
    spot, coinm = first.bot.spot_client, first.bot.coinm_client
    by_hand = [_trade_by_hand(spot, SPOT_MARKET, SPOT, BUY, "0.01", "hand-s1"),
               _trade_by_hand(spot, SPOT_MARKET, SPOT, SELL, "0.01", "hand-s2"),
               _trade_by_hand(coinm, COINM, PERP, SELL, "2", "hand-p1"),
               _trade_by_hand(coinm, COINM, PERP, BUY, "2", "hand-p2")]
    second = BotRun(sim, "--enter-bps", "1000", "--stop-bps", "2000",
                    workdir=tmp_path)   # watches, never enters
    wanted = {(o.market, str(o.order_id)) for o in by_hand}
    wait_for(lambda: wanted <= _ids_in(read_rows(second.trades_log)), timeout=30,
             what="the executions made while the bot was down to be booked")
    second.close()
    assert second.trader.halt_reason is None, second.trader.halt_reason
    rows = read_rows(second.trades_log)
    for market, order_id in wanted:
        column = "spot_orderId" if market == SPOT_MARKET else "cm_orderId"
        holding = [r for r in rows if order_id in (getattr(r, column) or "").split()]
        assert [r.event for r in holding] == ["outside" if market == SPOT_MARKET else "adl"]
    end = Balances.from_accounts(spot.account(), coinm.account())
    inv = check_invariant(rows, start, end)     # the whole file against the first start
    assert inv.ok, inv.describe()
    # the bot's own record of both accounts follows what was booked
    assert second.trader.spot_btc_net == spot.account().total("BTC") - first.spot_btc_start
    assert second.trader.contracts_net == coinm.position(PERP).amount == 0
