"""Restarts after SIGKILL (not a clean stop) at each state: flat, entry in flight, hedged, exit in
flight. The bot is `python -m app.main` against a local exchange that outlives it; after the restart
it must resume or recover, never send an order twice, and at the end the ledger must reproduce the
exchange's balances exactly over the whole test (every run's rows, both runs' trades)."""
from __future__ import annotations

import signal
from decimal import Decimal

import pytest

from arbitrage.exchanges.binance_coinm import CoinmClient
from arbitrage.exchanges.binance_spot import SpotClient
from arbitrage.exchanges.http import BinanceHttp
from arbitrage.accounting.ledger import Balances, check_invariant
from arbitrage.sim import LocalExchange
from arbitrage.accounting.tradelog import read_rows
from tests.conftest import wait_for
from tests.harness import EASY, PERP, SPOT
from tests.test_app_watch import Bot


@pytest.fixture
def sim():
    ex = LocalExchange(source="synthetic", seed=3).start()
    yield ex
    ex.stop()


class Scenario:
    def __init__(self, sim: LocalExchange, tmp_path) -> None:
        self.sim = sim
        self.env = {"TRADES_LOG": str(tmp_path / "trades_log.csv"),
                    "STATE_PATH": str(tmp_path / "state.json")}
        http = lambda: BinanceHttp(sim.rest_url, sim.api_key, sim.api_secret)  # noqa: E731
        self.spot, self.coinm = SpotClient(http()), CoinmClient(http())
        self.start = self.balances()

    def balances(self) -> Balances:
        return Balances.from_accounts(self.spot.account(), self.coinm.account())

    def bot(self, *flags: str) -> Bot:
        return Bot(["--venue", "sim", "--sim-url", self.sim.rest_url, "--status-interval", "1",
                    *EASY, *flags], **self.env)

    def last_bot(self, *flags: str) -> Bot:
        """The run after the restart: it ends flat, so the end state is easy to check."""
        return self.bot("--flatten-on-exit", *flags)

    def saved_state(self, state: str) -> bool:
        """The state file (not a log line, which can run ahead of the disk) says `state`."""
        try:
            return f'"engine_state": "{state}"' in open(self.env["STATE_PATH"]).read()
        except OSError:
            return False

    def kill(self, bot: Bot) -> None:
        bot.proc.send_signal(signal.SIGKILL)
        bot.proc.wait(timeout=30)

    def stop(self, bot: Bot) -> tuple[int, str]:
        bot.proc.send_signal(signal.SIGTERM)
        code, out, err = bot.finish(timeout=90)
        assert "Traceback" not in err, err
        return code, err

    def check(self) -> None:
        """Nothing open, nothing sent twice, and the ledger equals the exchange to the unit."""
        assert self.spot.open_orders(SPOT) == [] and self.coinm.open_orders(PERP) == []
        for desk in (self.sim.trading.spot, self.sim.trading.coinm):
            ids = [o.client_order_id for o in desk.orders.values()]
            assert len(ids) == len(set(ids)), "an order was sent twice"
        rows = read_rows(self.env["TRADES_LOG"])
        inv = check_invariant(rows, self.start, self.balances())
        assert inv.ok, inv.describe()
        assert self.coinm.position(PERP).amount == 0


def test_killed_while_flat_resumes_flat(sim, tmp_path):
    s = Scenario(sim, tmp_path)
    first = s.bot()
    wait_for(lambda: first.saw(r"\[EXIT\] T\d+ flat"), timeout=120, what="a closed trade")
    wait_for(lambda: s.saved_state("FLAT"), timeout=60, what="FLAT again")
    s.kill(first)
    second = s.last_bot()
    wait_for(lambda: second.saw(r"\[STATE\] state matches the exchange: resuming FLAT"),
             timeout=60, what="the resume")
    wait_for(lambda: second.saw(r"\[EXIT\] T\d+ flat"), timeout=120, what="trading again")
    code, err = s.stop(second)
    assert code == 0
    s.check()


def test_killed_with_an_entry_in_flight_recovers_it(sim, tmp_path):
    s = Scenario(sim, tmp_path)
    first = s.bot("--execution-mode", "maker", "--pair-timeout-sec", "20")
    wait_for(lambda: s.saved_state("ENTERING"), timeout=120, what="a maker entry in flight")
    s.kill(first)
    second = s.last_bot("--max-hold-sec", "2")
    wait_for(lambda: second.saw(r"\[STATE\] entry of trade T\d+ was in flight"), timeout=60,
             what="the recovery decision")
    wait_for(lambda: second.saw(r"\[RECOVER\]"), timeout=60, what="the recovery")
    wait_for(lambda: second.saw(r"\[STATUS\] FLAT"), timeout=120, what="FLAT after the recovery")
    code, err = s.stop(second)
    assert code == 0 and "[HALT]" not in err
    s.check()


def test_killed_while_hedged_resumes_watching_the_exit(sim, tmp_path):
    s = Scenario(sim, tmp_path)
    first = s.bot("--exit-bps", "-50", "--stop-bps", "50", "--max-hold-sec", "600")
    wait_for(lambda: s.saved_state("HEDGED"), timeout=120, what="a hedged trade")
    s.kill(first)
    second = s.last_bot("--exit-bps", "-50", "--stop-bps", "50", "--max-hold-sec", "1")
    wait_for(lambda: second.saw(r"\[STATE\] state matches the exchange: resuming HEDGED"),
             timeout=60, what="the resume")
    wait_for(lambda: second.saw(r"\[EXIT\] T\d+ flat"), timeout=60, what="the exit by timeout")
    wait_for(lambda: second.saw(r"\[STATUS\] FLAT"), timeout=60, what="FLAT")
    code, err = s.stop(second)
    assert code == 0
    s.check()


def test_killed_with_an_exit_in_flight_recovers_it(sim, tmp_path):
    s = Scenario(sim, tmp_path)
    first = s.bot("--exit-bps", "-50", "--stop-bps", "50", "--max-hold-sec", "3")
    wait_for(lambda: s.saved_state("HEDGED"), timeout=120, what="a hedged trade")
    sim.delay_next_orders("spot", 2.0)            # the exit's orders take 2 s at the exchange
    sim.delay_next_orders("coinm", 2.0)
    wait_for(lambda: s.saved_state("EXITING"), timeout=30, what="the exit in flight")
    s.kill(first)
    second = s.last_bot("--exit-bps", "-50", "--stop-bps", "50", "--max-hold-sec", "3")
    wait_for(lambda: second.saw(r"\[RECOVER\]"), timeout=60, what="the recovery of the exit")
    wait_for(lambda: second.saw(r"\[STATUS\] FLAT"), timeout=120, what="FLAT after the exit")
    code, err = s.stop(second)
    assert code == 0 and "[HALT]" not in err
    s.check()


@pytest.mark.parametrize("at", ["resting", "hedging"])
def test_killed_during_a_chase_recovers_it(sim, tmp_path, at):
    """EXECUTION_MODE=chase: killed while its spot order is on its way (nothing hedged yet), or
    while the first fill's hedge is (each delayed at the exchange); the restart reads every order
    of the chase by client id and completes the pair."""
    s = Scenario(sim, tmp_path)
    market = "spot" if at == "resting" else "coinm"
    sim.delay_next_orders(market, 1.0 if at == "resting" else 1.5)
    first = s.bot("--execution-mode", "chase", "--pair-timeout-sec", "20")
    wait_for(lambda: sim.orders_received(market) >= 1, timeout=120, what=f"the chase {at}")
    s.kill(first)
    assert s.saved_state("ENTERING")
    second = s.last_bot("--max-hold-sec", "2")
    wait_for(lambda: second.saw(r"\[STATE\] entry of trade T\d+ was in flight"), timeout=60,
             what="the recovery decision")
    wait_for(lambda: second.saw(r"\[RECOVER\]"), timeout=60, what="the recovery")
    wait_for(lambda: second.saw(r"\[STATUS\] FLAT"), timeout=120, what="FLAT after the recovery")
    code, err = s.stop(second)
    assert code == 0 and "[HALT]" not in err
    s.check()
