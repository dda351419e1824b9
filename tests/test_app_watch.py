"""The real bot (`python -m app.main`) against the local exchange over loopback.

Each test starts its own local exchange on free ports and runs the bot as a separate process, the way
a user does, then reads what it printed and how it exited.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading

import pytest

from arbitrage.sim import LocalExchange
from tests.conftest import REPO, wait_for


@pytest.fixture
def sim():
    ex = LocalExchange(source="synthetic", seed=11, speed=1.0)
    ex.start()
    yield ex
    ex.stop()


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"SPOT_KEY", "SPOT_SECRET", "DAPI_KEY", "DAPI_SECRET", "PAIR", "VENUE",
                        "RUN_SECONDS", "DRY_RUN", "SPOT_SYMBOL", "COINM_SYMBOL", "SIM_URL",
                        "TRADES_LOG", "STATE_PATH"}}
    # every run gets its own ledger and state file: nothing leaks between tests or into the repo
    work = tempfile.mkdtemp(prefix="bot-")
    env.setdefault("TRADES_LOG", os.path.join(work, "trades_log.csv"))
    env.setdefault("STATE_PATH", os.path.join(work, "state.json"))
    env.update(extra)
    return env


def run_bot(args: list[str], timeout: float = 60.0, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.main", *args], cwd=REPO, env=clean_env(**env),
                          capture_output=True, text=True, timeout=timeout)


class Bot:
    """A bot process whose stderr is read line by line as it runs."""

    def __init__(self, args: list[str], **env: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "app.main", *args], cwd=REPO,
                                     env=clean_env(**env), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.err: list[str] = []
        self.out: list[str] = []
        # both pipes read by threads of their own: communicate() would also read stderr and
        # take lines from under the reader
        self._reader = threading.Thread(target=self._read, args=(self.proc.stderr, self.err),
                                        daemon=True)
        self._reader.start()
        self._out_reader = threading.Thread(target=self._read, args=(self.proc.stdout, self.out),
                                            daemon=True)
        self._out_reader.start()

    @staticmethod
    def _read(pipe, lines: list[str]) -> None:
        for line in pipe:
            lines.append(line)

    def saw(self, pattern: str) -> bool:
        return any(re.search(pattern, line) for line in list(self.err))

    def finish(self, timeout: float = 30.0) -> tuple[int, str, str]:
        self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        self._out_reader.join(timeout=5)
        return self.proc.returncode, "".join(self.out), "".join(self.err)


def test_watch_mode_syncs_both_books_and_prints_the_spread(sim):
    result = run_bot(["--venue", "sim", "--sim-url", sim.rest_url, "--run-seconds", "4",
                      "--status-interval", "1"])
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    status = [line for line in result.stderr.splitlines() if "[STATUS]" in line]
    assert status, result.stderr
    last = status[-1]
    assert re.search(r"spot \d+\.\d{2}/\d+\.\d{2} perp \d+\.\d{2}/\d+\.\d{2} mark \d+\.\d{2} "
                     r"spread [+-]\d+\.\d{2}bps", last), last
    assert "buy-spot top" in last and "sell-spot top" in last and "resyncs 0" in last
    assert "both books synced after" in result.stdout
    assert re.search(r"\d+ depth diffs, \d+ mark updates", result.stdout)
    # the gates cleared and the account was read: the [READY] line and its time in the summary
    assert re.search(r"\[READY\] trading allowed after \d+\.\d\d s", result.stderr), result.stderr
    assert re.search(r"trading allowed after \d+\.\d\d s", result.stdout)


def test_bad_settings_are_one_line_each_and_exit_2():
    result = run_bot(["--venue", "moon"], ENTER_BPS="1", EXIT_BPS="abc", MAX_HOLD_SEC="-3",
                     DRY_RUN="perhaps")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) >= 4, result.stderr
    for name in ("VENUE", "EXIT_BPS", "MAX_HOLD_SEC", "DRY_RUN"):
        assert any(name in line for line in errors), (name, errors)


def test_a_symbol_the_exchange_does_not_list_exits_2(sim):
    result = run_bot(["--venue", "sim", "--sim-url", sim.rest_url, "--spot", "DOGEUSDT",
                      "--coinm", "DOGEUSD_PERP", "--run-seconds", "3"])
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(r"error: SPOT_SYMBOL: 'DOGEUSDT' is not listed", result.stderr), result.stderr


def test_an_unreachable_venue_is_retried_with_a_log_line_not_a_traceback():
    with socket.socket() as s:                    # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_bot(["--venue", "sim", "--sim-url", f"http://127.0.0.1:{port}",
                      "--run-seconds", "2"])
    assert "Traceback" not in result.stderr
    assert "[NET]" in result.stderr and "retrying" in result.stderr
    assert result.returncode == 1
    assert "gave up" in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_bot_cleanly_with_a_summary(sim, sig):
    bot = Bot(["--venue", "sim", "--sim-url", sim.rest_url, "--status-interval", "1"])
    wait_for(lambda: bot.saw("both books synced"), what="the books to sync")
    bot.proc.send_signal(sig)
    code, out, err = bot.finish()
    assert code == 0, err
    assert "Traceback" not in err
    assert "spot-cm-arb summary" in out


def test_eth_pair_runs_on_the_local_exchange(sim):
    result = run_bot(["--venue", "sim", "--sim-url", sim.rest_url, "--run-seconds", "3",
                      "--status-interval", "1"], PAIR="ETH")
    assert result.returncode == 0, result.stderr
    assert "ETHUSDT / ETHUSD_PERP" in result.stdout
    assert "both books synced after" in result.stdout


def test_print_config_masks_secrets():
    secret = "S3cretValueThatMustNotLeak0123456789"
    result = run_bot(["--print-config"], SPOT_KEY="KeyValue0123456789abcd", SPOT_SECRET=secret,
                     DAPI_KEY="OtherKey0123456789abcd", DAPI_SECRET=secret + "x")
    assert result.returncode == 0, result.stderr
    assert secret not in result.stdout + result.stderr
    assert "KeyValue0123456789abcd" not in result.stdout
    assert re.search(r"VENUE.*testnet", result.stdout)
