"""The engine's persistent state (design §10): one JSON file per symbol pair, replaced atomically.

Written on every transition and before every order is sent — except an entry's two legs, which
leave first and are written while they travel: their client ids derive from `next_trade_id`, saved
beforehand, so a restart can still find them. A process killed at any instant leaves either the
previous snapshot or the new one — never half of one. On start the snapshot is
loaded and reconciled with the exchange (reconcile.py). A file that cannot be read exactly is an
error that stops the start, never a silent reset: a lost snapshot could mean a forgotten hedge.

Every Decimal is a string without exponent (exact); Trade and OrderRequest are stored field by
field, by name. Unknown keys are ignored on load (a newer writer may add some); a missing key that
matters is an error.
"""
from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import threading
import time
import types
import typing
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable

from arbitrage.models import COINM, SPOT, OrderRequest
from arbitrage.strategy.engine import ENTERING, EXITING, FLAT, HALTED, HEDGED, Trade
from arbitrage.strategy.frontier import BUY_SPOT, SELL_SPOT

STATE_VERSION = 1
KEEP_IDS = 1000                       # seen tranIds / trade ids kept: enough to dedup, bounded
ENGINE_STATES = (FLAT, ENTERING, HEDGED, EXITING, HALTED)
PAIR_KINDS = (None, "entry", "exit")

# Keys that may be missing from a file (their defaults apply). Everything else is required: a
# trade's exposure or an order's intent must never silently become a default.
_OPTIONAL = {
    # older files lack next_trade_id, trades_cursor_ms and strategy (they were the scalp's)
    "EngineSnapshot": frozenset({"extra", "next_trade_id", "trades_cursor_ms", "strategy"}),
    "OrderRequest": frozenset(),
    "Trade": frozenset(f.name for f in dataclasses.fields(Trade)
                       if f.default is not dataclasses.MISSING
                       or f.default_factory is not dataclasses.MISSING)
    - {"spot_btc", "spot_held", "contracts"},
}


class StateError(RuntimeError):
    """The state file cannot be trusted. The message names the file, the problem and what to do."""


@dataclass(frozen=True, kw_only=True)
class EngineSnapshot:
    version: int = STATE_VERSION
    spot_symbol: str
    coinm_symbol: str
    venue: str
    saved_ms: int
    engine_state: str
    halt_reason: str | None = None
    trade: Trade | None = None
    pair_kind: str | None = None                   # "entry" / "exit": the pair in flight
    pending_orders: tuple[OrderRequest, ...] = ()  # every order created for it, recorded before sent
    baseline_contracts: Decimal | None = None      # COIN-M position that is not the bot's
    spot_btc_net: Decimal = Decimal(0)
    contracts_net: Decimal = Decimal(0)
    last_exit_ms: int | None = None
    income_cursor_ms: int = 0
    seen_tran_ids: tuple[int, ...] = ()
    entry_ids: tuple[str, ...] = ()
    # the id the next entry will use, on disk before that entry's orders leave: a FLAT file with it
    # tells a restart which client ids to look for when the entry's own record never got written
    next_trade_id: str | None = None
    # executions (spot and COIN-M, exchange time) before it are all in the ledger: a restart's
    # sweep of myTrades / userTrades starts here (arbitrage/accounting/sweep.py)
    trades_cursor_ms: int | None = None
    strategy: str = "scalp"                        # STRATEGY that wrote it: a trade resumes under it
    extra: dict = field(default_factory=dict)     # future fields; plain JSON values on load

    def __post_init__(self) -> None:
        # lists become tuples and the id lists keep only their newest KEEP_IDS entries
        for name in ("pending_orders", "seen_tran_ids", "entry_ids"):
            value = tuple(getattr(self, name))
            if name != "pending_orders":
                value = value[-KEEP_IDS:]
            object.__setattr__(self, name, value)


def snapshot_problems(s: EngineSnapshot) -> list[str]:
    """What makes a snapshot impossible for the state machine (empty when it is coherent)."""
    p: list[str] = []
    if s.engine_state not in ENGINE_STATES:
        p.append(f"engine_state {s.engine_state!r} is not one of {', '.join(ENGINE_STATES)}")
    if s.pair_kind not in PAIR_KINDS:
        p.append(f"pair_kind {s.pair_kind!r} is not entry, exit or null")
    if s.engine_state in (ENTERING, EXITING, HEDGED) and s.trade is None:
        p.append(f"engine_state {s.engine_state} needs a trade but trade is null")
    if s.engine_state == FLAT and s.trade is not None:
        p.append(f"engine_state FLAT but trade {s.trade.trade_id} is set")
    expected_kind = {ENTERING: "entry", EXITING: "exit", FLAT: None, HEDGED: None}
    if s.engine_state in expected_kind and s.pair_kind != expected_kind[s.engine_state]:
        p.append(f"engine_state {s.engine_state} with pair_kind {s.pair_kind!r}")
    if s.pair_kind is None and s.pending_orders:
        p.append(f"{len(s.pending_orders)} pending order(s) but no pair in flight")
    if s.strategy not in ("scalp", "carry"):
        p.append(f"strategy {s.strategy!r} is not scalp or carry")
    if s.engine_state == HALTED and not s.halt_reason:
        p.append("engine_state HALTED without a halt_reason")
    if s.trade is not None and s.trade.direction not in (BUY_SPOT, SELL_SPOT):
        p.append(f"trade direction {s.trade.direction!r} is not {BUY_SPOT} or {SELL_SPOT}")
    ids = [o.client_order_id for o in s.pending_orders]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        p.append(f"pending orders repeat client order id(s) {' '.join(repeated)}")
    for o in s.pending_orders:
        symbol = {SPOT: s.spot_symbol, COINM: s.coinm_symbol}.get(o.market)
        if o.symbol != symbol:
            p.append(f"pending order {o.client_order_id} is on {o.market} {o.symbol}, not on this pair")
        if s.trade is not None and not o.client_order_id.startswith(s.trade.trade_id + "-"):
            p.append(f"pending order {o.client_order_id} does not belong to trade {s.trade.trade_id}")
    return p


# -- JSON codec -------------------------------------------------------------------------------
def encode(s: EngineSnapshot) -> str:
    return json.dumps(_plain(s), indent=1, sort_keys=False) + "\n"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")              # exact, never an exponent
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


class _Bad(ValueError):
    """One decoding problem; becomes a StateError naming the file."""


def decode(text: str) -> EngineSnapshot:
    """Parse and check a snapshot; `_Bad` says what is wrong (without the file's name)."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Bad(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}; a "
                   f"truncated file looks like this)") from None
    if not isinstance(raw, dict):
        raise _Bad("the top level is not a JSON object")
    version = raw.get("version")
    if version != STATE_VERSION or isinstance(version, bool):
        raise _Bad(f"version is {version!r}, this bot reads version {STATE_VERSION}")
    snap = _build(EngineSnapshot, raw, "")
    problems = snapshot_problems(snap)
    if problems:
        raise _Bad("inconsistent: " + "; ".join(problems))
    return snap


def _build(cls, raw: Any, where: str):
    if not isinstance(raw, dict):
        raise _Bad(f"{where.rstrip('.') or cls.__name__} is not a JSON object")
    hints = typing.get_type_hints(cls)
    optional = _OPTIONAL[cls.__name__]
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):          # keys the file has beyond these are ignored
        key = f"{where}{f.name}"
        if f.name in raw:
            values[f.name] = _value(hints[f.name], raw[f.name], key)
        elif f.name not in optional:
            raise _Bad(f"missing key {key!r}")
    return cls(**values)


def _value(hint: Any, raw: Any, key: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if raw is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _value(inner, raw, key)
    if origin is tuple:
        if not isinstance(raw, list):
            raise _Bad(f"{key!r} is not a list")
        return tuple(_value(args[0], v, f"{key}[{i}]") for i, v in enumerate(raw))
    if hint is Decimal:
        return _decimal(raw, key)
    if hint is bool:
        if not isinstance(raw, bool):
            raise _Bad(f"{key!r} is {raw!r}, not true/false")
        return raw
    if hint is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise _Bad(f"{key!r} is {raw!r}, not an integer")
        return raw
    if hint is float:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise _Bad(f"{key!r} is {raw!r}, not a number")
        return float(raw)
    if hint is str:
        if not isinstance(raw, str):
            raise _Bad(f"{key!r} is {raw!r}, not a string")
        return raw
    if hint is Trade:
        return _build(Trade, raw, f"{key}.")
    if hint is OrderRequest:
        return _build(OrderRequest, raw, f"{key}.")
    if hint is dict or origin is dict:
        if not isinstance(raw, dict):
            raise _Bad(f"{key!r} is not a JSON object")
        return raw
    raise _Bad(f"{key!r}: no decoder for {hint!r}")     # a new field type: extend the codec


def _decimal(raw: Any, key: str) -> Decimal:
    # a JSON number would have gone through a float somewhere: only strings are exact
    if not isinstance(raw, str):
        raise _Bad(f"{key!r} is {raw!r}: amounts are stored as strings")
    try:
        d = Decimal(raw)
    except InvalidOperation:
        raise _Bad(f"{key!r} is {raw!r}, not a number") from None
    if not d.is_finite():
        raise _Bad(f"{key!r} is {raw!r}, not a finite number")
    return d


# -- the file -----------------------------------------------------------------------------------
def default_path(spot_symbol: str, coinm_symbol: str) -> str:
    return f"state/{spot_symbol.lower()}_{coinm_symbol.lower()}.json"


_WHAT_TO_DO = ("Nothing was changed and the bot did not start. Inspect the file; compare it with the "
               "exchange (open orders on both venues, the COIN-M position); move it aside only after "
               "checking the exchange, or start with --adopt to take the exchange's view as truth.")


class StateStore:
    """One snapshot file. `save` is atomic and may be called from several threads; `update` builds
    the snapshot under the same lock, so the newest state is always the one left on disk."""

    def __init__(self, path: str | os.PathLike, *, spot_symbol: str | None = None,
                 coinm_symbol: str | None = None, venue: str | None = None) -> None:
        self.path = Path(path)
        self.expected = {"spot_symbol": spot_symbol, "coinm_symbol": coinm_symbol, "venue": venue}
        self._lock = threading.Lock()

    def save(self, snapshot: EngineSnapshot) -> None:
        """Temp file in the same directory, flush, fsync, rename over the old one, fsync the
        directory. On any failure the old file is intact and the temp file is gone."""
        problems = snapshot_problems(snapshot)
        if problems:                       # a bug upstream: refuse to write what load would refuse
            raise ValueError(f"refusing to save an inconsistent snapshot: {'; '.join(problems)}")
        data = encode(snapshot).encode()
        with self._lock:
            self._write(data)

    def update(self, build: Callable[[], EngineSnapshot]) -> EngineSnapshot:
        with self._lock:
            snapshot = build()
            problems = snapshot_problems(snapshot)
            if problems:
                raise ValueError(f"refusing to save an inconsistent snapshot: {'; '.join(problems)}")
            self._write(encode(snapshot).encode())
            return snapshot

    def check_writable(self) -> None:
        """At start: the folder exists (created if needed) and takes a file, the way `save` writes
        one; raises StateError otherwise. Nothing else in the folder is touched."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                       dir=self.path.parent)
            os.close(fd)
            os.unlink(tmp)
        except OSError as exc:
            raise StateError(f"STATE_PATH: {self.path} cannot be written "
                             f"({exc.strerror or exc})") from None

    def is_own_file(self) -> bool:
        """The file is a state file this bot wrote, for this pair and venue (not a ledger or
        anything else a mistyped STATE_PATH may point at). False when there is no file."""
        try:
            return self.load() is not None
        except StateError:
            return False

    def _write(self, data: bytes) -> None:
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        _fsync_dir(directory)              # the rename itself must survive a power cut

    def load(self) -> EngineSnapshot | None:
        """The snapshot, or None when there is no file. Anything else wrong raises StateError."""
        with self._lock:
            try:
                data = self.path.read_bytes()
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise self._error(f"cannot be read ({exc.strerror or exc})") from None
        try:
            snap = decode(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise self._error("is not UTF-8 text") from None
        except _Bad as exc:
            raise self._error(str(exc)) from None
        for name, want in self.expected.items():
            got = getattr(snap, name)
            if want is not None and got != want:
                raise self._error(f"belongs to {name} {got!r}, this run uses {want!r}")
        return snap

    def set_aside(self, now_ms: int | None = None) -> Path | None:
        """Rename the file to `<name>.corrupt-<ms>` (kept for inspection; used with --adopt when
        the file cannot be read). None when there was no file."""
        stamp = now_ms if now_ms is not None else int(time.time() * 1000)
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        with self._lock:
            try:
                os.replace(self.path, target)
            except FileNotFoundError:
                return None
            _fsync_dir(self.path.parent)
        return target

    def _error(self, what: str) -> StateError:
        return StateError(f"state file {self.path}: {what}. {_WHAT_TO_DO}")


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return                             # platforms without directory handles: best effort
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
