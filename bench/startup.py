"""Start-up time and memory, measured from outside on the real command line.

- Start-up: seconds from spawning `python -m app.main --venue sim` (interpreter start, imports,
  the built-in local exchange, exchangeInfo, time sync, fees, accounts, reconciliation, both
  WebSockets, both snapshots) to the bot's own `[READY] trading allowed` line, seen on its stderr.
- Memory: the peak resident set size of a one-minute demo run (`make demo-scalp`'s command), from the
  kernel's accounting of that child process (`wait4` ru_maxrss), so nothing inside the bot has
  to measure itself.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
READY = "[READY] trading allowed"


@dataclass
class Run:
    ready_s: float | None         # spawn -> [READY] line
    peak_rss_mb: float
    exit_code: int
    seconds: float


def run_bot(run_seconds: float, stop_when_ready: bool = False, cpus: set[int] | None = None) -> Run:
    """One `python -m app.main --venue sim` run in a scratch directory (its state file and ledger
    start empty, as on a fresh machine)."""
    work = Path(tempfile.mkdtemp(prefix="bench-run-"))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SPOT_", "DAPI_", "PAIR", "DRY_RUN", "STATE_PATH", "TRADES_LOG"))}
    env.update(TRADES_LOG=str(work / "trades_log.csv"), STATE_PATH=str(work / "state.json"),
               PYTHONUNBUFFERED="1")
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "app.main", "--venue", "sim", "--run-seconds",
                             f"{run_seconds:g}"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(proc.pid, cpus)     # threads created from here on inherit it
    ready: list[float] = []

    def watch() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if not ready and READY in line:
                ready.append(time.monotonic() - t0)
                if stop_when_ready:
                    proc.send_signal(signal.SIGTERM)
        proc.stderr.close()

    reader = threading.Thread(target=watch, daemon=True)
    reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join(timeout=10)
    return Run(ready[0] if ready else None, usage.ru_maxrss / 1024, proc.returncode,
               time.monotonic() - t0)


def startup(runs: int = 3) -> list[float | None]:
    return [run_bot(30, stop_when_ready=True).ready_s for _ in range(runs)]
