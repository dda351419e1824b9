"""The bot's one hook for operations: called once a second on the engine thread (Bot.ops_hook).

Each call (1) applies the control file if it changed (pause / resume / flatten) and (2) writes the
status file. Both are cheap (a stat, a small JSON write and rename) and happen between events,
never inside the per-event path.
"""
from __future__ import annotations

import logging
import os
import time
from collections import deque
from pathlib import Path

from arbitrage.ops import status
from arbitrage.ops.control import FLATTEN, PAUSE, RUN, Control, read_control
from arbitrage.ops.files import write_json

log = logging.getLogger("arbitrage.ops")

PAUSED_REASON = {PAUSE: "paused by the operator", FLATTEN: "flattened by the operator"}


class LastProblem(logging.Handler):
    """Keeps the newest WARNING/ERROR line of the process (the page's `error` column)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.last: dict | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:                     # a bad log call must not break the bot
            return
        self.last = {"level": record.levelname, "message": message[:300],
                     "at_ms": int(record.created * 1000)}


class StatusSink:
    def __init__(self, instance_id: str, status_path: Path, control_path: Path) -> None:
        self.id = instance_id
        self.status_path, self.control_path = Path(status_path), Path(control_path)
        self.control = Control()
        self._control_stamp = None
        self.spread = deque(maxlen=status.SPREAD_POINTS)
        self.problems = LastProblem()
        self.started_ms = int(time.time() * 1000)
        self.bot = None
        self.latest: dict | None = None       # the last status written (the instance's /metrics)

    def attach(self, bot) -> None:
        """Install on a connected bot (before it runs): the control file applies from the start,
        so an instance restarted while paused comes back paused."""
        self.bot = bot
        logging.getLogger().addHandler(self.problems)
        bot.ops_hook = self
        self._poll_control(time.time_ns())
        self(time.time_ns())

    def __call__(self, now_ns: int) -> None:
        self._poll_control(now_ns)
        bot = self.bot
        if self.control.mode == FLATTEN and bot.trader.state == "HEDGED":
            log.info("[CONTROL] flatten: closing trade %s by its exit path", bot.trader.trade.trade_id)
            bot.trader.start_exit("flatten", bot.evaluation.spread_bps, now_ns // 1_000_000)
        if bot.evaluation.spread_bps is not None:
            self.spread.append((now_ns // 1_000_000, round(bot.evaluation.spread_bps, 3)))
        self.latest = status.snapshot(bot, self.id, now_ns, self.spread, self.control,
                                      self.problems.last, self.started_ms)
        try:
            write_json(self.status_path, self.latest)
        except OSError as exc:               # the page goes stale; trading goes on
            log.warning("[STATUS] cannot write %s: %s", self.status_path, exc)

    def _poll_control(self, now_ns: int) -> None:
        try:
            st = os.stat(self.control_path)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if stamp == self._control_stamp:
            return
        self._control_stamp = stamp
        control = read_control(self.control_path)
        if control.seq == self.control.seq and control.mode == self.control.mode:
            return
        self.control = control
        self.bot.trader.paused = PAUSED_REASON.get(control.mode)
        log.info("[CONTROL] %s (command %d): %s", control.mode, control.seq,
                    {RUN: "new entries allowed", PAUSE: "no new entries; an open trade is still "
                     "managed", FLATTEN: "closing the open trade, then no new entries"}[control.mode])
