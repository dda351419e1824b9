"""What the fleet page, its JSON API, `fleet status` and /metrics show: one row per instance,
merged from three sources that each stay the truth for their part:

- the supervisor (is the process running, its pid, how it last exited),
- the instance's status file (engine state, spread, orders, rejections, latency; once a second),
- the instance's own ledger, trades_log.csv (fills, closed trades, net BTC, funding), re-read only
  when the file changed.

Nothing here holds or shows a key: settings are not part of a row.
"""
from __future__ import annotations

import time
import xmlrpc.client
from decimal import Decimal
from pathlib import Path

from app.fleet_config import Fleet, Instance
from app.report import trade_results
from arbitrage.accounting.ledger import FUNDING
from arbitrage.ops.control import read_control
from arbitrage.ops.files import read_json
from arbitrage.accounting.tradelog import TradeLogError, read_rows

STALE_MS = 5000
EXIT_MEANING = {0: "stopped (ok)", 1: "unexpected error", 2: "settings error", 3: "halted",
                4: "could not persist", 5: "ledger invariant mismatch"}


def supervisor_proxy(fleet: Fleet):
    from supervisor.xmlrpc import SupervisorTransport
    sock = (fleet.run_dir / "supervisor.sock").resolve()
    return xmlrpc.client.ServerProxy("http://127.0.0.1",
                                     transport=SupervisorTransport(None, None, f"unix://{sock}"))


def process_info(fleet: Fleet) -> dict[str, dict] | None:
    """name -> supervisor's process info; None when the supervisor is not running."""
    try:
        return {p["name"]: p for p in supervisor_proxy(fleet).supervisor.getAllProcessInfo()}
    except (OSError, xmlrpc.client.Error):
        return None


class LedgerCache:
    """Ledger summaries by file, recomputed when the file's size or mtime changes."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[tuple, dict]] = {}

    def summary(self, path: Path) -> dict:
        try:
            st = path.stat()
        except OSError:
            return _empty_ledger()
        stamp = (st.st_mtime_ns, st.st_size)
        hit = self._cache.get(str(path))
        if hit is not None and hit[0] == stamp:
            return hit[1]
        try:
            rows = read_rows(path, errors=[])
        except (OSError, UnicodeDecodeError, TradeLogError, ValueError):
            return _empty_ledger()
        self._cache[str(path)] = (stamp, summary := ledger_summary(rows))
        return summary


def _empty_ledger() -> dict:
    return {"fills": 0, "trades_closed": 0, "net_btc": "0", "funding_btc": "0", "net_series": []}


def ledger_summary(rows) -> dict:
    """Fills (pair rows: open, rescue, close), closed trades, net BTC and funding, and the running
    net BTC at each close (the page's chart)."""
    trades, loose_funding = trade_results(rows)
    closed = sorted((t for t in trades if t.closed and t.net_btc is not None),
                    key=lambda t: t.closed_ms)
    running, series = Decimal(0), []
    for t in closed:
        running += t.net_btc
        series.append([t.closed_ms, str(running)])
    funding = sum((r.income_btc or Decimal(0) for r in rows if r.event == FUNDING), Decimal(0))
    return {"fills": sum(1 for r in rows if r.event != FUNDING), "trades_closed": len(closed),
            "net_btc": str(running), "funding_btc": str(funding), "net_series": series}


def log_error(path: Path) -> str | None:
    """The last `error: ...` line of an instance's log (a settings problem is printed that way)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 16384))
            tail = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in reversed(tail):
        if line.startswith("error: "):
            return line[len("error: "):][:300]
        if " ERROR " in line:
            return line[:300]
    return None


def instance_row(inst: Instance, proc: dict | None, ledger: dict, now_ms: int) -> dict:
    st = read_json(inst.status) or {}
    # the status file is this process's only when it names its pid (a restarted instance's file
    # is its predecessor's until the new one writes)
    mine = st if proc is not None and proc["pid"] and st.get("pid") == proc["pid"] else {}
    control = read_control(inst.control)
    s = inst.settings
    running = proc is not None and proc["statename"] == "RUNNING"
    age_s = round((now_ms - int(mine["updated_ms"])) / 1000, 1) if mine else None
    row = {"id": inst.id, "spot": s.spot_symbol, "coinm": s.coinm_symbol, "venue": s.venue,
           "live": s.venue == "live" and not s.dry_run, "dry_run": s.dry_run,
           "process": proc["statename"] if proc else "UNKNOWN",
           "pid": proc["pid"] if proc and proc["pid"] else None,
           "exit_code": None, "running": running and bool(mine) and age_s * 1000 <= STALE_MS,
           "status_age_s": age_s, "mode": control.mode, "paused": mine.get("paused"),
           "state": mine.get("state"), "halt_reason": mine.get("halt_reason"), "error": None,
           "open_orders": mine.get("open_orders"),
           "fills": ledger["fills"], "trades_closed": ledger["trades_closed"],
           "net_btc": ledger["net_btc"], "funding_btc": ledger["funding_btc"],
           "net_series": ledger["net_series"], "spread_bps": mine.get("spread_bps"),
           "spread_series": mine.get("spread_series", []), "carry_apr": mine.get("carry_apr"),
           "rejections": mine.get("rejections", {}), "latency": mine.get("latency"),
           "entries": mine.get("entries"), "trade": mine.get("trade"), "start": mine.get("start"),
           "blocked": mine.get("blocked")}
    if running and mine:
        problem = mine.get("last_problem")
        row["error"] = mine.get("halt_reason") or (problem["message"] if problem else None)
        if not row["running"]:
            row["error"] = f"status not updated for {age_s} s"
    elif running:
        row["state"] = "STARTING"
    elif proc is not None:
        code = proc.get("exitstatus")
        row["exit_code"] = code if proc["statename"] in ("EXITED", "FATAL", "BACKOFF") else None
        meaning = EXIT_MEANING.get(code, f"exit code {code}") if row["exit_code"] is not None else ""
        row["state"] = proc["statename"] + (f" ({meaning})" if meaning else "")
        detail = log_error(inst.log) or proc.get("spawnerr") or proc.get("description")
        if code == 3 and st.get("halt_reason"):
            detail = row["halt_reason"] = st["halt_reason"]
        row["error"] = f"{meaning}: {detail}" if meaning and detail else detail or meaning or None
    return row


def fleet_rows(fleet: Fleet, ledgers: LedgerCache, procs: dict | None = None) -> list[dict]:
    procs = process_info(fleet) if procs is None else procs
    now_ms = int(time.time() * 1000)
    return [instance_row(inst, (procs or {}).get(inst.id),
                         ledgers.summary(Path(inst.settings.trades_log)), now_ms)
            for inst in fleet.instances]
