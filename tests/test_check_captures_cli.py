"""`python -m app.check_capture` and `make check-captures` where the captures are not: one clear
line naming what is missing and where it was looked for, a non-zero exit, never a traceback."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from app.check_capture import main
from tests.capture_maker import make_captures
from tests.conftest import REPO


def test_check_capture_names_a_missing_file_and_exits_2(tmp_path, capsys):
    spot, _ = make_captures(tmp_path, seconds=2)
    missing = tmp_path / "cm_btcusd_perp_20240809.gz"
    assert main([str(spot.path), str(missing)]) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"error: {missing}: no such file (expected a capture file: <ns> "
                                f"<json> per line, .gz ok)"]
    assert out == ""                                  # nothing was checked, no half report


def test_check_capture_as_a_program_prints_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "app.check_capture", str(tmp_path / "none.gz")],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (f"error: {tmp_path / 'none.gz'}: no such file (expected a "
                                     f"capture file: <ns> <json> per line, .gz ok)")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_check_captures_without_shared_data_is_one_line(tmp_path):
    # a checkout whose ../shared/data does not exist: the Makefile and the code, and a
    # "virtual environment" that is this interpreter, already installed
    checkout = tmp_path / "spot-cm-arb"
    checkout.mkdir()
    for name in ("Makefile", "requirements.txt"):
        shutil.copy(REPO / name, checkout / name)
    for name in ("app", "arbitrage"):
        (checkout / name).symlink_to(REPO / name)
    bin_dir = checkout / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_dir / "python").chmod(0o755)
    (bin_dir / ".installed").touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    result = subprocess.run(["make", "--no-print-directory", "check-captures"], cwd=checkout,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    output = (result.stdout + result.stderr).strip()
    assert "Traceback" not in output
    lines = output.splitlines()
    assert len(lines) == 1, output
    assert "spot_btcusdt_20240808.gz cm_btcusd_perp_20240808.gz not found in " in lines[0]
    assert str(tmp_path / "shared" / "data") in lines[0]          # where it looked
