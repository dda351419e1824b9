"""STATE_PATH and TRADES_LOG as settings (issue 10 item 2): the two files must be two files,
neither a directory, and the ledger's folder must exist (the state's is created)."""
from __future__ import annotations

import os

from arbitrage.config import SettingsError, load_settings
from arbitrage.filepaths import path_problems
from arbitrage.strategy.risk import persistence_blocks


def test_usable_paths_have_no_problem(tmp_path):
    assert path_problems(str(tmp_path / "new" / "state.json"), str(tmp_path / "t.csv")) == []


def test_the_same_file_under_two_names_is_refused(tmp_path):
    ledger = tmp_path / "t.csv"
    ledger.write_text("x")
    os.link(ledger, tmp_path / "hard.csv")
    for other in (str(ledger), str(tmp_path / "." / "t.csv"), str(tmp_path / "hard.csv")):
        problems = path_problems(other, str(ledger))
        assert len(problems) == 1 and problems[0].startswith("STATE_PATH: ") \
            and "same file as TRADES_LOG" in problems[0], problems


def test_directories_and_a_missing_ledger_folder_are_named(tmp_path):
    problems = path_problems(str(tmp_path), str(tmp_path / "nope" / "t.csv"))
    assert any(p.startswith("STATE_PATH: ") and "is a directory" in p for p in problems)
    assert any(p.startswith("TRADES_LOG: ") and "does not exist" in p for p in problems)


def test_load_settings_reports_them_with_the_other_problems(tmp_path):
    try:
        load_settings(["--state-path", str(tmp_path), "--enter-bps", "x"], {}, dotenv_path=None)
    except SettingsError as exc:
        assert any(p.startswith("STATE_PATH: ") for p in exc.problems)
        assert any(p.startswith("ENTER_BPS: ") for p in exc.problems)
    else:
        raise AssertionError("no SettingsError")


def test_entries_are_blocked_while_either_file_cannot_be_written():
    assert persistence_blocks(None, None) == []
    assert persistence_blocks("OSError: [Errno 28] No space left on device", None) == [
        "ledger cannot be written (OSError: [Errno 28] No space left on device)"]
    assert persistence_blocks(None, "IsADirectoryError: x") == [
        "state file cannot be saved (IsADirectoryError: x)"]
