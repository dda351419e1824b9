"""`python -m app.fleet`: run the instances of a fleet file under supervisord.

    python -m app.fleet start   --config fleet.toml   # supervisord + every instance + the page
    python -m app.fleet status  --config fleet.toml   # one line per instance
    python -m app.fleet stop    --config fleet.toml   # SIGTERM to all: a pause, never an unwind
    python -m app.fleet pause|resume|flatten ID --config fleet.toml
    python -m app.fleet page    --config fleet.toml   # the page server (supervisord runs it)

supervisord (PyPI `supervisor`) restarts an instance that crashed (exit 1 or a signal), with its
own back-off while the start keeps failing, and never one that ended on purpose: exit codes 0
(stopped), 2 (settings), 3 (halted), 4 (could not persist), 5 (ledger invariant mismatch) are its
`exitcodes` with `autorestart=unexpected`. Each instance logs to its own rotated file.
"""
from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import requests

from app.fleet_config import Fleet, FleetError, budget_problems, load_fleet
from app.fleet_view import LedgerCache, fleet_rows, process_info, supervisor_proxy
from arbitrage.ops.control import send_command
from arbitrage.ops.files import read_json
from arbitrage.venues import urls_for

EXIT_OK, EXIT_ERROR, EXIT_SETTINGS = 0, 1, 2
NO_RESTART_CODES = "0,2,3,4,5"
START_SECS = 5              # alive this long = started; an earlier exit is a failed start (back-off)
PAGE_PROGRAM = "_page"      # instance ids start with a letter or digit: no clash


def supervisord_conf(fleet: Fleet, config_path: Path) -> str:
    run = fleet.run_dir.resolve()
    py = sys.executable
    cwd = os.getcwd()

    def q(p) -> str:                      # supervisord expands %(...)s: a literal % is %%
        return str(p).replace("%", "%%")

    lines = [
        "; written by `python -m app.fleet start`; edits are overwritten at the next start",
        "[unix_http_server]", f"file={q(run / 'supervisor.sock')}", "chmod=0700", "",
        "[supervisord]", f"logfile={q(run / 'logs' / 'supervisord.log')}",
        f"pidfile={q(run / 'supervisord.pid')}", f"childlogdir={q(run / 'logs')}",
        f"directory={q(cwd)}", "identifier=arb-fleet", "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
        "[supervisorctl]", f"serverurl=unix://{q(run / 'supervisor.sock')}", "",
    ]
    for inst in fleet.instances:
        lines += [
            f"[program:{inst.id}]",
            f"command={q(py)} -m app.instance --config {q(config_path)} --id {inst.id}",
            f"directory={q(cwd)}", "autostart=true", "autorestart=unexpected",
            f"exitcodes={NO_RESTART_CODES}", f"startsecs={START_SECS}", "startretries=5",
            "stopsignal=TERM", "stopwaitsecs=75",        # a pair in flight may take 30 s + timeout
            "redirect_stderr=true", f"stdout_logfile={q(inst.log.resolve())}",
            "stdout_logfile_maxbytes=10MB", "stdout_logfile_backups=5",
            'environment=PYTHONUNBUFFERED="1"', ""]
    lines += [
        f"[program:{PAGE_PROGRAM}]",
        f"command={q(py)} -m app.fleet page --config {q(config_path)}",
        f"directory={q(cwd)}", "autostart=true", "autorestart=true", "startsecs=1",
        "redirect_stderr=true", f"stdout_logfile={q(run / 'logs' / 'page.log')}",
        "stdout_logfile_maxbytes=5MB", "stdout_logfile_backups=2", ""]
    return "\n".join(lines)


def _prices(fleet: Fleet) -> dict[str, Decimal]:
    """Spot prices from each instance's venue (public endpoint), for the budget check."""
    prices = {}
    for inst in fleet.instances:
        s = inst.settings
        rest = s.sim_url if s.venue == "sim" else urls_for(s.venue).spot_rest
        if not rest:
            continue
        try:
            r = requests.get(rest.rstrip("/") + "/api/v3/ticker/price",
                             params={"symbol": s.spot_symbol}, timeout=5)
            r.raise_for_status()
            prices[s.spot_symbol] = Decimal(r.json()["price"])
        except (requests.RequestException, KeyError, ValueError, ArithmeticError):
            continue
    return prices


def start(fleet: Fleet, config_path: Path) -> int:
    if process_info(fleet) is not None:
        print(f"error: the fleet of {config_path} is already running (python -m app.fleet stop "
              f"--config {config_path} first)", file=sys.stderr)
        return EXIT_ERROR
    if fleet.budget_usd:
        problems = budget_problems(fleet, _prices(fleet))
        if problems:
            for p in problems:
                print(f"error: {p}", file=sys.stderr)
            return EXIT_SETTINGS
    run = fleet.run_dir
    for d in (run, run / "logs", run / "status"):
        d.mkdir(parents=True, exist_ok=True)
    for inst in fleet.instances:
        inst.log.parent.mkdir(parents=True, exist_ok=True)
        for p in (inst.settings.state_path, inst.settings.trades_log):
            Path(p).parent.mkdir(parents=True, exist_ok=True)
    (run / "page.json").unlink(missing_ok=True)
    token = secrets.token_urlsafe(18)
    from app.fleet_page import token_hash
    token_file = run / "page.token.sha256"
    token_file.unlink(missing_ok=True)
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token_hash(token) + "\n")
    conf = run / "supervisord.conf"
    conf.write_text(supervisord_conf(fleet, config_path.resolve()))
    done = subprocess.run([sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        print(f"error: supervisord did not start: {(done.stderr or done.stdout).strip()[:300]}",
              file=sys.stderr)
        return EXIT_ERROR
    page = _wait_page(run)
    print(f"fleet started: {', '.join(i.id for i in fleet.instances)} under supervisord "
          f"({conf}); logs in {run / 'logs'}")
    print(f"page: {page or '(not up yet: see ' + str(run / 'logs' / 'page.log') + ')'}")
    print(f"token (shown once, needed for pause/resume/flatten on the page): {token}")
    return EXIT_OK


def _wait_page(run: Path, timeout: float = 15.0) -> str | None:
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        info = read_json(run / "page.json")
        if info:
            return info["url"]
        time.sleep(0.1)
    return None


def stop(fleet: Fleet) -> int:
    """SIGTERM to every instance: each finishes a pair in flight and exits, an open trade stays
    open (FLATTEN_ON_EXIT is refused in a fleet). Then supervisord exits."""
    if process_info(fleet) is None:
        print("the fleet is not running")
        return EXIT_OK
    supervisor_proxy(fleet).supervisor.shutdown()
    pidfile = fleet.run_dir / "supervisord.pid"
    limit = time.monotonic() + 120
    while pidfile.exists() and time.monotonic() < limit:
        time.sleep(0.2)
    print("fleet stopped: open trades stay open and are taken up at the next start")
    return EXIT_OK


def status(fleet: Fleet) -> int:
    rows = fleet_rows(fleet, LedgerCache())
    print(f"{'instance':10} {'pair':22} {'process':9} {'state':26} {'orders':>6} {'fills':>6} "
          f"{'trades':>6} {'net':>12} {'spread':>8}  error")
    for r in rows:
        spread = f"{r['spread_bps']:+.2f}" if r["spread_bps"] is not None else "-"
        state = (r["state"] or "-") + (" paused" if r["paused"] else "")
        print(f"{r['id']:10} {r['spot'] + '/' + r['coinm']:22} {r['process']:9} {state[:26]:26} "
              f"{r['open_orders'] if r['open_orders'] is not None else '-':>6} {r['fills']:>6} "
              f"{r['trades_closed']:>6} {r['net_btc']:>12} {spread:>8}  {r['error'] or ''}")
    return EXIT_OK


def page(fleet: Fleet) -> int:
    from app.fleet_page import serve
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    stop_event = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop_event.set())
    signal.signal(signal.SIGINT, lambda *_: stop_event.set())
    return serve(fleet, stop_event)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m app.fleet", description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=("start", "status", "stop", "pause", "resume", "flatten",
                                        "page"))
    ap.add_argument("id", nargs="?", help="the instance (pause / resume / flatten)")
    ap.add_argument("--config", default="fleet.toml", help="the fleet file (default fleet.toml)")
    args = ap.parse_args(argv)
    config = Path(args.config)
    try:
        fleet = load_fleet(config)
    except FleetError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_SETTINGS
    if args.command in ("pause", "resume", "flatten"):
        try:
            inst = fleet.get(args.id or "")
        except KeyError:
            print(f"error: ID: {args.id!r} is not an instance of {config} (expected one of "
                  f"{', '.join(i.id for i in fleet.instances)})", file=sys.stderr)
            return EXIT_SETTINGS
        control = send_command(inst.control, args.command)
        print(f"{args.command} {inst.id}: sent (command {control.seq}); the instance applies it "
              f"within a second")
        return EXIT_OK
    return {"start": lambda: start(fleet, config), "status": lambda: status(fleet),
            "stop": lambda: stop(fleet), "page": lambda: page(fleet)}[args.command]()


if __name__ == "__main__":
    sys.exit(main())
