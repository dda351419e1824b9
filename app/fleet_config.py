"""The fleet file: shared settings at the root, one table per instance in `[[instances]]`.

Every instance setting is a normal bot setting (arbitrage/config.py) and goes through the same
parser, all instances at once, so each problem is the bot's own one-line message with the
instance id in front. On top of that, the rules between instances: ids and symbols unique, each
its own state file and ledger, and the shared budget of an account. Without `[[instances]]` the
root is one bot.

Precedence inside an instance: defaults < .env < environment < the file's root < the instance.
Keys never come from the file (it is shared, copied, committed): an instance of account `x` takes
X_SPOT_KEY, X_SPOT_SECRET, X_DAPI_KEY, X_DAPI_SECRET from the environment; account `default`
takes the usual SPOT_KEY...
"""
from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

from arbitrage.config import KEY_NAMES, SPECS, Settings, SettingsError, load_settings

FLEET_KEYS = {"run_dir": "fleet", "page_host": "127.0.0.1", "page_port": 8090, "budget_usd": None}
INSTANCE_KEYS = ("id", "spot", "coinm", "size", "account", "log", "metrics_port")
ALIASES = {"spot": "spot_symbol", "coinm": "coinm_symbol", "size": "max_q_base_frontier"}
PER_INSTANCE_ONLY = ("state_path", "trades_log")      # a shared one would mix two bots' books
_SETTING_NAMES = {spec.name for spec in SPECS}
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


@dataclass
class Instance:
    id: str
    account: str
    settings: Settings
    overrides: dict[str, str]           # the file's values for this instance, by env name
    log: Path
    status: Path
    control: Path
    metrics_port: int | None = None     # the instance's own /metrics on 127.0.0.1 (None = off)


@dataclass
class Fleet:
    path: Path
    run_dir: Path
    page_host: str
    page_port: int
    budget_usd: dict[str, Decimal]      # account -> USD; empty = no shared budget
    instances: list[Instance] = field(default_factory=list)

    def get(self, instance_id: str) -> Instance:
        for inst in self.instances:
            if inst.id == instance_id:
                return inst
        raise KeyError(instance_id)


class FleetError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_fleet(path: str | Path, environ: Mapping[str, str] | None = None,
               dotenv_path: str | None = ".env") -> Fleet:
    """Read and validate the whole file; FleetError lists every problem, one line each."""
    path = Path(path)
    environ = os.environ if environ is None else environ
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise FleetError([f"{path}: no such file (expected a fleet file, see README: Running "
                          f"several pairs)"]) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FleetError([f"{path}: not a readable TOML file: {exc}"]) from None
    problems: list[str] = []
    root = {k.lower(): v for k, v in raw.items() if k.lower() != "instances"}
    fleet_opts = {k: root.pop(k, default) for k, default in FLEET_KEYS.items()}
    run_dir = Path(str(fleet_opts["run_dir"]))
    budget = _budget(fleet_opts["budget_usd"], problems)
    page_port = fleet_opts["page_port"]
    if not isinstance(page_port, int) or not 0 <= page_port <= 65535:
        problems.append(f"PAGE_PORT: {page_port!r} is not a port (expected 0-65535, 0 = any free)")
        page_port = 0
    shared = _settings_table("fleet root", root, problems, instance=False)
    entries = raw.get("instances", raw.get("INSTANCES"))
    if entries is None:                    # no instances: the root is one bot
        entries = [{}]
        single = True
    elif not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries) or not entries:
        problems.append("instances: expected one or more [[instances]] tables")
        entries, single = [], False
    else:
        single = False
    fleet = Fleet(path, run_dir, str(fleet_opts["page_host"]), page_port, budget)
    for n, entry in enumerate(entries, 1):
        inst = _instance(n, {k.lower(): v for k, v in entry.items()}, shared, run_dir, single,
                         environ, dotenv_path, path.name, problems)
        if inst is not None:
            fleet.instances.append(inst)
    problems += _between_instances(fleet.instances)
    _mark_shared_quotes(fleet.instances)
    if problems:
        raise FleetError(problems)
    return fleet


def _mark_shared_quotes(instances: list[Instance]) -> None:
    """Instances of one account that quote in the same coin move one balance: each bot's end-of-run
    check of that coin would count the others' trades and cry MISMATCH (exit 5) on every stop.
    They run with QUOTE_SHARED: the quote line is shown, the base coin's line decides."""
    by_quote: dict[tuple[str, str], list[Instance]] = {}
    for inst in instances:
        by_quote.setdefault((inst.account, inst.settings.spot_quote), []).append(inst)
    for group in by_quote.values():
        if len(group) > 1:
            for inst in group:
                inst.overrides["QUOTE_SHARED"] = "true"
                inst.settings = dataclasses.replace(inst.settings, quote_shared=True)


def _budget(value: Any, problems: list[str]) -> dict[str, Decimal]:
    if value is None:
        return {}
    table = value if isinstance(value, dict) else {"default": value}
    out = {}
    for account, amount in table.items():
        try:
            d = Decimal(str(amount))
            if not d.is_finite() or d <= 0:
                raise ValueError
            out[str(account)] = d
        except (ValueError, ArithmeticError):
            problems.append(f"BUDGET_USD: {amount!r} for account {account!r} is not a positive "
                            f"number (expected USD, e.g. 60000)")
    return out


def _settings_table(where: str, table: dict, problems: list[str], instance: bool) -> dict[str, str]:
    """The table's bot settings as env-style text values; unknown names are problems."""
    out: dict[str, str] = {}
    for key, value in table.items():
        name = ALIASES.get(key, key) if instance else key
        if instance and key in ("id", "account", "log", "metrics_port"):
            continue
        if name in KEY_NAMES:
            problems.append(f"{where}: {name.upper()}: not allowed in the fleet file (expected keys "
                            f"in the environment or .env, never in a shared file)")
            continue
        if name not in _SETTING_NAMES:
            allowed = "a bot setting" + (", or " + ", ".join(INSTANCE_KEYS) if instance else
                                         ", or " + ", ".join(FLEET_KEYS))
            problems.append(f"{where}: {key.upper()}: unknown setting (expected {allowed})")
            continue
        if not instance and name in PER_INSTANCE_ONLY:
            problems.append(f"{where}: {name.upper()}: set per instance, not at the root (expected "
                            f"each instance to have its own)")
            continue
        if isinstance(value, (dict, list)):
            problems.append(f"{where}: {name.upper()}: {value!r} is not a single value")
            continue
        out[name.upper()] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def _instance(n: int, entry: dict, shared: dict[str, str], run_dir: Path, single: bool,
              environ: Mapping[str, str], dotenv_path: str | None, file_name: str,
              problems: list[str]) -> Instance | None:
    inst_id = str(entry.get("id", "")).strip()
    if single and not inst_id:
        inst_id = "main"
    where = f"instance {inst_id or '#' + str(n)}"
    if not _ID.fullmatch(inst_id):
        problems.append(f"{where}: ID: {inst_id!r} is not an instance id (expected 1-32 lower-case "
                        f"letters, digits, - or _, e.g. btc)")
        return None
    account = str(entry.get("account", "default"))
    if not _ID.fullmatch(account):
        problems.append(f"{where}: ACCOUNT: {account!r} is not an account name (expected lower-case "
                        f"letters and digits, e.g. default)")
        return None
    overrides = {**shared, **_settings_table(where, entry, problems, instance=True)}
    base = run_dir / inst_id
    if "STATE_PATH" not in overrides or "TRADES_LOG" not in overrides:
        try:                # the fleet's own folder for the instance's files (the bot wants it to exist)
            base.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problems.append(f"{where}: RUN_DIR: {str(run_dir)!r} cannot hold the instance's files "
                            f"({exc.strerror}) (expected a writable folder)")
            return None
    overrides.setdefault("STATE_PATH", str(base / "state.json"))
    overrides.setdefault("TRADES_LOG", str(base / "trades_log.csv"))
    try:
        settings = load_settings([], instance_environ(environ, overrides, account),
                                 dotenv_path=dotenv_path)
    except SettingsError as exc:
        used = {ALIASES[k].upper(): k.upper() for k in entry if k in ALIASES}
        for p in exc.problems:
            name = p.split(":", 1)[0]
            if name in overrides:
                p = p.replace("[from env]", f"[from {file_name}]")
            if name in used:                     # say it with the word the file used
                p = f"{used[name]} ({name}){p[len(name):]}"
            problems.append(f"{where}: {p}")
        return None
    if settings.flatten_on_exit:
        problems.append(f"{where}: FLATTEN_ON_EXIT: true is not allowed in a fleet (expected false: "
                        f"stopping the fleet pauses, it never unwinds; use `flatten {inst_id}`)")
    port = entry.get("metrics_port")
    if port is not None and (not isinstance(port, int) or isinstance(port, bool)
                             or not 1 <= port <= 65535):
        problems.append(f"{where}: METRICS_PORT: {port!r} is not a port (expected 1-65535, or "
                        f"leave it out for none)")
        port = None
    status_dir = run_dir / "status"
    return Instance(inst_id, account, settings, overrides,
                    Path(str(entry["log"])) if "log" in entry else run_dir / "logs" / f"{inst_id}.log",
                    status_dir / f"{inst_id}.json", status_dir / f"{inst_id}.control.json", port)


def instance_environ(environ: Mapping[str, str], overrides: Mapping[str, str],
                     account: str) -> dict[str, str]:
    """The environment an instance runs with: the caller's, its account's keys under the usual
    names, then the file's settings on top."""
    env = dict(environ)
    if account != "default":
        for name in KEY_NAMES:
            env.pop(name.upper(), None)
            value = environ.get(f"{account.upper()}_{name.upper()}")
            if value is not None:
                env[name.upper()] = value
    env.update(overrides)
    return env


def _between_instances(instances: list[Instance]) -> list[str]:
    problems = []
    seen: dict[tuple[str, str], str] = {}
    for inst in instances:
        if inst.metrics_port is not None:
            other = seen.setdefault(("METRICS_PORT", str(inst.metrics_port)), inst.id)
            if other != inst.id:
                problems.append(f"instance {inst.id}: METRICS_PORT: {inst.metrics_port} is already "
                                f"used by instance {other} (expected one port per instance)")
        s = inst.settings
        for label, value in (("ID", inst.id), ("SPOT_SYMBOL", s.spot_symbol),
                             ("COINM_SYMBOL", s.coinm_symbol),
                             ("STATE_PATH", os.path.abspath(s.state_path)),
                             ("TRADES_LOG", os.path.abspath(s.trades_log))):
            key = (label if label != "ID" else "ID", f"{s.venue}:{value}" if "SYMBOL" in label else value)
            other = seen.get(key)
            if other is not None:
                why = ("one instance per symbol on a venue" if "SYMBOL" in label else
                       "each instance its own file" if label != "ID" else "unique ids")
                problems.append(f"instance {inst.id}: {label}: {value!r} is already used by "
                                f"instance {other} (expected {why})")
            else:
                seen[key] = inst.id
    return problems


def budget_problems(fleet: Fleet, prices: Mapping[str, Decimal]) -> list[str]:
    """Σ of the instances' largest trade (the frontier's caps MAX_V_USD_FRONTIER and
    MAX_Q_BASE_FRONTIER at today's price, or V_USD with fixed sizing), per account, against that
    account's budget. An account's instances share its
    USDT and margin: each must be able to hold its largest trade at the same time."""
    problems = []
    for account, budget in fleet.budget_usd.items():
        members = [i for i in fleet.instances if i.account == account]
        total = Decimal(0)
        parts = []
        for inst in members:
            s = inst.settings
            if s.auto_from_frontier and not s.max_v_usd_frontier and not s.max_q_base_frontier:
                problems.append(f"instance {inst.id}: BUDGET_USD: the instance has no size cap "
                                f"(expected SIZE / MAX_Q_BASE_FRONTIER or MAX_V_USD_FRONTIER > 0 "
                                f"when the account has a budget)")
                continue
            usd = largest_trade_usd(s, prices.get(s.spot_symbol))
            if usd is None:
                problems.append(f"instance {inst.id}: BUDGET_USD: no price for "
                                f"{s.spot_symbol} to check the budget against")
                continue
            total += usd
            parts.append(f"{inst.id} ${usd:,.0f}")
        if total > budget:
            problems.append(f"BUDGET_USD: account {account}: the instances' largest trades add up to "
                            f"${total:,.0f} ({', '.join(parts)}) but the budget is ${budget:,.0f} "
                            f"(expected smaller SIZE / MAX_V_USD_FRONTIER, or a larger budget)")
    return problems


def largest_trade_usd(s: Settings, price: Decimal | None) -> Decimal | None:
    """The notional of the largest entry the settings allow (the smaller of the two frontier caps;
    0 is no cap). None when the base-coin cap needs a price that is unknown."""
    if not s.auto_from_frontier:
        return s.v_usd
    caps = [s.max_v_usd_frontier] if s.max_v_usd_frontier else []
    if s.max_q_base_frontier:
        if price is None:
            return None
        caps.append(s.max_q_base_frontier * price)
    return min(caps)
