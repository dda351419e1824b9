"""At exit: what could not be persisted where it belongs goes to a fallback file, never nowhere.

Ledger rows still waiting (their file failed and never came back) are written beside the state
file; a state snapshot that could not be saved is written beside the ledger — two places, so one
broken folder or disk does not take both. If the fallback fails as well, every line is logged in
full (the log is the last copy). Each problem is one line naming both files; the caller turns a
non-empty answer into the "could not persist" exit code.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from arbitrage.persistence.state import encode
from arbitrage.accounting.tradelog import HEADER, TradeLog, format_line

log = logging.getLogger("arbitrage.unsaved")


def keep_unsaved(tradelog: TradeLog | None, trader, state_path: str, now_ms: int) -> list[str]:
    """One last try of both files, then the fallbacks. Returns one line per thing that is not
    where it belongs (empty when everything is persisted)."""
    problems: list[str] = []
    if tradelog is not None and not tradelog.retry():
        rows = tradelog.pending_rows()
        ledger = tradelog.path
        target = Path(state_path).parent / f"{ledger.stem}.unsaved-{now_ms}{ledger.suffix}"
        text = HEADER + "\n" + "".join(format_line(r) for r in rows)
        problems.append(_put(text, target, f"{len(rows)} ledger row(s) could not be written to "
                             f"{ledger} ({tradelog.error})",
                             f"append them (without the header) to {ledger} before the next run"))
    if trader.store is not None and trader.state_error is not None:
        trader.save()                             # the last snapshot, one more time
        if trader.state_error is not None:
            state = trader.store.path
            ledger_dir = tradelog.path.parent if tradelog is not None else state.parent
            target = ledger_dir / f"{state.stem}.unsaved-{now_ms}{state.suffix}"
            problems.append(_put(encode(trader.snapshot()), target,
                                 f"the engine state could not be saved to {state} "
                                 f"({trader.state_error})",
                                 f"put it in place of {state} before the next run"))
    for line in problems:
        log.error("[UNSAVED] %s", line)
    return problems


def _put(text: str, target: Path, what: str, todo: str) -> str:
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            data = text.encode("utf-8")
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        for line in text.splitlines():
            log.error("[UNSAVED] %s", line)
        return (f"{what}; the fallback {target} failed too ({exc.strerror or exc}): its "
                f"{len(text.splitlines())} line(s) are in the log above; {todo}")
    return f"{what}: written to {target}; {todo}"
