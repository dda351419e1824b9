"""`python -m app.smoke` against the local exchange: the table, the exit code, nothing left open
- also when a step fails (an order answer lost on the WebSocket API), and no key printed."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app import smoke
from arbitrage.exchanges.binance_coinm import CoinmClient
from arbitrage.exchanges.binance_spot import SpotClient
from arbitrage.sim import LocalExchange
from tests.fast_lanes_kit import SPOT_SYMBOL, http
from tests.sim_clients import PERP

KEYS = ("SPOT_KEY", "SPOT_SECRET", "DAPI_KEY", "DAPI_SECRET", "VENUE", "CONFIRM_LIVE")


@pytest.fixture
def no_keys(monkeypatch, tmp_path):
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)                 # no .env


def nothing_open(ex: LocalExchange) -> bool:
    rest = http(ex)
    return not SpotClient(rest).open_orders(SPOT_SYMBOL) and not CoinmClient(rest).open_orders(PERP)


def test_the_smoke_test_prints_its_table_exits_0_and_leaves_nothing_open(no_keys, capsys):
    with LocalExchange(seed=5, speed=0.001) as ex:
        code = smoke.main(["--venue", "sim", "--sim-url", ex.rest_url])
        out = capsys.readouterr().out
        assert nothing_open(ex) and ex.orders_received("spot") == 1 and ex.orders_received("coinm") == 1
    assert code == 0, out
    for name in ("server time, clock offset", "COIN-M position mode one-way", "pair filters",
                 "spot NEW on the user stream", "COIN-M CANCELED on the user stream",
                 "nothing left open"):
        assert name in out
    assert "FAIL" not in out and "17/17 ok" in out
    assert ex.api_key not in out and ex.api_secret not in out


def test_a_failing_step_still_leaves_nothing_open_and_exits_1(no_keys, capsys):
    with LocalExchange(seed=5, speed=0.001) as ex:
        ex.lose_next_ws_answers("spot")         # the spot order lands; its answer never comes
        code = smoke.main(["--venue", "sim", "--sim-url", ex.rest_url, "--http-timeout", "1"])
        out = capsys.readouterr().out
        assert ex.orders_received("spot") == 1          # not re-sent
        assert nothing_open(ex)                         # cancelled over REST by client order id
    assert code == 1
    line = next(l for l in out.splitlines() if l.startswith("spot order.place"))
    assert "FAIL" in line and "UnknownOutcome" in line
    assert "nothing left open" in out and "COIN-M CANCELED on the user stream" in out


def test_bad_settings_exit_2(no_keys):
    assert smoke.main(["--venue", "live"]) == 2      # no keys, no CONFIRM_LIVE


def test_python_m_app_smoke_starts_the_local_exchange_without_keys(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in KEYS}
    env["PYTHONPATH"] = os.getcwd()
    done = subprocess.run([sys.executable, "-m", "app.smoke"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "connector smoke test on sim" in done.stdout and "17/17 ok" in done.stdout
