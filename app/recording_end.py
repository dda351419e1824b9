"""The end of a replayed recording, as the app sees it.

A local exchange replaying capture files plays their last record and falls silent: no diff, mark or
ticker will ever come again, and the bot would only loop through "no data" and resyncs. The exchange
knows when that happens (`LocalExchange.recording_ended_ms()`, or `replay_ended_ms` in `/sim/info`
of one running on its own); this watcher turns it into one log line and the same stop as the end of
RUN_SECONDS: a pair in flight is finished or rescued, the summary printed, exit code 0 (3 if halted).

Venue-layer plumbing only: the engine never learns where its market data comes from.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

import requests

from arbitrage.accounting.ledger import iso_utc

log = logging.getLogger("app.main")

Probe = Callable[[], "int | None"]     # the recording's exchange time (ms) at its end, or None
LOCAL_EVERY_S = 0.1                    # an in-process attribute read: cheap
REMOTE_EVERY_S = 1.0                   # a GET /sim/info on loopback


def local_probe(sim) -> Probe | None:
    """The in-process local exchange's end of replay; None for a market that never ends."""
    return sim.recording_ended_ms if sim.source_name == "replay" else None


def remote_probe(rest_url: str, timeout: float = 5.0) -> Probe | None:
    """A local exchange running on its own (`--sim-url`): asks `/sim/info`. None when it does not
    replay (or cannot say so)."""
    url = rest_url.rstrip("/") + "/sim/info"
    try:
        if requests.get(url, timeout=timeout).json().get("source") != "replay":
            return None
    except (requests.RequestException, ValueError, AttributeError):
        return None

    def probe() -> int | None:
        return requests.get(url, timeout=timeout).json().get("replay_ended_ms")
    return probe


def watch(probe: Probe, stop: threading.Event, every_s: float) -> Callable[[], None]:
    """Set `stop` (after one log line) when the recording has ended. Returns the watcher's own
    off switch, for when the program ends first."""
    done = threading.Event()

    def run() -> None:
        while not (done.wait(every_s) or stop.is_set()):
            try:
                ended_ms = probe()
            except (requests.RequestException, ValueError, AttributeError, OSError):
                continue                  # the venue's own trouble is the bot's to report
            if ended_ms is not None:
                log.info("[REPLAY] recording ended at %s: stopping", iso_utc(int(ended_ms)))
                stop.set()
                return

    threading.Thread(target=run, name="recording-end", daemon=True).start()
    return done.set
