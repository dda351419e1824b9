"""Issue 10 item 9: a misspelt setting (`ENTRY_BPS=40`) in .env or the environment was silently
ignored, and the bot traded on the default. It now draws a warning naming the nearest setting;
ordinary environment variables (PATH, HTTP_PROXY, …) never do. `--help` names the real command."""
from __future__ import annotations

import os

import pytest

from app.main import main
from arbitrage.config import SPECS, load_settings
from arbitrage.setting_names import misspelt
from tests.test_logs import restore_logging  # noqa: F401  (autouse: logging put back)

KNOWN = [spec.env for spec in SPECS]


def test_names_close_to_a_setting_get_the_nearest_one():
    assert misspelt(["ENTRY_BPS", "DRYRUN", "SPOT_SECRETS", "enter_bps"], KNOWN, "env") == [
        "DRYRUN (in env) is not a setting and is ignored: did you mean DRY_RUN?",
        "ENTRY_BPS (in env) is not a setting and is ignored: did you mean ENTER_BPS?",
        "SPOT_SECRETS (in env) is not a setting and is ignored: did you mean SPOT_SECRET?",
        "enter_bps (in env) is not a setting and is ignored: did you mean ENTER_BPS?",
    ]


def test_settings_themselves_and_everyday_variables_draw_nothing():
    everyday = ["PATH", "HOME", "USER", "SHELL", "LANG", "TERM", "PWD", "TMPDIR", "PAGER",
                "VIRTUAL_ENV", "VENV", "HTTP_PROXY", "https_proxy", "PYTHONPATH", "STATE",
                "VERBOSE", "SUDO_USER", "LC_ALL", "CI", "SHARED_DATA", "MAKEFLAGS", "path"]
    assert misspelt(everyday + KNOWN, KNOWN, "env") == []


def test_the_program_warns_about_env_and_dotenv_typos_without_their_values(
        tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("MIN_V_USDT=1\nSPOT_SECRETS=hunter2hunter2hunter2\n")
    (tmp_path / ".env").chmod(0o600)
    for name in [n for n in os.environ if n.upper() in KNOWN]:
        monkeypatch.delenv(name)                          # this machine's settings stay out
    monkeypatch.setenv("ENTRY_BPS", "40")
    assert main(["--print-config"]) == 0
    captured = capsys.readouterr()
    err = captured.err
    assert "ENTRY_BPS (in the environment) is not a setting and is ignored: did you mean " \
           "ENTER_BPS?" in err
    assert "MIN_V_USDT (in .env) is not a setting and is ignored: did you mean MIN_V_USD?" in err
    assert "SPOT_SECRETS (in .env) is not a setting and is ignored: did you mean SPOT_SECRET?" in err
    assert "hunter2" not in err + captured.out and "PATH" not in err
    assert "ENTER_BPS = 6 (default)" in captured.out      # the typo changed nothing


def test_help_names_the_command_to_run(capsys):
    with pytest.raises(SystemExit) as exit_:
        load_settings(["--help"], {}, dotenv_path=None)
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage: python -m app.main ")
