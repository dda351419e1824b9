"""The start balances as of start_ms (arbitrage/accounting/start_balances.py), with scripted reads."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from arbitrage.accounting.ledger import Balances
from arbitrage.models import BUY, COINM, SELL, SPOT, Fill, Income
from arbitrage.accounting.start_balances import (Executions, StartNotSettled, balances_before,
                                                 start_snapshot)

START = 1_000_000
SPOT_BUY = Fill(SPOT, "BTCUSDT", 11, 1, BUY, D(60000), D("0.05"), D(3000), D("0.00005"), "BTC",
                D(0), START + 3, True)
PERP_SELL = Fill(COINM, "BTCUSD_PERP", 22, 2, SELL, D(60000), D(30), D("0.05"), D("0.00001"),
                 "BTC", D("0.00002"), START + 4, True)
FUNDING = Income("BTCUSD_PERP", "FUNDING_FEE", D("0.0003"), "BTC", START + 5, 77, "")


def test_the_executions_the_reads_hold_are_taken_out_to_the_unit():
    read = Balances(D("1.04995"), D(97000), D("1.00031"))
    before = balances_before(read, Executions((SPOT_BUY, PERP_SELL), (FUNDING,)), "BTC", "USDT",
                             D(100))
    # spot: +0.05 BTC less its 0.00005 commission, −3000 USDT; COIN-M: +0.00002 realized PnL
    # − 0.00001 commission + 0.0003 funding
    assert before == Balances(D(1), D(100000), D(1))


def test_a_usdt_commission_comes_off_the_usdt_not_the_btc():
    fill = Fill(SPOT, "BTCUSDT", 11, 1, SELL, D(60000), D("0.05"), D(3000), D(3), "USDT", D(0),
                START, False)
    before = balances_before(Balances(D("0.95"), D(102997), D(1)), Executions((fill,), ()),
                             "BTC", "USDT", D(100))
    assert before == Balances(D(1), D(100000), D(1))


def test_balances_are_read_again_until_no_execution_came_while_they_were_read():
    # the first balance read is overlapped by the spot fill (seen only by the read after it), the
    # second by nothing: the second is used, without the fill it holds
    executions = iter([Executions((), ()), Executions((SPOT_BUY,), ()),
                       Executions((SPOT_BUY,), ())])
    balances = iter([Balances(D("1.04995"), D(97000), D(1)), Balances(D("1.04995"), D(97000), D(1))])
    reads = []
    start_ms, start = start_snapshot(lambda: START, lambda ms: reads.append(ms) or next(executions),
                                     lambda: next(balances), "BTC", "USDT", D(100),
                                     pause=lambda s: None)
    assert start_ms == START and reads == [START] * 3      # one start time for every read
    assert start == Balances(D(1), D(100000), D(1))


def test_a_pair_that_never_stops_executing_is_reported_not_guessed():
    n = iter(range(1, 100))

    def busy(ms):       # a new execution in every read
        i = next(n)
        return Executions((Fill(SPOT, "BTCUSDT", 11, i, BUY, D(1), D(1), D(1), D(0), "BTC", D(0),
                                START, True),), ())
    with pytest.raises(StartNotSettled, match="kept executing"):
        start_snapshot(lambda: START, busy, lambda: Balances(D(1), D(1), D(1)), "BTC", "USDT",
                       D(100), attempts=3, pause=lambda s: None)
