"""STRATEGY=carry end to end: `python -m app.main` against a local exchange whose funding settles
every 15 s in the "hot" regime (0.1–0.3 % a settlement: the high end of what Binance shows in hot
markets, so that a run of minutes can cover a 30 bps round trip of fees — at the flat 0.01 % it
takes ten days). The carry must end with more BTC after every fee, its funding rows must be the
exchange's FUNDING_FEE income to the satoshi, the ledger must reproduce the balances, and a
SIGKILL while carrying must be followed by a restart that resumes the carry."""
from __future__ import annotations

import re
import signal
from decimal import Decimal

import pytest

from app.report import trade_results
from arbitrage.accounting.ledger import FUNDING
from arbitrage.sim import LocalExchange
from arbitrage.accounting.tradelog import read_rows
from tests.conftest import wait_for
from tests.harness import PERP
from tests.test_app_watch import Bot
from tests.test_restart import Scenario

INTERVAL_S = 15
CARRY = ("--strategy", "carry", "--carry-hold-hours", "0.05", "--carry-max-hold-hours", "0.05",
         "--carry-invest-usd", "6000", "--max-slippage-bps-spot", "20",
         "--max-slippage-bps-coinm", "20", "--status-interval", "2")


@pytest.fixture
def sim():
    ex = LocalExchange(source="synthetic", seed=3, funding_interval_sec=INTERVAL_S,
                       funding_regime="hot").start()
    yield ex
    ex.stop()


class Run(Scenario):
    """test_restart's scenario with the carry's flags, and funding checked against the income."""

    def __init__(self, sim: LocalExchange, tmp_path) -> None:
        super().__init__(sim, tmp_path)
        self.start_ms = self.spot.server_time()

    def bot(self, *flags: str) -> Bot:
        return Bot(["--venue", "sim", "--sim-url", self.sim.rest_url, *CARRY, *flags], **self.env)

    def check(self) -> list:
        """Flat, nothing sent twice, the ledger equal to the exchange, funding rows equal to its
        FUNDING_FEE income to the satoshi."""
        super().check()
        rows = read_rows(self.env["TRADES_LOG"])
        income = self.coinm.income(PERP, "FUNDING_FEE", start_ms=self.start_ms)
        booked = [r for r in rows if r.event == FUNDING]
        assert income and len(booked) == len(income)
        assert sum((r.income_btc for r in booked), Decimal(0)) == \
            sum((i.income for i in income), Decimal(0))
        return rows


def test_carry_on_positive_funding_grows_the_btc(sim, tmp_path):
    run = Run(sim, tmp_path)
    bot = run.bot("--run-seconds", "150", "--flatten-on-exit")
    code, out, err = bot.finish(timeout=240)
    assert code == 0, err[-3000:]
    assert "Traceback" not in err
    entry = next(line for line in err.splitlines() if "[ENTRY]" in line and "carry:" in line)
    assert re.search(r"buy_spot carry: rate \+0\.\d+%/settlement × 12\.0 → expected funding "
                     r"\+\d+\.\d\d bps .* fees 30\.00, net \+", entry), entry
    rows = run.check()
    trades, _ = trade_results(rows)
    assert trades and all(t.closed for t in trades)
    net = sum((t.net_btc for t in trades), Decimal(0))
    funding = sum((t.funding_btc for t in trades), Decimal(0))
    fees = sum((t.fees_btc for t in trades), Decimal(0))
    assert funding > fees > 0 and net > 0, (net, funding, fees)
    # the summary says where it came from
    assert "where the net came from" in out and "net from             edge" in out


def test_killed_while_carrying_resumes_the_carry(sim, tmp_path):
    run = Run(sim, tmp_path)
    first = run.bot()
    wait_for(lambda: run.saved_state("HEDGED"), timeout=120, what="a carry opened")
    run.kill(first)
    # the same state file under the other strategy is refused: the carry's exits are not the scalp's
    other = Bot(["--venue", "sim", "--sim-url", sim.rest_url, "--strategy", "scalp"], **run.env)
    code, _, err = other.finish(timeout=60)
    assert code == 2 and re.search(r"error: STRATEGY: 'scalp', but \S+ holds trade T\d+ opened "
                                   r"under STRATEGY=carry", err), err
    second = run.bot("--flatten-on-exit")
    wait_for(lambda: second.saw(r"\[STATE\] state matches the exchange: resuming HEDGED"),
             timeout=60, what="the resume")
    # it keeps carrying across a settlement after the restart (no scalp timeout closes it)
    wait_for(lambda: second.saw(r"\[LEDGER\] funding T\d+"), timeout=90, what="funding after the restart")
    assert not second.saw(r"\[EXIT\]")
    second.proc.send_signal(signal.SIGTERM)
    code, _, err = second.finish(timeout=90)
    assert code == 0 and "Traceback" not in err, err[-3000:]
    assert "[EXIT]" in err and "shutdown" in err
    run.check()
