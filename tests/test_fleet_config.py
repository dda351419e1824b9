"""The fleet file: every instance setting through the bot's own parser, all problems at once with
the instance id in front, and the rules between instances."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from app.fleet import NO_RESTART_CODES, main as fleet_main, supervisord_conf
from app.fleet_config import FleetError, budget_problems, instance_environ, load_fleet

TWO = """
run_dir = "{run}"
enter_bps = 8
[[instances]]
id = "btc"
spot = "BTCUSDT"
coinm = "BTCUSD_PERP"
size = 0.1
[[instances]]
id = "eth"
spot = "ETHUSDT"
coinm = "ETHUSD_PERP"
size = 2
enter_bps = 9
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(text.replace("{run}", str(tmp_path / "run")))
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(FleetError) as err:
        load_fleet(write(tmp_path, text), environ={}, dotenv_path=None)
    return err.value.problems


def test_two_instances_each_with_its_settings_state_and_ledger(tmp_path):
    fleet = load_fleet(write(tmp_path, TWO), environ={}, dotenv_path=None)
    btc, eth = fleet.instances
    assert (btc.id, btc.settings.spot_symbol, btc.settings.coinm_symbol) == ("btc", "BTCUSDT", "BTCUSD_PERP")
    assert btc.settings.max_q_base_frontier == Decimal("0.1") and eth.settings.max_q_base_frontier == 2
    assert btc.settings.enter_bps == 8 and eth.settings.enter_bps == 9      # instance beats root
    assert btc.settings.state_path == str(tmp_path / "run" / "btc" / "state.json")
    assert eth.settings.trades_log == str(tmp_path / "run" / "eth" / "trades_log.csv")
    assert btc.log == tmp_path / "run" / "logs" / "btc.log"
    assert btc.status != eth.status and btc.control != eth.control


def test_every_problem_of_every_instance_at_once_with_its_id(tmp_path):
    text = TWO.replace("enter_bps = 9", "enter_bps = \"abc\"\nstop_bps = 1\nwhat = 3") \
              .replace('coinm = "BTCUSD_PERP"', 'coinm = "BTCUSD_PERP"\nexecution_mode = "fast"')
    got = problems(tmp_path, text)
    assert ("instance btc: EXECUTION_MODE: 'fast' is not allowed (expected one of taker, maker, chase) "
            "[from fleet.toml]") in got
    assert ("instance eth: ENTER_BPS: 'abc' is not a number (expected a decimal number > 0, e.g. 6) "
            "[from fleet.toml]") in got
    assert any(p.startswith("instance eth: WHAT: unknown setting") for p in got)
    assert len(got) == 3


def test_two_instances_may_not_trade_the_same_symbol(tmp_path):
    got = problems(tmp_path, TWO.replace('id = "eth"\nspot = "ETHUSDT"\ncoinm = "ETHUSD_PERP"',
                                         'id = "btc2"\nspot = "BTCUSDT"\ncoinm = "BTCUSD_PERP"'))
    assert "instance btc2: SPOT_SYMBOL: 'BTCUSDT' is already used by instance btc (expected one " \
           "instance per symbol on a venue)" in got
    assert any(p.startswith("instance btc2: COINM_SYMBOL: 'BTCUSD_PERP' is already used") for p in got)


def test_ids_files_keys_and_flatten_on_exit(tmp_path):
    got = problems(tmp_path, TWO.replace('id = "eth"', 'id = "btc"\ntrades_log = "x.csv"')
                   .replace("enter_bps = 8", "enter_bps = 8\nspot_secret = \"s3cr3t\"\n"
                            "trades_log = \"shared.csv\"\nflatten_on_exit = true"))
    text = "\n".join(got)
    assert "s3cr3t" not in text
    assert "fleet root: SPOT_SECRET: not allowed in the fleet file" in text
    assert "fleet root: TRADES_LOG: set per instance, not at the root" in text
    assert "instance btc: ID: 'btc' is already used by instance btc (expected unique ids)" in text
    assert "instance btc: FLATTEN_ON_EXIT: true is not allowed in a fleet" in text
    assert "instance #1" not in text


def test_metrics_ports_are_ports_and_not_shared(tmp_path):
    got = problems(tmp_path, TWO.replace("size = 0.1", "size = 0.1\nmetrics_port = 9100")
                   .replace("size = 2", "size = 2\nmetrics_port = 9100"))
    assert got == ["instance eth: METRICS_PORT: 9100 is already used by instance btc (expected one "
                   "port per instance)"]
    got = problems(tmp_path, TWO.replace("size = 2", "size = 2\nmetrics_port = \"x\""))
    assert got == ["instance eth: METRICS_PORT: 'x' is not a port (expected 1-65535, or leave it "
                   "out for none)"]


def test_without_instances_it_is_one_bot(tmp_path):
    fleet = load_fleet(write(tmp_path, 'run_dir = "{run}"\npair = "ETH"\n'), environ={},
                       dotenv_path=None)
    (only,) = fleet.instances
    assert only.id == "main" and only.settings.spot_symbol == "ETHUSDT"


def test_an_account_has_its_own_keys_from_the_environment():
    env = {"SPOT_KEY": "a", "SPOT_SECRET": "b", "DAPI_KEY": "c", "DAPI_SECRET": "d",
           "SUB_SPOT_KEY": "A", "SUB_SPOT_SECRET": "B", "SUB_DAPI_KEY": "C", "SUB_DAPI_SECRET": "D"}
    sub = instance_environ(env, {"ENTER_BPS": "7"}, "sub")
    assert (sub["SPOT_KEY"], sub["DAPI_SECRET"], sub["ENTER_BPS"]) == ("A", "D", "7")
    assert instance_environ(env, {}, "default")["SPOT_KEY"] == "a"
    assert "SPOT_KEY" not in instance_environ({"SPOT_KEY": "a"}, {}, "other")


def test_a_shared_budget_is_checked_at_todays_prices(tmp_path):
    fleet = load_fleet(write(tmp_path, "budget_usd = 10000\n" + TWO), environ={}, dotenv_path=None)
    prices = {"BTCUSDT": Decimal("60000"), "ETHUSDT": Decimal("2500")}
    # 0.1 BTC * 60000 + 2 ETH * 2500 = 11000 > 10000 (MAX_V_USD_FRONTIER 30000 caps neither)
    (line,) = budget_problems(fleet, prices)
    assert line == ("BUDGET_USD: account default: the instances' largest trades add up to $11,000 "
                    "(btc $6,000, eth $5,000) but the budget is $10,000 (expected smaller SIZE / "
                    "MAX_V_USD_FRONTIER, or a larger budget)")
    assert budget_problems(fleet, {**prices, "BTCUSDT": Decimal("40000")}) == []
    assert budget_problems(fleet, {"BTCUSDT": Decimal(1)}) == [
        "instance eth: BUDGET_USD: no price for ETHUSDT to check the budget against"]
    # the notional cap is the largest trade when it is the smaller one; accounts are separate
    capped = load_fleet(write(tmp_path, "budget_usd = 10000\nmax_v_usd_frontier = 4000\nmin_v_usd = 1000\n"
                              + TWO.replace('id = "eth"', 'id = "eth"\naccount = "sub"')),
                        environ={}, dotenv_path=None)
    assert budget_problems(capped, prices) == []
    tight = load_fleet(write(tmp_path, "max_v_usd_frontier = 4000\nmin_v_usd = 1000\n" + TWO
                             + "[budget_usd]\ndefault = 3000\n"), environ={}, dotenv_path=None)
    assert budget_problems(tight, prices) == [
        "BUDGET_USD: account default: the instances' largest trades add up to $8,000 (btc $4,000, "
        "eth $4,000) but the budget is $3,000 (expected smaller SIZE / MAX_V_USD_FRONTIER, or a "
        "larger budget)"]


def test_fleet_cli_reports_problems_one_line_each(tmp_path, capsys):
    path = write(tmp_path, TWO.replace("size = 2", "size = -1"))
    assert fleet_main(["start", "--config", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(
        "error: instance eth: SIZE (MAX_Q_BASE_FRONTIER): '-1' is negative (expected a decimal number")
    assert err[0].endswith("[from fleet.toml]")
    assert fleet_main(["pause", "doge", "--config", str(write(tmp_path, TWO))]) == 2


def test_supervisord_restarts_a_crash_never_a_deliberate_exit(tmp_path):
    fleet = load_fleet(write(tmp_path, TWO), environ={}, dotenv_path=None)
    conf = supervisord_conf(fleet, tmp_path / "fleet.toml")
    assert NO_RESTART_CODES == "0,2,3,4,5"
    for inst in ("btc", "eth"):
        block = conf.split(f"[program:{inst}]")[1].split("\n\n")[0]
        assert "autorestart=unexpected" in block and "exitcodes=0,2,3,4,5" in block
        assert f"-m app.instance --config {tmp_path / 'fleet.toml'} --id {inst}" in block
        assert "stdout_logfile_maxbytes=10MB" in block and "stdout_logfile_backups=5" in block


def test_instances_of_one_account_share_their_quote_coin_and_say_so(tmp_path):
    # both quote in USDT on the default account: each bot's USDT check would count the other's
    # trades (a false MISMATCH, exit 5, on every stop), so both run with QUOTE_SHARED
    fleet = load_fleet(write(tmp_path, TWO), environ={}, dotenv_path=None)
    for inst in fleet.instances:
        assert inst.settings.quote_shared and inst.overrides["QUOTE_SHARED"] == "true"
        assert instance_environ({}, inst.overrides, inst.account)["QUOTE_SHARED"] == "true"
    apart = TWO.replace('size = 2\n', 'size = 2\naccount = "second"\n')
    fleet = load_fleet(write(tmp_path, apart), environ={}, dotenv_path=None)
    assert [i.settings.quote_shared for i in fleet.instances] == [False, False]
    assert all("QUOTE_SHARED" not in i.overrides for i in fleet.instances)
