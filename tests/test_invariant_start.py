"""The end-of-run invariant counts only what executed after the run's start balances were read.

Found when a ledger mismatch got its own exit code (issue 10 item 4): an entry in flight at a
kill whose spot leg had filled before the restart and whose COIN-M leg filled partly before and
partly after it. Its open row is dated by its last execution (after the start), so the whole row
was summed — the spot leg twice, since the start balances already held it — and a correct ledger
reported a MISMATCH."""
from __future__ import annotations

from decimal import Decimal as D

from arbitrage.accounting.bookkeeping import Accounting
from arbitrage.execution.pairs import PairResult, PairSpec
from arbitrage.accounting.ledger import Balances
from arbitrage.models import BUY, COINM, SELL, SPOT, Fill, OrderRequest, OrderState
from arbitrage.execution.orders import TrackedOrder
from arbitrage.strategy.engine import Trade
from arbitrage.strategy.frontier import BUY_SPOT
from tests.test_entry import BTCUSD_PERP, BTCUSDT

START = 1_000_000


def leg(market, symbol, side, qty, cid, order_id, fills):
    req = OrderRequest(market, symbol, side, "MARKET", qty, cid)
    state = OrderState(market, symbol, order_id, cid, side, "MARKET", "FILLED", qty, qty, D(0),
                       None, D(0), False, 0)
    return TrackedOrder(req, "FILLED", state), fills


def test_a_row_straddling_the_start_counts_only_its_later_fills():
    acc = Accounting(None, BTCUSDT, BTCUSD_PERP, start_ms=START)
    spot, spot_fills = leg(SPOT, "BTCUSDT", BUY, D("0.05"), "T1-s-e1", 11, (
        Fill(SPOT, "BTCUSDT", 11, 1, BUY, D(60000), D("0.05"), D(3000), D("0.00005"), "BTC",
             D(0), START - 500, False),))
    perp, perp_fills = leg(COINM, "BTCUSD_PERP", SELL, D(30), "T1-p-e1", 22, (
        Fill(COINM, "BTCUSD_PERP", 22, 2, SELL, D(60000), D(20), D("0.03333333"), D("0.00001"),
             "BTC", D(0), START - 400, False),
        Fill(COINM, "BTCUSD_PERP", 22, 3, SELL, D(60000), D(10), D("0.01666667"), D("0.000005"),
             "BTC", D(0), START + 700, False)))
    spec = PairSpec("T1", "entry", spot.request, perp.request, D(60000), D(60000), BTCUSDT,
                    BTCUSD_PERP)
    result = PairResult(spec, spot, perp, fills={"T1-s-e1": spot_fills, "T1-p-e1": perp_fills})

    class Log:                                   # the ledger file: rows only collected
        path, rows = "mem", []

        def append(self, row):
            self.rows.append(row)
            return True

        def keys(self):
            return set()
    acc.log = Log()
    acc.on_pair(result, Trade("T1", BUY_SPOT, START - 600, 8.0))
    assert len(acc.log.rows) == 1 and acc.log.rows[0].delta_usdt == D(-3000)   # the file: all
    # the start balances already hold the spot buy and 20 contracts' fee: only 10 contracts' fee
    # happened during the run
    acc.start_balances = Balances(D("1.04995"), D(97000), D("0.99999"))
    inv = acc.invariant(Balances(D("1.04995"), D(97000), D("0.999985")))
    assert inv.ok, inv.describe()
