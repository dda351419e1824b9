"""`python -m app.instance --config fleet.toml --id btc`: one instance of a fleet, in the foreground.

This is the command the supervisor runs for each instance, and the same command a systemd unit or
a container runs (README: Running several pairs). It resolves the instance's settings from the
fleet file (a problem is one line naming the instance, exit 2), then runs the ordinary bot
(`app.main`) with the fleet's hook: a status file once a second and the control file polled
(arbitrage/ops/sink.py). Exit codes are the bot's: 0 ok, 1 unexpected, 2 settings, 3 halted.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time

from app import main as bot_main
from app.fleet_config import FleetError, instance_environ, load_fleet
from arbitrage.ops import metrics
from arbitrage.ops.sink import StatusSink


HOLD_S = 6.0    # > the supervisor's startsecs (app/fleet.py START_SECS)


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    supervised = bool(os.environ.get("SUPERVISOR_ENABLED"))    # set by supervisord
    code = _run(argv)
    if supervised and code != bot_main.EXIT_ERROR:
        # An exit before the supervisor's startsecs counts as a failed start and would be retried
        # whatever its code: a deliberate exit (settings, halted) waits until it is judged by its
        # code, and is then not restarted. A crash (1, or a signal) is retried with back-off.
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        stop.wait(max(0.0, HOLD_S - (time.monotonic() - started)))
    return code


def _run(argv: list[str] | None) -> int:
    ap = argparse.ArgumentParser(prog="python -m app.instance",
                                 description="Run one instance of a fleet file in the foreground.")
    ap.add_argument("--config", required=True, help="the fleet file (TOML)")
    ap.add_argument("--id", required=True, help="the instance id")
    args = ap.parse_args(argv)
    try:
        fleet = load_fleet(args.config)
        inst = fleet.get(args.id)
    except FleetError as exc:
        mine = [p for p in exc.problems if p.startswith(f"instance {args.id}:")] or exc.problems
        for problem in mine:
            print(f"error: {problem}", file=sys.stderr)
        return bot_main.EXIT_SETTINGS
    except KeyError:
        print(f"error: ID: {args.id!r} is not an instance of {args.config}", file=sys.stderr)
        return bot_main.EXIT_SETTINGS
    env = instance_environ(dict(os.environ), inst.overrides, inst.account)
    os.environ.clear()                   # the account's keys replace the default ones
    os.environ.update(env)
    sink = StatusSink(inst.id, inst.status, inst.control)
    if inst.metrics_port:
        try:
            metrics.serve_instance(inst.metrics_port, lambda: sink.latest)
        except OSError as exc:
            print(f"error: instance {inst.id}: METRICS_PORT: {inst.metrics_port} cannot be "
                  f"opened on 127.0.0.1 ({exc.strerror}) (expected a free port)", file=sys.stderr)
            return bot_main.EXIT_SETTINGS
    return bot_main.main([], on_bot=sink.attach)


if __name__ == "__main__":
    sys.exit(main())
