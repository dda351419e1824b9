"""The bot on a replayed recording (`--sim-source replay`): files it cannot replay stop it before
start with the reason (exit 2), and the end of the recording stops it cleanly, once, as the end of
RUN_SECONDS would (summary, exit 0) — in-process and against a local exchange of its own.

The recordings are written by the test (tests/capture_maker.py); each lasts a minute of market
replayed at 5x, so the bot is long connected before it ends, and the tests wait for the bot to
exit, never for a fixed time."""
from __future__ import annotations

import re
import subprocess
import sys

from arbitrage.accounting.ledger import iso_utc
from tests.capture_maker import make_captures, split_capture
from tests.conftest import REPO
from tests.test_app_watch import run_bot

SPEED = "5"


def ended_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "[REPLAY] recording ended" in line]


def test_replay_files_without_a_snapshot_stop_before_start_with_the_reason(tmp_path):
    spot, _ = make_captures(tmp_path, seconds=5)
    day1, day2 = tmp_path / "day1.gz", tmp_path / "day2.gz"
    split_capture(spot, spot.diff_ids[20], day1, day2)
    result = run_bot(["--venue", "sim", "--sim-source", "replay", "--sim-replay", str(day2),
                      "--run-seconds", "5"])
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: SIM_REPLAY: no depth snapshot for BTCUSDT in day2.gz (each replayed "
                      "symbol needs one REST depth snapshot line; a file without one can only "
                      "follow a file that has it)"], result.stderr


def test_the_end_of_the_recording_stops_the_bot_as_run_seconds_would(tmp_path):
    spot, cm = make_captures(tmp_path, seconds=60)      # a steady +5 bps basis
    # it enters at once and holds (no exit before the end); FLATTEN_ON_EXIT shows that the end
    # runs the whole wind-down of a stop. No RUN_SECONDS: only the end of the recording can stop
    # it (before: a timeout here)
    result = run_bot(["--venue", "sim", "--sim-source", "replay", "--sim-speed", SPEED,
                      "--sim-replay", f"{spot.path},{cm.path}", "--status-interval", "2",
                      "--enter-bps", "1", "--exit-bps", "0", "--stop-bps", "50",
                      "--max-hold-sec", "1000", "--flatten-on-exit"], timeout=120)
    code, out, err = result.returncode, result.stdout, result.stderr
    assert code == 0, err
    assert "Traceback" not in err
    end_ms = max(spot.last_event_ms, cm.last_event_ms)
    assert [line.split(" INFO ", 1)[-1] for line in ended_lines(err)] == [
        f"[REPLAY] recording ended at {iso_utc(end_ms)}: stopping"]
    assert err.index("[REPLAY] recording ended") < err.index("FLATTEN_ON_EXIT closes the open trade")
    assert "spot-cm-arb summary" in out and "state: FLAT" in out
    assert "trades: 1 entries, 1 closed" in out and re.search(r"T\d+ +buy_spot .* shutdown", out)
    assert out.count("difference 0.00000000 OK") == 2, out       # the ledger checked at the end
    diffs = int(re.search(r"(\d+) depth diffs", out).group(1))
    assert diffs > 300, out                         # it watched the recording, not just its end
    # the end is not taken for trouble: no resync, no "no data" while the recording played
    assert "0 resyncs (spot 0, perp 0)" in out and "no data" not in err


def test_a_standalone_replay_ends_the_bot_connected_to_it(tmp_path):
    spot, cm = make_captures(tmp_path, seconds=60)
    sim = subprocess.Popen([sys.executable, "-m", "arbitrage.sim", "--replay", str(spot.path),
                            str(cm.path), "--speed", SPEED], cwd=REPO, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    try:
        rest = next(line.split()[1] for line in sim.stdout if line.startswith("REST"))
        result = run_bot(["--venue", "sim", "--sim-url", rest, "--status-interval", "2"], timeout=120)
        code, out, err = result.returncode, result.stdout, result.stderr
        assert code == 0, err
        end = iso_utc(max(spot.last_event_ms, cm.last_event_ms))
        assert [line.split(" INFO ", 1)[-1] for line in ended_lines(err)] == [
            f"[REPLAY] recording ended at {end}: stopping"]
        assert "spot-cm-arb summary" in out
        # the exchange itself says so once, and stays up for whoever is still connected
        assert next(line for line in sim.stdout if "[REPLAY]" in line).startswith(
            f"[REPLAY] recording ended at {end}: streams are silent")
        assert sim.poll() is None
    finally:
        sim.terminate()
        sim.wait(timeout=10)
