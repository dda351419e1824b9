"""A restart with a maker entry left resting by SIGKILL: one of its orders fills while the restart
reads its starting point (the start time and the start balances).

Before the fix the start balances were read at three moments (spot account, then the server time,
then the COIN-M account): a spot fill between the first two was in neither the start balances nor
the run's counted rows, a COIN-M fill between the last two in both, and the run ended in a LEDGER
MISMATCH (exit 5). Here the fill lands exactly there, at the exchange, on a chosen read of the real
clients: the first bot runs as `python -m app.main` and is killed with both legs resting (they
never fill by themselves), the second is built in-process as app.main builds it."""
from __future__ import annotations

import time

import pytest

from arbitrage.exchanges.binance_coinm import CoinmClient
from arbitrage.exchanges.binance_spot import SpotClient
from arbitrage.sim import LocalExchange
from arbitrage.accounting.tradelog import read_rows
from tests.conftest import wait_for
from tests.harness import EASY, PERP, SPOT, BotRun
from tests.test_restart import Scenario


@pytest.fixture
def sim():
    ex = LocalExchange(source="synthetic", seed=3).start()
    yield ex
    ex.stop()


def _killed_with_a_resting_entry(sim: LocalExchange, tmp_path) -> Scenario:
    s = Scenario(sim, tmp_path)
    sim.fill_next_orders_partially("spot", 0)     # the entry's two legs rest and never fill
    sim.fill_next_orders_partially("coinm", 0)    # unless the test fills them
    first = s.bot("--execution-mode", "maker", "--pair-timeout-sec", "600")

    def both_resting() -> bool:
        # the market trading through a resting leg would fill it: held still once both rest
        # (for the rest of the test: the restart's rescue is a market order on the still book)
        resting = lambda: (len(sim.trading.spot.open_list(SPOT)) == 1       # noqa: E731
                           and len(sim.trading.coinm.open_list(PERP)) == 1)
        if not (s.saved_state("ENTERING") and resting()):
            return False
        sim.hold_still(600)
        if resting():
            return True
        sim.hold_still(0)
        return False

    wait_for(both_resting, timeout=120, what="a maker entry resting on both legs")
    s.kill(first)
    return s


def _fill_during_start(monkeypatch, sim: LocalExchange, client: type, method: str,
                       symbol: str) -> list:
    """Once the restart has read the position for its reconciliation, the next call of
    `client.method` first fills the resting order on `symbol`: the fill lands between that read
    and the one before it. Returns the list the fill's trade is put in."""
    desk = sim.trading.spot if symbol == SPOT else sim.trading.coinm
    client_id = desk.open_list(symbol)[0].client_order_id
    armed, fired = [], []
    position, read = CoinmClient.position, getattr(client, method)

    def reconcile_read(self, *args, **kwargs):
        answer = position(self, *args, **kwargs)
        armed.append(True)
        return answer

    def hooked(self, *args, **kwargs):
        if armed and not fired:
            fired.append(sim.fill_resting(symbol, client_id))
            time.sleep(0.005)   # the exchange's clock leaves the fill's millisecond behind
        return read(self, *args, **kwargs)

    monkeypatch.setattr(CoinmClient, "position", reconcile_read)
    monkeypatch.setattr(client, method, hooked)
    return fired


@pytest.mark.parametrize("client, method, symbol, transport", [
    # spot account read, then the spot leg fills, then the start time: counted by neither
    (SpotClient, "server_time", SPOT, "rest"),
    # start time, then the COIN-M leg fills, then the COIN-M account: counted by both
    (CoinmClient, "account", PERP, "rest"),
    (CoinmClient, "account", PERP, "ws"),
], ids=["spot-fill-before-start-time", "coinm-fill-before-coinm-account",
        "coinm-fill-before-coinm-account-ws"])
def test_a_resting_leg_filling_while_the_restart_reads_its_start_is_counted_once(
        sim, tmp_path, monkeypatch, client, method, symbol, transport):
    s = _killed_with_a_resting_entry(sim, tmp_path)
    fired = _fill_during_start(monkeypatch, sim, client, method, symbol)
    r = BotRun(sim, *EASY, "--flatten-on-exit", "--order-transport", transport,
               workdir=tmp_path)
    monkeypatch.undo()
    assert len(fired) == 1, "the leg did not fill during the start-up reads"
    rows = lambda: read_rows(s.env["TRADES_LOG"])     # noqa: E731
    wait_for(lambda: any(row.event == "rescue" for row in rows()) and not r.trader.in_flight,
             timeout=90, what="the lone leg rescued")
    assert r.trader.halt_reason is None, r.trader.halt_reason
    r.close()
    inv = r.bot.last_invariant
    assert inv is not None and inv.ok, inv.describe() if inv else "no invariant"
    assert fired[0].order_id in {int(i) for row in rows()
                                 for i in f"{row.spot_orderId or ''} {row.cm_orderId or ''}".split()}
    s.check()                   # nothing open, nothing sent twice, every run's rows exact
