"""The fault plan: spec grammar, the forced reduction of a COIN-M position (with a trail that
agrees with the account), the background runner's counters and the command line."""
from __future__ import annotations

import hashlib
import hmac
import subprocess
import sys
import time
from decimal import Decimal
from urllib.parse import urlencode

import pytest
import requests

from arbitrage.sim import LocalExchange
from arbitrage.sim.chaos import FaultPlan
from tests.conftest import REPO, wait_for

SPEC = ("drop=0.01,disconnect=20,silence=30:4,http5xx=0.02,ratelimit=60,slow=0.05:1.5,"
        "clock=45:3000,malformed=0.005,reduce=90,seed=1")


def call(ex: LocalExchange, method: str, path: str, **params) -> requests.Response:
    params["timestamp"] = time.time_ns() // 1_000_000
    query = urlencode(params)
    sig = hmac.new(ex.api_secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return requests.request(method, f"{ex.rest_url}{path}?{query}&signature={sig}",
                            headers={"X-MBX-APIKEY": ex.api_key}, timeout=10)


def test_the_spec_grammar():
    plan = FaultPlan.parse(SPEC)
    assert plan.drop == 0.01 and plan.disconnect == 20 and plan.silence == (30, 4)
    assert plan.http5xx == 0.02 and plan.ratelimit == (60, 3.0) and plan.slow == (0.05, 1.5)
    assert plan.clock == (45, 3000, 10.0) and plan.malformed == 0.005 and plan.reduce == 90
    assert plan.seed == 1 and plan.active
    assert FaultPlan.parse("ratelimit=5:2,clock=4:-1500:1").ratelimit == (5, 2)
    assert not FaultPlan.parse("").active


@pytest.mark.parametrize("spec, words", [
    ("drop=1.5", "probability"), ("bogus=1", "unknown fault 'bogus'"), ("drop", "key=value"),
    ("silence=30", "N:S"), ("slow=0.1", "P:S"), ("clock=45:abc", "integer"),
    ("disconnect=0", "> 0"), ("drop=0.1,drop=0.2", "twice"), ("seed=x", "seed"),
    ("reduce=-3", ">= 0"), ("http5xx=nan", "finite"),
])
def test_a_bad_spec_is_a_clear_value_error(spec, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(">", ">")):
        FaultPlan.parse(spec)
    with pytest.raises(ValueError):
        LocalExchange(faults=spec)


def test_reduce_position_leaves_a_consistent_trail():
    with LocalExchange(seed=31, speed=4.0, symbols=["BTCUSDT", "BTCUSD_PERP"]) as ex:
        assert ex.reduce_position("BTCUSD_PERP", 2) is None            # flat: nothing to do
        r = call(ex, "POST", "/dapi/v1/order", symbol="BTCUSD_PERP", side="SELL", type="MARKET",
                 quantity="5", newClientOrderId="t-open")
        assert r.status_code == 200, r.text
        trade = ex.reduce_position("BTCUSD_PERP", 2)
        assert trade is not None and trade.side == "BUY" and trade.qty == 2
        pos = [p for p in call(ex, "GET", "/dapi/v1/positionRisk").json() if p["symbol"] == "BTCUSD_PERP"]
        assert pos[0]["positionAmt"] == "-3"
        trades = call(ex, "GET", "/dapi/v1/userTrades", symbol="BTCUSD_PERP").json()
        forced = [t for t in trades if t["id"] == trade.trade_id]
        assert forced and forced[0]["side"] == "BUY" and forced[0]["qty"] == "2"
        order = call(ex, "GET", "/dapi/v1/order", symbol="BTCUSD_PERP", orderId=forced[0]["orderId"]).json()
        assert order["clientOrderId"].startswith("autoclose-") and order["status"] == "FILLED"
        assert order["reduceOnly"] is True and order["executedQty"] == "2"
        income = call(ex, "GET", "/dapi/v1/income", symbol="BTCUSD_PERP").json()
        assert {"REALIZED_PNL", "COMMISSION"} <= {i["incomeType"] for i in income
                                                  if i["tradeId"] == str(trade.trade_id)}
        # the account still agrees with userTrades + income
        fees = sum(Decimal(t["commission"]) for t in trades)
        pnl = sum(Decimal(t["realizedPnl"]) for t in trades)
        by_type = {k: sum(Decimal(i["income"]) for i in income if i["incomeType"] == k)
                   for k in ("COMMISSION", "REALIZED_PNL", "FUNDING_FEE")}
        assert by_type["COMMISSION"] == -fees and by_type["REALIZED_PNL"] == pnl
        wallet = [a for a in call(ex, "GET", "/dapi/v1/account").json()["assets"] if a["asset"] == "BTC"][0]
        assert Decimal(wallet["walletBalance"]) == Decimal(1) + sum(Decimal(i["income"]) for i in income)
        # ADL: no fee; and never more than the position
        adl = ex.reduce_position("BTCUSD_PERP", 10, adl=True)
        assert adl is not None and adl.qty == 3 and adl.commission == 0
        assert ex.trading.account.position("BTCUSD_PERP").amount == 0
        assert ex.fault_counts()["reduce"] == 2
        with pytest.raises(ValueError):
            ex.reduce_position("BTCUSDT", 1)


def test_the_background_plan_injects_and_counts():
    spec = "drop=0.2,disconnect=0.3,silence=0.4:0.1,ratelimit=0.5:0.2,clock=0.5:2000:0.2,reduce=0.3,seed=3"
    with LocalExchange(seed=33, speed=4.0, symbols=["BTCUSDT", "BTCUSD_PERP"], faults=spec) as ex:
        assert ex.fault_plan == FaultPlan.parse(spec)
        r = None
        deadline = time.monotonic() + 30
        while r is None or r.status_code != 200:   # the plan may rate-limit this order: retry
            assert time.monotonic() < deadline
            r = call(ex, "POST", "/dapi/v1/order", symbol="BTCUSD_PERP", side="BUY", type="MARKET",
                     quantity="50")
            if r.status_code != 200:
                time.sleep(float(r.headers.get("Retry-After", "0.2")))
        kinds = ("drop", "disconnect", "silence", "ratelimit", "clock", "reduce")
        wait_for(lambda: all(ex.fault_counts()[k] > 0 for k in kinds), timeout=30,
                 what=f"every kind injected: {kinds} (have {ex.fault_counts()})")
    after = ex.fault_counts()
    time.sleep(0.3)
    assert ex.fault_counts() == after          # the runner stopped with the exchange


def test_cli_runs_with_a_fault_plan_and_rejects_a_bad_one():
    bad = subprocess.run([sys.executable, "-m", "arbitrage.sim", "--faults", "drop=7"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--faults" in bad.stderr and "probability" in bad.stderr
    proc = subprocess.Popen([sys.executable, "-m", "arbitrage.sim", "--faults", "disconnect=0.2,seed=4",
                             "--speed", "4"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        lines = []
        while not any(line.startswith("FAULTS ") for line in lines):
            line = proc.stdout.readline()
            assert line, f"exited early: {proc.stderr.read()[-2000:]}"
            lines.append(line)
        rest = [l for l in lines if l.startswith("REST")][0].split()[1]
        assert requests.get(rest + "/sim/info", timeout=10).status_code == 200
        time.sleep(0.5)      # let the plan fire at least once before stopping
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "FAULTS injected:" in out and "disconnect=" in out
