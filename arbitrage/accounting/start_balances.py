"""The balances a run starts from: the exchange's balances as they were at one exchange time.

The end-of-run invariant compares the ledger's rows executed at or after `start_ms` with the change
of the balances since the start balances, so those must hold every execution before `start_ms` and
none at or after it. A server time and two account reads are three moments, though: an order that
executes between them (a maker entry left resting by a kill, filling while the restart reads)
would be in the balances and counted, or in neither, and the run ends in a LEDGER MISMATCH.

So `start_ms` is taken first; then the executions since it are read (spot myTrades, COIN-M
userTrades, funding income of the pair), the balances, and the executions since it again. When
both reads name the same executions, none happened while the balances were read: the balances hold
exactly the executions before `start_ms` plus those, and subtracting their effects — computed by the
ledger's own row arithmetic, so to the unit what the ledger books for them — gives the balances at
`start_ms`. Otherwise the balances and the second read are taken again (bounded), same `start_ms`.

Executions are compared by their ids, not balances by their values: equal balances before and
after would not prove that nothing executed in between (a zero-fee COIN-M fill moves no wallet,
two fills can cancel out), and the ids also say which executions to subtract.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Iterable

from arbitrage.accounting.ledger import (FUNDING_FEE, ZERO, Balances, OrderFills, actual_btc, pair_row)
from arbitrage.models import SPOT, Fill, Income

ATTEMPTS = 8               # balance reads before giving up (each needs a quiet moment)
PAUSE_S = 0.05             # after a read that executions overlapped: × the attempt's number


class StartNotSettled(ValueError):
    """Executions kept arriving while the balances were read (start-up retries the whole read)."""


@dataclass(frozen=True)
class Executions:
    """What executed on the pair at or after `start_ms`, as one read of the trade lists saw it."""
    fills: tuple[Fill, ...]
    funding: tuple[Income, ...]

    def ids(self) -> frozenset:
        return frozenset([(f.market, f.symbol, f.trade_id) for f in self.fills]
                         + [("funding", i.tran_id) for i in self.funding])


def balances_before(read: Balances, executions: Executions, base_asset: str, quote_asset: str,
                    contract_size: Decimal) -> Balances:
    """`read` without the effects of `executions` (pure). Each execution's effect is the row the
    ledger would book for it alone: spot fills move spot base and quote, COIN-M fills and funding
    move the COIN-M wallet."""
    spot_btc, spot_usdt, coinm_btc = read.spot_btc, read.spot_usdt, read.coinm_btc
    for f in executions.fills:
        item = OrderFills(f.market, f.side, "", f.order_id, (f,))
        spot, perp = ([item], []) if f.market == SPOT else ([], [item])
        row = pair_row("start", "", "", f.time_ms, spot, perp, contract_size, base_asset,
                       quote_asset)
        if f.market == SPOT:
            spot_btc -= actual_btc(row)
            spot_usdt -= row.delta_usdt or ZERO
        else:
            coinm_btc -= actual_btc(row)
    for income in executions.funding:
        if income.asset == base_asset:
            coinm_btc -= income.income
    return Balances(spot_btc, spot_usdt, coinm_btc)


def start_snapshot(server_time: Callable[[], int], read_executions: Callable[[int], Executions],
                   read_balances: Callable[[], Balances], base_asset: str, quote_asset: str,
                   contract_size: Decimal, attempts: int = ATTEMPTS,
                   pause: Callable[[float], None] = time.sleep) -> tuple[int, Balances]:
    """(start_ms, the balances at start_ms), read as the module's docstring says."""
    start_ms = server_time()
    before = read_executions(start_ms)
    for attempt in range(1, attempts + 1):
        balances = read_balances()
        after = read_executions(start_ms)
        if after.ids() == before.ids():
            return start_ms, balances_before(balances, after, base_asset, quote_asset,
                                             contract_size)
        before = after
        pause(PAUSE_S * attempt)
    raise StartNotSettled(f"the pair kept executing while the start balances were read "
                          f"({attempts} reads since {start_ms})")


def pair_executions(spot, coinm, spot_symbol: str, coinm_symbol: str) -> Callable[[int], Executions]:
    """The reads of one Executions for `start_snapshot`: both trade lists and the funding income
    since `start_ms` (the ledger's own sources for what moves these balances)."""
    def read(start_ms: int) -> Executions:
        fills = spot.trades_since(spot_symbol, start_ms) + coinm.trades_since(coinm_symbol, start_ms)
        funding = coinm.income(coinm_symbol, FUNDING_FEE, start_ms=start_ms)
        return Executions(_since(fills, start_ms), _since(funding, start_ms))
    return read


def _since(items: Iterable, start_ms: int) -> tuple:
    return tuple(i for i in items if i.time_ms >= start_ms)
