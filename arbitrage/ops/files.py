"""Small JSON files shared between processes: written whole (temp file + rename), read leniently.

No fsync: a status or control file lost in a power cut is rewritten within a second (status) or
re-issued by the operator (control); what must survive a crash is the engine state file, which
has its own fsynced writer (arbitrage/persistence/state.py)."""
from __future__ import annotations

import json
import os
from pathlib import Path


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":"), default=str))
    os.replace(tmp, path)         # readers see the old file or the new one, never half of one


def read_json(path: Path) -> dict | None:
    """The file's object, or None when it is absent or not (yet) a JSON object."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
