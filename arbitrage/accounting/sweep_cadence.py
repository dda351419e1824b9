"""When a sweep of executions (spot myTrades + COIN-M userTrades, weight 20 each, arbitrage/
accounting/sweep.py) is worth its weight.

On the REST path, and whenever the user data streams cannot vouch for the account, every account
fetch and every exit sweeps, as before. On the ws path with both user streams live and no gap
left unreconciled, every execution on the account is pushed as it happens (executionReport for
every spot order of the account, ORDER_TRADE_UPDATE for every COIN-M one, liquidations and ADL
included): a sweep can then only find something when an execution was pushed for an order that
is not one of the bot's pairs, or a pair's own trades never showed. Otherwise it is skipped, with
a sweep at least every BACKSTOP_S whatever the streams say (a lost event costs a minute, not a
row), and at once when the COIN-M position read by REST disagrees with the bot's. The run's last sweep (`Bot.sweep_now`) and the start's are never skipped.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

BACKSTOP_S = 60.0
# the bot's client order ids (arbitrage/execution/pairs.py client_id): `<T ms>-<s|p>-<step><n>`
BOT_ORDER = re.compile(r"T\d+-[sp]-[a-z]\d+")


def sweep_due(complete: bool, outside_seen: bool, missing: bool, since_last_s: float | None,
              backstop_s: float = BACKSTOP_S) -> bool:
    """`complete`: pushed news covers the account since the last sweep (both streams live, no
    gap unreconciled); `outside_seen`: an execution of an order not the bot's was pushed since;
    `missing`: a pair's leg trades never showed; `since_last_s`: None before the first sweep."""
    if since_last_s is None or since_last_s >= backstop_s:
        return True
    return not complete or outside_seen or missing


@dataclass(frozen=True)
class Due:
    """What a sweep that is about to start covers (handed back to `swept` once it succeeded)."""
    outside: int
    missing: int
    at: float


class SweepCadence:
    """The shell around `sweep_due`: reads the hub (None: the REST path, always due)."""

    def __init__(self, hub, monotonic: Callable[[], float], backstop_s: float = BACKSTOP_S) -> None:
        self.hub, self.monotonic, self.backstop_s = hub, monotonic, backstop_s
        self._lock = threading.Lock()
        self._last: float | None = None
        self._outside = self._missing = self._missing_done = 0
        self.skipped = 0

    def leg_trades_missing(self) -> None:
        with self._lock:
            self._missing += 1

    def due(self, force: bool = False) -> Due | None:
        """A token when a sweep should run now (`force`: the caller knows why, e.g. the COIN-M
        position disagreed with the bot's and no pushed event said why: a lost event)."""
        now = self.monotonic()
        with self._lock:
            outside = self.hub.outside if self.hub is not None else 0
            token = Due(outside, self._missing, now)
            if self.hub is None or force or sweep_due(
                    self.hub.entry_block() is None, outside != self._outside,
                    self._missing != self._missing_done,
                    None if self._last is None else now - self._last, self.backstop_s):
                return token
            self.skipped += 1
            return None

    def swept(self, due: Due) -> None:
        """The sweep `due` announced came back without error."""
        with self._lock:
            if self._last is None or due.at > self._last:
                self._last = due.at
            self._outside = max(self._outside, due.outside)
            self._missing_done = max(self._missing_done, due.missing)
