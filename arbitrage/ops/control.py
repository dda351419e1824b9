"""The control channel: a file holding the operator's wish for one instance, polled by it.

The file is a desired state, not a queue of commands: `run`, `pause` (no new entries; an open trade
is still managed and exits by its own rules) or `flatten` (close the open trade by its exit path,
then stay paused). Because it is a state, it survives a restart of the instance (a paused instance
restarted by the supervisor stays paused) and a command sent twice is harmless. `seq` grows with
every command, so the instance can acknowledge which one it has applied (status `control_seq`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from arbitrage.ops.files import read_json, write_json

RUN, PAUSE, FLATTEN = "run", "pause", "flatten"
MODES = (RUN, PAUSE, FLATTEN)
COMMANDS = {"pause": PAUSE, "resume": RUN, "flatten": FLATTEN}


@dataclass(frozen=True)
class Control:
    mode: str = RUN
    seq: int = 0
    at_ms: int = 0


def read_control(path: Path) -> Control:
    data = read_json(path) or {}
    mode = data.get("mode")
    seq = data.get("seq")
    if mode not in MODES or not isinstance(seq, int):
        return Control()
    return Control(mode, seq, int(data.get("at_ms") or 0))


def send_command(path: Path, command: str) -> Control:
    """pause / resume / flatten -> the new desired state, written for the instance to pick up."""
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r} (expected one of {', '.join(COMMANDS)})")
    control = Control(COMMANDS[command], read_control(path).seq + 1, int(time.time() * 1000))
    write_json(path, {"mode": control.mode, "seq": control.seq, "at_ms": control.at_ms})
    return control
