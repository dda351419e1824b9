"""`python -m arbitrage.sim` as a user runs it: prints its URLs, serves, stops cleanly on a signal."""
from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import requests

from tests.conftest import REPO
from tests.test_sim_support import read, ws_connect


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_standalone_prints_urls_serves_and_stops_on_signal(sig):
    proc = subprocess.Popen([sys.executable, "-m", "arbitrage.sim", "--seed", "3", "--speed", "2"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        rest = proc.stdout.readline().split()
        ws = proc.stdout.readline().split()
        assert rest[0] == "REST" and rest[1].startswith("http://127.0.0.1:")
        assert ws[0] == "WS" and ws[1].startswith("ws://127.0.0.1:")
        info = requests.get(rest[1] + "/sim/info", timeout=20).json()
        assert info["ws"] == ws[1] and info["source"] == "synthetic"
        with ws_connect(ws[1] + "/ws/btcusdt@bookTicker") as conn:
            assert read(conn)[0]["s"] == "BTCUSDT"
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "local exchange stopped" in err


def test_standalone_rejects_replay_without_files():
    result = subprocess.run([sys.executable, "-m", "arbitrage.sim", "--source", "replay"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--replay" in result.stderr
