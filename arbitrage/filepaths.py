"""STATE_PATH and TRADES_LOG as settings: what makes them unusable before anything starts.

The two files hold everything the bot knows about money it moved; a path that points at the wrong
thing (the other file, a directory, a folder that does not exist) must stop the program with a
settings error (exit 2), not surface later as a retried "network" error or as a deleted file.
"""
from __future__ import annotations

import os


def path_problems(state_path: str | None, trades_log: str | None) -> list[str]:
    """One line per problem (empty when both paths are usable as settings)."""
    problems: list[str] = []
    for name, path in (("STATE_PATH", state_path), ("TRADES_LOG", trades_log)):
        if not path:
            continue
        if os.path.isdir(path):
            problems.append(f"{name}: {path!r} is a directory (expected a file path)")
        parent = os.path.dirname(os.path.abspath(path))
        if name == "TRADES_LOG" and not os.path.isdir(parent):
            # the state folder is created (its default is state/), the ledger's never: a typo
            # in it must not send every row of the run to memory
            problems.append(f"{name}: the folder {parent!r} does not exist (expected a file in "
                            f"an existing folder)")
    if state_path and trades_log and _same_file(state_path, trades_log):
        problems.append(f"STATE_PATH: {state_path!r} is the same file as TRADES_LOG "
                        f"{trades_log!r} (expected two different files: the engine state "
                        f"would overwrite the ledger)")
    return problems


def _same_file(a: str, b: str) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)              # hard links to one file
    except OSError:
        return False                               # one of them does not exist yet
