"""A fleet of two instances (BTC, ETH) and one misconfigured one, under supervisord, on one local
exchange shared through --sim-url; the page in a real browser (headless Debian chromium).

One fleet for the whole module (starting one costs seconds); the tests run in file order and each
builds on the previous one: both trade -> /metrics -> the page and its token -> SIGKILL and
restart -> a halt that stays -> stop.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from arbitrage.exchanges.binance_coinm import CoinmClient
from arbitrage.exchanges.http import BinanceHttp
from arbitrage.models import BUY, COINM, OrderRequest
from tests.conftest import wait_for

REPO = Path(__file__).resolve().parent.parent
SCREENSHOTS = Path(os.environ.get("FLEET_SCREENSHOTS", REPO / "tests" / "artifacts"))

FLEET_TOML = """
run_dir = "{run}"
page_port = 0
venue = "sim"
sim_url = "{sim}"
status_interval = 2
enter_bps = 0.5
exit_bps = 0.3
stop_bps = 40
min_v_usd = 100
reopen_cooldown_sec = 0.5

[[instances]]
id = "btc"
spot = "BTCUSDT"
coinm = "BTCUSD_PERP"
size = 0.05
metrics_port = {btc_metrics}   # its own /metrics too (for a fleet run by systemd or containers)

[[instances]]
id = "eth"
spot = "ETHUSDT"
coinm = "ETHUSD_PERP"
size = 2            # ETH: a cap that the synthetic ETH books can fill at these thresholds

[[instances]]
id = "xyz"          # passes the file's checks; the exchange does not list it: exit 2 at start
spot = "XYZUSDT"
coinm = "XYZUSD_PERP"
"""


def _fleet(*args: str, config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.fleet", *args, "--config", str(config)],
                          cwd=REPO, capture_output=True, text=True, timeout=150)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fleet")
    sim = subprocess.Popen([sys.executable, "-m", "arbitrage.sim", "--seed", "7",
                            "--log-level", "WARNING"], cwd=REPO, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    config = tmp / "fleet.toml"
    try:
        info = {}
        while "INFO" not in info:            # REST, WS, ..., KEY, SECRET, then INFO
            key, value = sim.stdout.readline().split(maxsplit=1)
            info[key] = value.strip()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            btc_metrics = s.getsockname()[1]
        config.write_text(FLEET_TOML.format(run=tmp / "run", sim=info["REST"],
                                            btc_metrics=btc_metrics))
        started = _fleet("start", config=config)
        assert started.returncode == 0, started.stderr
        lines = started.stdout.splitlines()
        url = next(line.split(": ", 1)[1] for line in lines if line.startswith("page: "))
        token = next(line.rsplit(": ", 1)[1] for line in lines if line.startswith("token "))
        yield {"config": config, "run": tmp / "run", "base": url.rsplit("/arb", 1)[0], "url": url,
               "token": token, "sim_rest": info["REST"], "key": info["KEY"],
               "secret": info["SECRET"], "stdout": started.stdout, "btc_metrics": btc_metrics}
    finally:
        if config.exists():
            _fleet("stop", config=config)
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=20)


def rows(fleet) -> dict[str, dict]:
    answer = requests.get(fleet["base"] + "/api/instances", timeout=5).json()
    return {r["id"]: r for r in answer["instances"]}


def test_both_instances_trade_and_a_settings_error_is_reported_with_its_id(fleet):
    # "running" also needs a status file under 5 s old: on a loaded machine one write can be late,
    # so the row is read until it is up, not at one instant
    wait_for(lambda: all(rows(fleet)[i]["trades_closed"] >= 1 and rows(fleet)[i]["running"]
                         for i in ("btc", "eth")),
             timeout=90, interval=0.5, what="a closed trade on btc and on eth, both running")
    r = rows(fleet)
    for i, spot in (("btc", "BTCUSDT"), ("eth", "ETHUSDT")):
        assert r[i]["process"] == "RUNNING", r[i]
        assert r[i]["spot"] == spot and r[i]["fills"] >= 2
        assert r[i]["state"] in ("FLAT", "ENTERING", "HEDGED", "EXITING")
        assert r[i]["spread_bps"] is not None and r[i]["spread_series"]
        assert r[i]["net_series"]                      # the chart's points, from the ledger
    # each has its own ledger and state file
    assert (fleet["run"] / "btc" / "trades_log.csv").exists()
    assert (fleet["run"] / "eth" / "trades_log.csv").exists()
    wait_for(lambda: rows(fleet)["xyz"]["exit_code"] == 2, timeout=30, interval=0.5,
             what="xyz to exit 2")
    xyz = rows(fleet)["xyz"]
    assert xyz["process"] == "EXITED" and not xyz["running"]
    assert "settings error" in xyz["state"]
    assert "SPOT_SYMBOL: 'XYZUSDT' is not listed" in xyz["error"]
    # exit 2 is not restarted: still the same EXITED process a few seconds later
    time.sleep(3)
    assert rows(fleet)["xyz"]["process"] == "EXITED"
    status = _fleet("status", config=fleet["config"])
    assert "xyz" in status.stdout and "settings error" in status.stdout


def test_metrics_have_the_series_of_both_instances(fleet):
    up = [f'arb_up{{coinm="{i.upper()}USD_PERP",instance="{i}",spot="{i.upper()}USDT"}} 1.0'
          for i in ("btc", "eth")]
    wait_for(lambda: all(u in requests.get(fleet["base"] + "/metrics", timeout=5).text for u in up),
             timeout=30, interval=0.5, what="arb_up 1 for both instances")
    text = requests.get(fleet["base"] + "/metrics", timeout=5).text
    for i in ("btc", "eth"):
        assert f'arb_up{{coinm="{i.upper()}USD_PERP",instance="{i}",spot="{i.upper()}USDT"}} 1.0' in text
        closed = [line for line in text.splitlines()
                  if line.startswith(f'arb_trades_closed_total{{instance="{i}"}}')]
        assert closed and float(closed[0].split()[-1]) >= 1
        assert f'arb_spread_bps{{instance="{i}"}}' in text
        assert f'arb_net_btc{{instance="{i}"}}' in text
    assert 'arb_up{coinm="XYZUSD_PERP",instance="xyz",spot="XYZUSDT"} 0.0' in text
    own = requests.get(f"http://127.0.0.1:{fleet['btc_metrics']}/metrics", timeout=5).text
    assert 'arb_up{coinm="BTCUSD_PERP",instance="btc",spot="BTCUSDT"} 1.0' in own
    assert 'arb_spread_bps{instance="btc"}' in own and 'instance="eth"' not in own


def test_the_token_is_needed_and_never_shown(fleet):
    api = fleet["base"] + "/api/control/btc"
    assert requests.post(api, json={"command": "pause"}, timeout=5).status_code == 403
    assert requests.post(api, json={"command": "pause"}, headers={"X-Fleet-Token": "nope"},
                         timeout=5).status_code == 403
    everything = (requests.get(fleet["base"] + "/api/instances", timeout=5).text
                  + requests.get(fleet["base"] + "/arb", timeout=5).text
                  + requests.get(fleet["base"] + "/metrics", timeout=5).text)
    for secret in (fleet["token"], fleet["secret"], fleet["key"]):
        assert secret not in everything
    for log in (fleet["run"] / "logs").iterdir():
        assert fleet["token"] not in log.read_text()
    assert fleet["token"] not in (fleet["run"] / "page.token.sha256").read_text()
    assert oct((fleet["run"] / "page.token.sha256").stat().st_mode & 0o777) == "0o600"


@pytest.fixture(scope="module")
def browser():
    if not shutil.which("chromedriver"):
        pytest.skip("chromedriver not on PATH (`make test` installs Debian's chromium-driver)")
    from selenium import webdriver
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1700,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(shutil.which("chromedriver")))
    yield driver
    driver.quit()


def _text(driver, css: str) -> str:
    """Read in one script: the table is redrawn every second, a found element goes stale."""
    return driver.execute_script("const e = document.querySelector(arguments[0]);"
                                 "return e ? e.textContent : null;", css)


def _click_confirmed(driver, element_id: str) -> None:
    # clicked from a timer in the page: the click opens a confirm() dialog, which would block
    # a synchronous script; the button itself is redrawn every second
    driver.execute_script("setTimeout(() => document.getElementById(arguments[0]).click(), 0)",
                          element_id)
    wait_for(lambda: _alert(driver) is not None, timeout=10, what="the confirmation dialog")
    _alert(driver).accept()


def _alert(driver):
    from selenium.common.exceptions import NoAlertPresentException
    try:
        return driver.switch_to.alert
    except NoAlertPresentException:
        return None


def test_page_in_a_browser_rows_live_and_pause_needs_the_token(fleet, browser):
    from selenium.webdriver.common.by import By
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.get(fleet["url"])

    def cell(i, css):
        return _text(browser, f"#row-{i} td.{css}") or ""

    wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#row-btc, #row-eth")) == 2,
             timeout=15, what="rows for btc and eth")
    first = {i: cell(i, "spread") for i in ("btc", "eth")}
    for i in ("btc", "eth"):
        float(first[i])                                   # a number, not "-"
        assert int(cell(i, "fills")) >= 2 and "yes" in cell(i, "running")
    # live: the spread cells change while the page is open (the market moves every second)
    wait_for(lambda: any(cell(i, "spread") != first[i] for i in ("btc", "eth")), timeout=20,
             interval=0.3, what="a spread cell to change")
    wait_for(lambda: browser.execute_script(
        "return [...document.querySelectorAll('#charts img')].every(i => i.complete && i.naturalWidth > 0)"),
        timeout=15, what="the charts")
    browser.save_screenshot(str(SCREENSHOTS / "fleet-page.png"))

    _click_confirmed(browser, "pause-btc")               # no token typed
    wait_for(lambda: "refused" in _text(browser, "#msg"), timeout=10,
             what="the refusal")
    time.sleep(1.5)
    assert rows(fleet)["btc"]["mode"] == "run" and rows(fleet)["btc"]["paused"] is None
    browser.save_screenshot(str(SCREENSHOTS / "fleet-page-refused.png"))

    browser.find_element(By.ID, "token").send_keys(fleet["token"])
    _click_confirmed(browser, "pause-btc")
    wait_for(lambda: rows(fleet)["btc"]["paused"] == "paused by the operator", timeout=10,
             what="btc paused")
    wait_for(lambda: "paused by the operator" in cell("btc", "state"), timeout=10,
             what="the page to show the pause")
    entries = rows(fleet)["btc"]["entries"]
    wait_for(lambda: rows(fleet)["btc"]["state"] == "FLAT", timeout=60, interval=0.5,
             what="btc's open trade to exit by its own rules")
    time.sleep(3)                      # paused: no new entry however the market moves
    assert rows(fleet)["btc"]["entries"] == entries
    browser.save_screenshot(str(SCREENSHOTS / "fleet-page-paused.png"))
    _click_confirmed(browser, "resume-btc")
    wait_for(lambda: rows(fleet)["btc"]["paused"] is None, timeout=10, what="btc resumed")


def test_sigkill_is_followed_by_a_restart_that_reconciles(fleet):
    before = rows(fleet)["btc"]
    os.kill(before["pid"], signal.SIGKILL)
    wait_for(lambda: (r := rows(fleet)["btc"])["running"] and r["pid"] != before["pid"],
             timeout=60, interval=0.5, what="btc restarted by the supervisor")
    after = rows(fleet)["btc"]
    assert after["start"]["action"] in ("resume", "recover"), after["start"]
    assert "state" in after["start"]["message"] or "in flight" in after["start"]["message"]
    assert after["state"] != "HALTED" and after["restarts_seen"] >= 1
    closed = after["trades_closed"]
    wait_for(lambda: rows(fleet)["btc"]["trades_closed"] > closed, timeout=90, interval=0.5,
             what="btc trading again after the restart")
    log = (fleet["run"] / "logs" / "btc.log").read_text()
    assert "[STATE] state matches the exchange" in log or "was in flight" in log


def test_flatten_closes_the_open_trade_then_pauses(fleet):
    # one read gives both: a second read could come after the trade's own exit (state FLAT,
    # trade None), which the fresh-clone CI met
    def holding():
        r = rows(fleet)["btc"]
        return r["trade"] if r["state"] == "HEDGED" else None
    trade = wait_for(holding, timeout=60, interval=0.2, what="btc holding a trade")["trade_id"]
    flattened = _fleet("flatten", "btc", config=fleet["config"])
    assert flattened.returncode == 0, flattened.stderr
    wait_for(lambda: (r := rows(fleet)["btc"])["state"] == "FLAT"
             and r["paused"] == "flattened by the operator", timeout=30, interval=0.3,
             what="btc flat and paused")
    log = (fleet["run"] / "logs" / "btc.log").read_text()
    assert f"[EXIT] {trade} " in log                 # by its exit path (flatten, or its own rule)
    entries = rows(fleet)["btc"]["entries"]
    time.sleep(3)
    assert rows(fleet)["btc"]["entries"] == entries and rows(fleet)["btc"]["state"] == "FLAT"
    assert _fleet("resume", "btc", config=fleet["config"]).returncode == 0


def test_a_halted_instance_stays_halted(fleet):
    paused = _fleet("pause", "eth", config=fleet["config"])
    assert paused.returncode == 0, paused.stderr
    wait_for(lambda: (r := rows(fleet)["eth"])["paused"] and r["state"] == "FLAT",
             timeout=60, interval=0.5, what="eth paused and flat")
    pid = rows(fleet)["eth"]["pid"]
    # a COIN-M position change outside the bot: its own hedge no longer matches -> HALTED
    client = CoinmClient(BinanceHttp(fleet["sim_rest"], fleet["key"], fleet["secret"]))
    client.new_order(OrderRequest(COINM, "ETHUSD_PERP", BUY, "MARKET", Decimal(3), "outside-1"))
    wait_for(lambda: rows(fleet)["eth"]["state"] == "HALTED", timeout=40, interval=0.5,
             what="eth halted")
    eth = rows(fleet)["eth"]
    assert "outside the bot" in eth["halt_reason"] and eth["error"] == eth["halt_reason"]
    time.sleep(3)
    eth = rows(fleet)["eth"]
    assert eth["state"] == "HALTED" and eth["pid"] == pid and eth["running"]


def test_the_page_says_why_an_instance_halted(fleet, browser):
    browser.get(fleet["url"])
    wait_for(lambda: "outside the bot" in (_text(browser, "#row-eth td.error") or ""),
             timeout=15, what="the page to say why eth halted")
    assert "HALTED" in _text(browser, "#row-eth td.state")
    wait_for(lambda: browser.execute_script(
        "return [...document.querySelectorAll('#charts img')].every(i => i.complete && i.naturalWidth > 0)"),
        timeout=15, what="the charts")
    browser.save_screenshot(str(SCREENSHOTS / "fleet-page-halted.png"))


def test_stop_pauses_without_unwinding(fleet):
    states = {i: json.loads((fleet["run"] / i / "state.json").read_text())
              for i in ("btc", "eth")}
    stopped = _fleet("stop", config=fleet["config"])
    assert stopped.returncode == 0 and "open trades stay open" in stopped.stdout
    assert not (fleet["run"] / "supervisord.pid").exists()
    btc_log = (fleet["run"] / "logs" / "btc.log").read_text()
    assert "FLATTEN_ON_EXIT closes" not in btc_log
    after = json.loads((fleet["run"] / "eth" / "state.json").read_text())
    assert after["engine_state"] == states["eth"]["engine_state"] == "HALTED"
