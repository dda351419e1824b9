"""Issue 10, items 2-4, with the real program (`python -m app.main`) on the local exchange:

2. a misdirected STATE_PATH never deletes or overwrites a file the bot did not write; the state
   file on the ledger, or either path a directory, is a settings error (exit 2);
3. an unwritable ledger stops the start (exit 2); a ledger or state file that fails during the
   run stops new entries, keeps the rows, and at exit puts them in a fallback file (exit 4);
4. a second bot on the same state file or ledger exits 2 naming the first one's PID; a ledger
   that does not match the exchange at the end exits 5 with a line nobody can miss.

Failures during the run are real, not simulated: the file is replaced by a directory, which
refuses writes to root as well (the tests run as root, where chmod blocks nothing).
"""
from __future__ import annotations

import os
import re
import signal
from decimal import Decimal

import pytest

from arbitrage.accounting.ledger import check_invariant
from arbitrage.models import BUY, SPOT as SPOT_MARKET, OrderRequest
from arbitrage.sim import LocalExchange
from arbitrage.persistence.state import StateStore
from arbitrage.accounting.tradelog import read_rows
from tests.conftest import wait_for
from tests.harness import SPOT
from tests.test_app_watch import run_bot
from tests.test_restart import Scenario

QUIET = ("--enter-bps", "500", "--stop-bps", "600")   # after EASY: a run that never enters
NEW_ENTRY = re.compile(r"\[ENTRY\] T\d+ (buy_spot|sell_spot)")


@pytest.fixture
def sim():
    ex = LocalExchange(source="synthetic", seed=3).start()
    yield ex
    ex.stop()


LEDGER = ("ts_ms,ts_iso,event,trade_id,side,Q_btc,N_cntr,spot_vwap,perp_vwap,spot_orderId,"
          "cm_orderId,fee_btc_spot,fee_btc_cm,income_btc,delta_btc,fee_usdt_spot,delta_usdt,"
          "net_btc\n1,1970-01-01T00:00:00.001Z,open,T1,BUY_SPOT_SELL_PERP,0.1,-60,60000,60010,1,"
          "2,,0.0001,,0.0999,0.06,-6000.06,\n")


# -- 2. a misdirected STATE_PATH ------------------------------------------------------------------
def test_state_path_on_the_ledger_is_a_settings_error_and_the_ledger_survives(tmp_path):
    ledger = tmp_path / "trades_log.csv"
    ledger.write_text(LEDGER)
    # the bot's own local exchange: the case where a state file "about the previous run's
    # exchange" used to be removed
    result = run_bot(["--venue", "sim", "--state-path", str(ledger), "--run-seconds", "25"],
                     TRADES_LOG=str(ledger))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(r"error: STATE_PATH: .* is the same file as TRADES_LOG", result.stderr)
    assert ledger.read_text() == LEDGER


def test_state_path_on_any_other_file_leaves_it_untouched(tmp_path):
    other = tmp_path / "last_month.csv"
    other.write_text(LEDGER)
    result = run_bot(["--venue", "sim", "--state-path", str(other), "--run-seconds", "25"])
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(r"error: STATE_PATH: .*last_month.csv is not a state file of this bot",
                     result.stderr), result.stderr
    assert other.read_text() == LEDGER


def test_a_state_file_of_the_previous_demo_is_still_replaced(tmp_path):
    state = tmp_path / "state.json"
    first = run_bot(["--venue", "sim", "--run-seconds", "2"], STATE_PATH=str(state))
    assert first.returncode == 0, first.stderr
    assert StateStore(state).load() is not None
    second = run_bot(["--venue", "sim", "--run-seconds", "2"], STATE_PATH=str(state))
    assert second.returncode == 0, second.stderr
    assert "(about the previous run's exchange) removed" in second.stderr


@pytest.mark.parametrize("setting", ["STATE_PATH", "TRADES_LOG"])
def test_a_directory_as_state_file_or_ledger_is_a_settings_error(tmp_path, setting):
    folder = tmp_path / "a_folder"
    folder.mkdir()
    result = run_bot(["--venue", "sim", "--run-seconds", "3"], **{setting: str(folder)})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "[NET]" not in result.stderr
    assert re.search(rf"error: {setting}: .*a_folder' is a directory", result.stderr), result.stderr


# -- 3. an unwritable ledger ----------------------------------------------------------------------
def test_a_ledger_in_a_missing_folder_stops_the_start(tmp_path):
    result = run_bot(["--venue", "sim", "--run-seconds", "5"],
                     TRADES_LOG=str(tmp_path / "nope" / "x" / "t.csv"))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(r"error: TRADES_LOG: the folder .*nope/x' does not exist", result.stderr)
    assert not (tmp_path / "nope").exists()


def stop(bot) -> tuple[int, str, str]:
    """SIGTERM and the outcome. What must be seen at the end is asserted on stdout: the harness
    reads stderr from two places at once and may miss its last lines."""
    bot.proc.send_signal(signal.SIGTERM)
    code, out, err = bot.finish(timeout=90)
    assert "Traceback" not in err, err
    return code, out, err


def entries_after(bot, pattern: str) -> list[str]:
    lines = list(bot.err)
    at = next(i for i, line in enumerate(lines) if re.search(pattern, line))
    return [line for line in lines[at + 1:] if NEW_ENTRY.search(line)]


def test_a_ledger_that_fails_during_the_run_stops_entries_and_keeps_every_row(sim, tmp_path):
    s = Scenario(sim, tmp_path)
    state_dir = tmp_path / "state"
    s.env["STATE_PATH"] = str(state_dir / "state.json")
    ledger = tmp_path / "trades_log.csv"
    bot = s.bot("--flatten-on-exit")
    wait_for(lambda: ledger.exists() and len(ledger.read_text().splitlines()) >= 2,
             timeout=120, what="a first ledger row")
    moved = tmp_path / "trades_log.before.csv"
    os.rename(ledger, moved)       # the rows so far stay in their file ...
    ledger.mkdir()                 # ... and the ledger's path takes no more writes, root or not
    wait_for(lambda: bot.saw(r"trades log .* write failed"), timeout=120,
             what="the next row to fail")
    wait_for(lambda: bot.saw(r"\[SKIP\] ledger cannot be written"), timeout=120,
             what="an entry refused because of the ledger")
    code, out, err = stop(bot)
    assert code == 4, err
    assert entries_after(bot, r"trades log .* write failed") == []
    fallback = list(state_dir.glob("trades_log.unsaved-*.csv"))
    assert len(fallback) == 1, list(state_dir.iterdir())
    assert re.search(rf"NOT PERSISTED: \d+ ledger row\(s\) could not be written to .*: written "
                     rf"to {re.escape(str(fallback[0]))}", out), out
    kept = read_rows(fallback[0])
    assert kept and kept[-1].event == "close"
    # every execution of the run is in exactly one of the two files: the ledger is exact
    inv = check_invariant(read_rows(moved) + kept, s.start, s.balances())
    assert inv.ok, inv.describe()


def test_a_state_file_that_fails_during_the_run_stops_entries_and_is_kept(sim, tmp_path):
    s = Scenario(sim, tmp_path)
    ledger_dir = tmp_path / "ledger"
    ledger_dir.mkdir()
    s.env["TRADES_LOG"] = str(ledger_dir / "trades_log.csv")
    state = tmp_path / "state.json"
    bot = s.bot("--flatten-on-exit")
    wait_for(lambda: bot.saw(r"\[ENTRY\] T\d+ hedged"), timeout=120, what="a first trade")
    os.replace(state, tmp_path / "state.before.json")
    state.mkdir()                  # the atomic rename onto it fails from now on
    wait_for(lambda: bot.saw(r"\[STATE\] could not save"), timeout=120,
             what="the next save to fail")
    wait_for(lambda: bot.saw(r"\[SKIP\] state file cannot be saved"), timeout=120,
             what="an entry refused because of the state file")
    code, out, err = stop(bot)
    assert code == 4, err
    assert entries_after(bot, r"\[STATE\] could not save") == []
    fallback = list(ledger_dir.glob("state.unsaved-*.json"))
    assert len(fallback) == 1, list(ledger_dir.iterdir())
    assert re.search(rf"NOT PERSISTED: the engine state could not be saved to .*: written to "
                     rf"{re.escape(str(fallback[0]))}", out), out
    snap = StateStore(fallback[0]).load()
    assert snap.engine_state == "FLAT" and snap.trade is None


# -- 4. one bot per file; a mismatch is not success ------------------------------------------------
def test_a_second_bot_on_the_same_files_exits_2_naming_the_first(sim, tmp_path):
    s = Scenario(sim, tmp_path)
    first = s.bot(*QUIET)
    wait_for(lambda: first.saw(r"\[STATUS\]"), timeout=60, what="the first bot running")
    pid = first.proc.pid
    args = ["--venue", "sim", "--sim-url", sim.rest_url, "--run-seconds", "20", *QUIET]
    same = run_bot(args, **s.env)
    assert same.returncode == 2, same.stderr
    assert re.search(rf"error: STATE_PATH: .* is in use by another bot, PID {pid}\b", same.stderr)
    ledger_only = run_bot(args, TRADES_LOG=s.env["TRADES_LOG"],
                          STATE_PATH=str(tmp_path / "other_state.json"))
    assert ledger_only.returncode == 2, ledger_only.stderr
    assert re.search(rf"error: TRADES_LOG: .* is in use by another bot, PID {pid}\b",
                     ledger_only.stderr)
    assert "Traceback" not in same.stderr + ledger_only.stderr
    assert first.proc.poll() is None                       # the first one trades on
    s.kill(first)                                          # SIGKILL: the kernel frees the lock
    after = run_bot(["--venue", "sim", "--sim-url", sim.rest_url, "--run-seconds", "2", *QUIET],
                    **s.env)
    assert after.returncode == 0, after.stderr


def test_a_ledger_that_does_not_match_the_exchange_exits_5(sim, tmp_path):
    s = Scenario(sim, tmp_path)
    bot = s.bot(*QUIET)
    wait_for(lambda: bot.saw(r"\[STATUS\]"), timeout=60, what="the bot running")
    # someone else trades on the same account, in a symbol the bot does not trade: USDT moves
    # that no ledger row describes (an execution in the bot's own symbols would be swept from
    # myTrades and booked as an `outside` row, tests/test_adl_exit.py)
    s.spot.new_order(OrderRequest(SPOT_MARKET, "ETHUSDT", BUY, "MARKET", Decimal("0.1"),
                                  "outsider-1"))
    bot.proc.send_signal(signal.SIGTERM)
    code, out, err = bot.finish(timeout=90)
    assert code == 5, err
    assert "MISMATCH" in out
    assert re.search(r"!!! LEDGER MISMATCH: .*\(exit code 5\)", out.strip().splitlines()[-1])
