"""`python -m app.rank` against the local exchange on loopback (real clients, real endpoints)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal as D

from app.rank import main
from arbitrage.carry.ranking import WINDOW_MS
from arbitrage.sim import LocalExchange
from arbitrage.sim.symbols import ALL_SYMBOLS
from arbitrage.venues import VenueUrls

KEYS = ("SPOT_KEY", "SPOT_SECRET", "DAPI_KEY", "DAPI_SECRET", "VENUE", "SIM_URL")


def test_rank_without_keys_starts_the_local_exchange_and_lists_every_pair(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in KEYS}
    env["PYTHONPATH"] = os.getcwd()         # run from an empty folder: no .env, no state
    result = subprocess.run([sys.executable, "-m", "app.rank", "--json", "--hold-days", "30"],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) >= 8
    assert {r["perpetual"] for r in rows} >= {f"{b}USD_PERP" for b in
                                             ("BTC", "ETH", "BNB", "SOL", "XRP", "ADA", "DOGE", "LINK")}
    nets = [D(r["net_apr"]) for r in rows]
    assert nets == sorted(nets, reverse=True)
    for r in rows:
        assert r["spot"] == r["perpetual"].replace("USD_PERP", "USDT")
        assert r["settlements_3d"] == 9                      # 8-hourly: 9 in any 72 h
        cum = D(r["cum_3d"])
        assert abs(D(r["apr"]) - abs(cum) / 3 * 365 / 2) < D("1e-9")
        # the demo keys read the account's own rates: spot 0.1 %, COIN-M taker 0.05 %
        assert D(r["round_trip_fee"]) == D("0.003")
        assert abs(D(r["net_apr"]) - (abs(cum) / 3 * 365 - D("0.003") * 365 / 30)) < D("1e-9")
    table = subprocess.run([sys.executable, "-m", "app.rank"], capture_output=True, text=True,
                           env=env, cwd=tmp_path, timeout=120)
    assert table.returncode == 0 and table.stdout.count("USD_PERP") >= 8


def test_rank_of_a_running_exchange_matches_its_funding_store(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)
    with LocalExchange(seed=8, symbols=ALL_SYMBOLS, funding_regime="negative") as ex:
        assert main(["--json", "--sim-url", ex.rest_url, "--notional", "5000", "--within-bps", "3"]) == 0
        rows = json.loads(capsys.readouterr().out)
        now = ex.market.clock_ms()
        for r in rows:
            store = ex.market.funding.funding_history(r["perpetual"], now - WINDOW_MS + 1, now, 1000)
            assert D(r["cum_3d"]) == sum(D(s.rate) for s in store) < 0    # the negative regime
            assert D(r["last_rate"]) == D(store[-1].rate)
            assert r["side"] == "sell spot / buy perp"
            assert D(0) <= D(r["depth_usd"]) <= D(5000)
    assert main(["--hold-days", "0"]) == 2


def test_rank_on_a_remote_venue_needs_no_keys(monkeypatch, tmp_path, capsys):
    """Read-only: testnet/live without keys are not a settings problem (standard fees are used);
    an unreachable venue is exit 1 with one line, no traceback."""
    monkeypatch.chdir(tmp_path)
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr("app.rank.urls_for", lambda venue: VenueUrls(
        "http://127.0.0.1:9", "ws://127.0.0.1:9", "http://127.0.0.1:9", "ws://127.0.0.1:9"))
    assert main(["--venue", "live", "--http-timeout", "1"]) == 1
    err = capsys.readouterr().err
    assert "cannot read live" in err and "Traceback" not in err
