"""Settings: defaults < .env < environment < CLI flags, validated all at once (design §11).

Every value from every layer goes through the same parser, so a bad value is reported the same way
wherever it came from, and every problem is collected before anything starts: the user fixes a
misconfigured run in one edit instead of one restart per typo. API keys are accepted only from the
environment or `.env` (never as flags, which would leak into `ps` and shell history) and their values
never appear in an error message, a repr or `--print-config`.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Callable, Mapping

from dotenv import dotenv_values

from arbitrage.filepaths import path_problems
from arbitrage.numbers import plain

DEFAULT, DOTENV, ENV, CLI = "default", ".env", "env", "cli"
VENUES = ("sim", "testnet", "live")
# Quotes the spot leg may use: the COIN-M contract is USD-denominated, so the spot leg must be a USD coin.
SPOT_QUOTES = ("USDT", "USDC", "FDUSD")
KEY_NAMES = ("spot_key", "spot_secret", "dapi_key", "dapi_secret")

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")
_COIN = re.compile(r"[A-Z0-9]{2,10}")
_SPOT_SYMBOL = re.compile(r"[A-Z0-9]+")
_COINM_SYMBOL = re.compile(r"([A-Z0-9]+)USD_(PERP|\d{6})")


class SettingsError(Exception):
    """Every problem found in the settings, one line each (the program exits with code 2)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


class _Bad(ValueError):
    """A value that does not parse: `reason` follows the value, `expected` says what is allowed."""

    def __init__(self, reason: str, expected: str) -> None:
        super().__init__(reason)
        self.reason, self.expected = reason, expected


@dataclass(frozen=True)
class _Spec:
    name: str                       # field name; the environment name is name.upper()
    default: Any                    # None = derived from other settings after parsing
    parse: Callable[[str], Any]     # text -> value, raises _Bad
    help: str
    flags: tuple[str, ...] | None = ()   # () = --name-with-dashes; None = no flag (secrets)
    is_bool: bool = False
    secret: bool = False

    @property
    def env(self) -> str:
        return self.name.upper()


def _number(kind: type, default: Any, *, low: float | None = None, above: bool = False,
            high: float | None = None, unit: str = "") -> Callable[[str], Any]:
    word = {Decimal: "a decimal number", float: "a number", int: "a whole number"}[kind]
    if high is not None:
        bounds = f" {'>' if above else '>='} {low} and <= {high}"
    else:
        bounds = f" > {low}" if above else f" >= {low}" if low is not None else ""
    expected = f"{word}{unit}{bounds}, e.g. {default}"

    def parse(text: str) -> Any:
        try:
            value = kind(text)
            finite = value.is_finite() if kind is Decimal else math.isfinite(value)
        except (ValueError, InvalidOperation):
            raise _Bad("is not a whole number" if kind is int else "is not a number", expected) from None
        if not finite:
            raise _Bad("is not a finite number", expected)
        if low is not None and (value < low or (above and value == low)):
            raise _Bad("is zero" if value == 0 else "is negative" if value < 0 else "is too small", expected)
        if high is not None and value > high:
            raise _Bad("is too large", expected)
        return value
    return parse


def _bool(text: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise _Bad("is not a boolean", "true/false, 1/0, yes/no or on/off")


def _choice(*choices: str, upper: bool = False) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.upper() if upper else text.lower()
        if value not in choices:
            raise _Bad("is not allowed", "one of " + ", ".join(choices))
        return value
    return parse


def _text(*, required: bool = False) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if required and not text:
            raise _Bad("is empty", "a file path")
        return text
    return parse


def _secret(text: str) -> str:
    # Whitespace or non-ASCII here is a copy-paste accident; it would only surface later as a
    # baffling signature error from the exchange.
    if any(c.isspace() or not c.isprintable() or not c.isascii() for c in text):
        raise _Bad("contains spaces or non-ASCII characters", "the value exactly as Binance shows it")
    return text


def _coin(text: str) -> str:
    if not _COIN.fullmatch(text.upper()):
        raise _Bad("is not a coin name", "2-10 letters or digits, e.g. BTC or ETH")
    return text.upper()


def _spot_symbol(text: str) -> str:
    value = text.upper()
    if not _SPOT_SYMBOL.fullmatch(value) or not value.endswith(SPOT_QUOTES) or _spot_base(value) == "":
        raise _Bad("is not a spot symbol", f"<BASE><QUOTE> with quote {'/'.join(SPOT_QUOTES)}, e.g. BTCUSDT")
    return value


def _coinm_symbol(text: str) -> str:
    value = text.upper()
    match = _COINM_SYMBOL.fullmatch(value)
    expected = "<BASE>USD_PERP or <BASE>USD_<YYMMDD>, e.g. BTCUSD_PERP"
    if not match:
        raise _Bad("is not a COIN-M symbol", expected)
    if match.group(2) != "PERP":
        try:
            datetime.strptime(match.group(2), "%y%m%d")
        except ValueError:
            raise _Bad("has no valid delivery date", expected)
    return value


def _replay_files(text: str) -> str:
    return ",".join(part.strip() for part in text.split(",") if part.strip())


def _url(text: str) -> str:
    if text and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", text):
        raise _Bad("is not an http address", "empty, or e.g. http://127.0.0.1:8080")
    return text


def _spot_base(symbol: str) -> str:
    for quote in SPOT_QUOTES:
        if symbol.endswith(quote):
            return symbol[: -len(quote)]
    return ""


def _d(name: str, default: str, help: str, **bounds: Any) -> _Spec:
    return _Spec(name, Decimal(default), _number(Decimal, default, **bounds), help)


def _f(name: str, default: float, help: str, **bounds: Any) -> _Spec:
    return _Spec(name, float(default), _number(float, default, **bounds), help)


def _b(name: str, default: bool, help: str) -> _Spec:
    return _Spec(name, default, _bool, help, is_bool=True)


SECONDS = dict(low=0, unit=" of seconds")
POSITIVE_SECONDS = dict(low=0, above=True, unit=" of seconds")
POSITIVE_MS = dict(low=0, above=True, unit=" of milliseconds")

SPECS: tuple[_Spec, ...] = (
    _Spec("pair", "BTC", _coin, "base coin: PAIR=ETH trades ETHUSDT against ETHUSD_PERP"),
    _Spec("spot_symbol", None, _spot_symbol, "spot symbol (default <PAIR>USDT)", ("--spot", "--spot-symbol")),
    _Spec("coinm_symbol", None, _coinm_symbol, "COIN-M symbol (default <PAIR>USD_PERP)",
          ("--coinm", "--coinm-symbol")),
    _Spec("venue", None, _choice(*VENUES), "sim | testnet | live (default: sim without keys, testnet with keys)"),
    _b("confirm_live", False, "required together with VENUE=live: real money"),
    _b("dry_run", False, "log would-be orders instead of sending them; fill them on paper"),
    _f("run_seconds", 0, "main loop duration, 0 = until stopped", **SECONDS),
    _f("poll_interval", 0.5, "timer tick for time-based rules", **POSITIVE_SECONDS),
    _d("enter_bps", "6", "entry threshold, bps", low=0, above=True),
    _d("exit_bps", "2", "convergence exit threshold, bps"),
    _d("stop_bps", "12", "stop threshold, bps"),
    _f("max_hold_sec", 30, "hold timeout", **POSITIVE_SECONDS),
    _b("auto_from_frontier", True, "size from the frontier, else fixed notional V_USD"),
    _d("min_v_usd", "5000", "minimum frontier notional, USD", low=0, above=True),
    _d("max_v_usd_frontier", "30000", "frontier cap on the notional, USD (the same on every pair; 0 = none)",
       low=0),
    _d("max_q_base_frontier", "0", "frontier cap on the spot leg, in the base coin (0 = none)", low=0),
    # The old name of MAX_Q_BASE_FRONTIER (it always meant the base coin, BTC or not); kept working.
    _Spec("max_q_btc_frontier", None, _number(Decimal, "0.5", low=0),
          "old name of MAX_Q_BASE_FRONTIER (default: its value)"),
    _d("v_usd", "10000", "fixed-notional size, USD", low=0, above=True),
    _Spec("execution_mode", "taker", _choice("taker", "maker", "chase"), "taker | maker | chase"),
    _f("chase_interval_ms", 200, "chase: least time between two requests "
       "following the touch", **POSITIVE_MS),
    _Spec("chase_hedge", "market", _choice("market", "race"),
          "chase: market (each fill hedged at once, COIN-M MARKET) | race (once filled, a perp "
          "order at the touch races a spot order back at no loss; an over-hedge closed at market)"),
    _d("chase_max_slip_bps", "5", "chase: how far the price may follow the touch from where the "
       "chase started, bps", low=0),
    _d("emergency_unwind_bps", "0", "a hedged position whose spread (signed by the entry) reaches "
       "this is closed at market on both legs, bps (<= 0: off)"),
    _Spec("order_transport", "rest", _choice("ws", "rest"),
          "ws (orders over the WebSocket API, REST when it is down; the pair monitor driven by the "
          "user data streams) | rest (orders and polls over REST)"),
    _f("pair_timeout_sec", 2, "pair monitor timeout", **POSITIVE_SECONDS),
    _f("pair_poll_interval", 0.2, "pair monitor poll interval", **POSITIVE_SECONDS),
    _d("max_slippage_bps_spot", "1", "fixed-notional slippage cap, spot, bps", low=0),
    _d("max_slippage_bps_coinm", "2", "fixed-notional slippage cap, COIN-M, bps", low=0),
    _f("max_book_skew_ms", 500, "largest allowed age difference of the two books", **POSITIVE_MS),
    _d("liq_dist_min_pct", "3", "minimum distance to liquidation, percent", low=0),
    _d("margin_ratio_max", "70", "largest margin ratio, percent", low=0, above=True, high=100),
    _f("funding_buffer_sec", 20, "funding-crossing notice", **SECONDS),
    _f("reopen_cooldown_sec", 5, "pause after an exit before the next entry", **SECONDS),
    _b("flatten_on_exit", False, "close the position when the program stops"),
    _b("quote_shared", False, "other bots trade this account's quote coin (a fleet sets it): the "
                              "end-of-run check of the quote coin is shown, not decisive"),
    _f("book_stale_ms", 5000, "a book without updates for longer is stale", **POSITIVE_MS),
    _f("mark_stale_ms", 5000, "a mark price without updates for longer is stale", **POSITIVE_MS),
    _f("status_interval", 5, "seconds between status lines", **POSITIVE_SECONDS),
    _b("adopt", False, "on start, take the exchange's view as truth when the state file disagrees"),
    _b("verify_books", False, "also stream bookTicker and check both books against it (resync on a mismatch)"),
    _Spec("state_path", None, _text(required=True), "state file (default state/<spot>_<coinm>.json)"),
    _Spec("trades_log", "trades_log.csv", _text(required=True), "trades CSV"),
    _Spec("log_level", "INFO", _choice("DEBUG", "INFO", "WARNING", "ERROR", upper=True),
          "DEBUG | INFO | WARNING | ERROR"),
    _Spec("record", "", _text(), "capture market data to FILE (empty = off)"),
    _Spec("recv_window", 5000, _number(int, 5000, low=1, high=60000, unit=" of milliseconds"),
          "recvWindow for signed requests, ms"),
    _f("http_timeout", 5, "HTTP request timeout", **POSITIVE_SECONDS),
    _Spec("strategy", "scalp", _choice("scalp", "carry"),
          "scalp (the spread's convergence, ENTER/EXIT/STOP_BPS) | carry (funding across settlements)"),
    _Spec("min_net_edge_bps", None, _number(Decimal, "5"),
          "scalp: smallest edge after the round-trip fees an entry needs, bps (empty = off)"),
    _d("carry_invest_usd", "10000", "carry: notional invested, USD (quote currency)", low=0, above=True),
    _d("carry_min_net_apr", "10", "carry: smallest net APR after fees over the planned hold, percent"),
    _d("carry_min_net_bps", "0", "carry: smallest net bps after fees over the planned hold"),
    _d("carry_hold_hours", "24", "carry: planned hold the expected funding is counted over, hours",
       low=0, above=True),
    _d("carry_max_hold_hours", "72", "carry: a carry is closed after this long, hours", low=0, above=True),
    _Spec("carry_lookback", 3, _number(int, 3, low=1, high=100),
          "carry: settled rates averaged with the predicted one"),
    _d("coinm_margin_buffer", "2", "COIN-M margin free before an entry, as a multiple of its initial "
       "margin (1 = exactly the margin)", low=1),
    *(_Spec(name, "", _secret, "", None, secret=True) for name in KEY_NAMES),
    _Spec("sim_url", "", _url, "REST address of a running local exchange (empty = start one in-process)"),
    _Spec("sim_source", "synthetic", _choice("synthetic", "replay"), "synthetic | replay"),
    _Spec("sim_replay", "", _replay_files, "comma-separated capture files for SIM_SOURCE=replay"),
    _f("sim_speed", 1.0, "replay/market speed factor", low=0, above=True),
    _Spec("sim_faults", "", _text(), "fault plan for the local exchange, e.g. drop=0.01,disconnect=20"),
    _Spec("sim_seed", 15, _number(int, 15), "market model seed (15: the demo minute trades both ways)"),
    _f("sim_funding_interval", 28800, "seconds between funding settlements on the local exchange "
       "(Binance: 8 h; shorter for demos and tests)", **POSITIVE_SECONDS),
    _Spec("sim_funding_regime", "normal", _choice("normal", "positive", "negative", "flipping", "hot"),
          "funding sign on the local exchange: normal | positive | negative | flipping | hot"),
    _Spec("sim_queue_model", "none", _choice("none", "risk_averse"),
          "resting orders on the local exchange: none (fill only when the book trades through "
          "their price) | risk_averse (also from trades at their price once the queue ahead "
          "has traded)"),
)
_BY_NAME = {spec.name: spec for spec in SPECS}


@dataclass(frozen=True)
class Settings:
    pair: str
    spot_symbol: str
    coinm_symbol: str
    venue: str
    confirm_live: bool
    dry_run: bool
    run_seconds: float
    poll_interval: float
    enter_bps: Decimal
    exit_bps: Decimal
    stop_bps: Decimal
    max_hold_sec: float
    auto_from_frontier: bool
    min_v_usd: Decimal
    max_v_usd_frontier: Decimal
    max_q_base_frontier: Decimal
    max_q_btc_frontier: Decimal         # = max_q_base_frontier (its old name)
    v_usd: Decimal
    execution_mode: str
    pair_timeout_sec: float
    chase_interval_ms: float
    chase_max_slip_bps: Decimal
    chase_hedge: str
    emergency_unwind_bps: Decimal
    pair_poll_interval: float
    max_slippage_bps_spot: Decimal
    max_slippage_bps_coinm: Decimal
    max_book_skew_ms: float
    liq_dist_min_pct: Decimal
    margin_ratio_max: Decimal
    funding_buffer_sec: float
    reopen_cooldown_sec: float
    flatten_on_exit: bool
    quote_shared: bool
    book_stale_ms: float
    mark_stale_ms: float
    status_interval: float
    adopt: bool
    verify_books: bool
    state_path: str
    trades_log: str
    log_level: str
    record: str
    recv_window: int
    http_timeout: float
    spot_key: str = field(repr=False)       # repr=False: a logged Settings must not leak keys
    spot_secret: str = field(repr=False)
    dapi_key: str = field(repr=False)
    dapi_secret: str = field(repr=False)
    sim_url: str = ""
    sim_source: str = "synthetic"
    sim_replay: str = ""                    # normalised "a.jsonl,b.jsonl"; see replay_files
    sim_speed: float = 1.0
    sim_faults: str = ""
    sim_seed: int = 15
    sim_funding_interval: float = 28800.0
    sim_funding_regime: str = "normal"
    sim_queue_model: str = "none"
    print_config: bool = False
    strategy: str = "scalp"
    min_net_edge_bps: Decimal | None = None
    carry_invest_usd: Decimal = Decimal(10000)
    carry_min_net_apr: Decimal = Decimal(10)
    carry_min_net_bps: Decimal = Decimal(0)
    carry_hold_hours: Decimal = Decimal(24)
    carry_max_hold_hours: Decimal = Decimal(72)
    carry_lookback: int = 3
    order_transport: str = "rest"
    coinm_margin_buffer: Decimal = Decimal(2)
    sources: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def spot_base(self) -> str:
        return _spot_base(self.spot_symbol)

    @property
    def spot_quote(self) -> str:
        return self.spot_symbol[len(self.spot_base):]

    @property
    def coinm_base(self) -> str:
        return self.coinm_symbol.split("USD_")[0]

    @property
    def is_perpetual(self) -> bool:
        return self.coinm_symbol.endswith("_PERP")

    @property
    def replay_files(self) -> tuple[str, ...]:
        return tuple(self.sim_replay.split(",")) if self.sim_replay else ()

    @property
    def secret_values(self) -> tuple[str, ...]:
        """The configured keys and secrets, for the log redaction filter."""
        return tuple(v for v in (getattr(self, n) for n in KEY_NAMES) if v)

    def source_of(self, name: str) -> str:
        return self.sources.get(name.lower(), DEFAULT)

    def masked(self) -> dict[str, str]:
        """Every setting as `value (source)` for --print-config; keys show at most their last 4 chars."""
        out: dict[str, str] = {}
        for spec in SPECS:
            value = getattr(self, spec.name)
            if spec.secret:
                shown = _mask(value)
            else:
                shown = plain(value) if value != "" else "(empty)"
            out[spec.env] = f"{shown} ({self.source_of(spec.name)})"
        return out


def _mask(secret: str) -> str:
    if not secret:
        return "(not set)"
    # Only long values keep a recognisable tail; 4 characters of a short value give too much away.
    return "****" + secret[-4:] if len(secret) >= 16 else "****"


def load_settings(argv: list[str], environ: Mapping[str, str],
                  dotenv_path: str | None = ".env", trading: bool = True) -> Settings:
    """Parse and validate; raises SettingsError listing every problem. `trading=False` (a
    read-only tool such as app.rank) lets testnet/live run without keys or CONFIRM_LIVE.

    `--help` and unknown or malformed flags exit through argparse (SystemExit 0 / 2)."""
    cli = _parse_cli(argv)
    problems: list[str] = []
    layers: list[tuple[str, Mapping[str, Any]]] = [(DOTENV, _read_dotenv(dotenv_path, problems)),
                                                   (ENV, environ), (CLI, cli)]
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for spec in SPECS:
        raw, source = None, DEFAULT
        for layer_name, layer in layers:
            key = spec.name if layer_name == CLI else spec.env
            if layer.get(key) is not None:
                raw, source = layer[key], layer_name
        if raw is None:
            values[spec.name] = spec.default
        else:
            try:
                values[spec.name] = spec.parse(str(raw).strip())
            except _Bad as bad:
                problems.append(_describe(spec, str(raw), source, bad))
                continue
        sources[spec.name] = source
    _derive(values, sources)
    problems += _cross_check(values, trading)
    if trading:         # a read-only tool writes neither the state file nor the ledger
        problems += path_problems(values.get("state_path"), values.get("trades_log"))
    if problems:
        raise SettingsError(problems)
    return Settings(**values, print_config=bool(cli.get("print_config")),
                    sources=MappingProxyType(sources))


def _describe(spec: _Spec, raw: str, source: str, bad: _Bad) -> str:
    where = f" [from {_flags(spec)[0] if source == CLI else source}]"
    if spec.secret:
        return f"{spec.env}: value {bad.reason} (value not shown; expected {bad.expected}){where}"
    return f"{spec.env}: {raw!r} {bad.reason} (expected {bad.expected}){where}"


def _derive(values: dict[str, Any], sources: dict[str, str]) -> None:
    """Fill the settings whose defaults depend on others (explicit symbols win over PAIR)."""
    pair = values.get("pair")
    for name, suffix in (("spot_symbol", "USDT"), ("coinm_symbol", "USD_PERP")):
        if name in values and values[name] is None:
            values[name] = f"{pair}{suffix}" if pair else None
            sources[name] = sources.get("pair", DEFAULT)
    if values.get("state_path") is None and values.get("spot_symbol") and values.get("coinm_symbol"):
        values["state_path"] = f"state/{values['spot_symbol'].lower()}_{values['coinm_symbol'].lower()}.json"
    _derive_base_cap(values, sources)
    if values.get("venue") is None and "venue" in values:
        has_keys = any(values.get(name) for name in KEY_NAMES)
        values["venue"] = "testnet" if has_keys else "sim"


def _derive_base_cap(values: dict[str, Any], sources: dict[str, str]) -> None:
    """MAX_Q_BTC_FRONTIER is the old name of MAX_Q_BASE_FRONTIER: given alone, it sets it (both given
    and different is a problem, reported by _cross_check); the two always read the same after this."""
    if "max_q_btc_frontier" not in values or "max_q_base_frontier" not in values:
        return                                   # one of them failed to parse
    old, new = values["max_q_btc_frontier"], values["max_q_base_frontier"]
    if old is not None and sources.get("max_q_base_frontier", DEFAULT) == DEFAULT:
        values["max_q_base_frontier"] = old
        sources["max_q_base_frontier"] = sources.get("max_q_btc_frontier", DEFAULT)
    elif old is None:
        values["max_q_btc_frontier"] = new
        sources["max_q_btc_frontier"] = DEFAULT


def base_cap_name(settings: Any) -> str:
    """The name the user gave the base-coin cap, for messages about it."""
    return ("MAX_Q_BTC_FRONTIER" if settings.source_of("max_q_btc_frontier") != DEFAULT
            and settings.source_of("max_q_base_frontier") == settings.source_of("max_q_btc_frontier")
            else "MAX_Q_BASE_FRONTIER")


def _cross_check(v: dict[str, Any], trading: bool = True) -> list[str]:
    """Rules between settings; a setting that failed to parse is absent and its rules are skipped."""
    problems: list[str] = []

    def have(*names: str) -> bool:
        return all(v.get(n) is not None for n in names)

    if have("enter_bps", "exit_bps") and v["enter_bps"] <= v["exit_bps"]:
        problems.append(f"ENTER_BPS: {v['enter_bps']} is not above EXIT_BPS {v['exit_bps']} "
                        "(expected ENTER_BPS > EXIT_BPS: a position must be able to converge)")
    if have("stop_bps", "enter_bps") and v["stop_bps"] <= v["enter_bps"]:
        problems.append(f"STOP_BPS: {v['stop_bps']} is not above ENTER_BPS {v['enter_bps']} "
                        "(expected STOP_BPS > ENTER_BPS, or every entry is stopped at once)")
    if have("max_q_btc_frontier", "max_q_base_frontier") and \
            v["max_q_btc_frontier"] != v["max_q_base_frontier"]:
        problems.append(f"MAX_Q_BTC_FRONTIER: {v['max_q_btc_frontier']} differs from MAX_Q_BASE_FRONTIER "
                        f"{v['max_q_base_frontier']} (expected only one of them: it is its old name)")
    if have("max_v_usd_frontier", "min_v_usd") and v.get("auto_from_frontier") is not False \
            and 0 < v["max_v_usd_frontier"] < v["min_v_usd"]:
        problems.append(f"MAX_V_USD_FRONTIER: {v['max_v_usd_frontier']} is below MIN_V_USD "
                        f"{v['min_v_usd']} (expected MAX_V_USD_FRONTIER >= MIN_V_USD, or 0 = no cap: "
                        "no frontier entry could ever pass)")
    if have("emergency_unwind_bps", "enter_bps") and v.get("strategy", "scalp") == "scalp" \
            and 0 < v["emergency_unwind_bps"] <= v["enter_bps"]:
        problems.append(f"EMERGENCY_UNWIND_BPS: {v['emergency_unwind_bps']} is not above ENTER_BPS "
                        f"{v['enter_bps']} (expected EMERGENCY_UNWIND_BPS > ENTER_BPS, or <= 0 = off: "
                        "every entry would be unwound at once)")
    if have("carry_hold_hours", "carry_max_hold_hours") and \
            v["carry_max_hold_hours"] < v["carry_hold_hours"]:
        problems.append(f"CARRY_MAX_HOLD_HOURS: {v['carry_max_hold_hours']} is below CARRY_HOLD_HOURS "
                        f"{v['carry_hold_hours']} (expected CARRY_MAX_HOLD_HOURS >= CARRY_HOLD_HOURS)")
    if have("spot_symbol", "coinm_symbol"):
        spot_base, coinm_base = _spot_base(v["spot_symbol"]), v["coinm_symbol"].split("USD_")[0]
        if spot_base != coinm_base:
            problems.append(f"COINM_SYMBOL: {v['coinm_symbol']!r} is on {coinm_base} but SPOT_SYMBOL "
                            f"{v['spot_symbol']!r} is on {spot_base} (expected the same base coin)")
    for key, secret in (("spot_key", "spot_secret"), ("dapi_key", "dapi_secret")):
        if have(key, secret) and bool(v[key]) != bool(v[secret]):
            missing, present = (secret, key) if v[key] else (key, secret)
            problems.append(f"{missing.upper()}: not set while {present.upper()} is "
                            "(expected both or neither)")
    venue = v.get("venue")
    if venue in ("testnet", "live") and trading:
        missing = [n.upper() for n in KEY_NAMES if v.get(n) == ""]
        if missing:
            problems.append(f"VENUE: {venue!r} needs API keys but {', '.join(missing)} "
                            f"{'is' if len(missing) == 1 else 'are'} not set "
                            "(expected all four keys in the environment or .env, or VENUE=sim)")
    if venue == "live" and v.get("confirm_live") is False and trading:
        problems.append("VENUE: 'live' trades real money and is not confirmed "
                        "(expected --confirm-live or CONFIRM_LIVE=true together with --venue live)")
    if v.get("sim_source") == "replay" and v.get("sim_replay") is not None:
        if not v["sim_replay"]:
            problems.append("SIM_REPLAY: not set (expected capture files, comma-separated, "
                            "when SIM_SOURCE=replay)")
        for path in filter(None, v["sim_replay"].split(",")):
            if not os.path.isfile(path):
                problems.append(f"SIM_REPLAY: {path!r} does not exist (expected a capture file)")
    return problems


def _read_dotenv(path: str | None, problems: list[str]) -> Mapping[str, str | None]:
    if not path or not os.path.exists(path):
        return {}
    try:
        # interpolate=False: values are taken literally, so a `$` in a secret survives and nothing is
        # pulled from os.environ behind the caller's back.
        return dotenv_values(path, interpolate=False)
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f".env: cannot read {path!r}: {exc.__class__.__name__} (expected a readable UTF-8 file)")
        return {}


def _flags(spec: _Spec) -> tuple[str, ...]:
    return spec.flags or ("--" + spec.name.replace("_", "-"),)


def _parse_cli(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m app.main",      # argparse would say "main.py": not how it is started
        description="Spot / COIN-M basis bot. Every option can also be set in the environment or .env "
                    "under its upper-case name; API keys only there (SPOT_KEY, SPOT_SECRET, DAPI_KEY, DAPI_SECRET).",
        allow_abbrev=False)
    for spec in SPECS:
        if spec.flags is None:
            continue
        flags = _flags(spec)
        shown = "derived" if spec.default is None else repr(spec.default) if spec.default == "" else spec.default
        help_text = f"{spec.help} [{spec.env}, default {shown}]".replace("%", "%%")
        if spec.is_bool:
            parser.add_argument(*flags, dest=spec.name, action=argparse.BooleanOptionalAction,
                                default=argparse.SUPPRESS, help=help_text)
        else:
            parser.add_argument(*flags, dest=spec.name, default=argparse.SUPPRESS, help=help_text,
                                metavar="FILE" if spec.name == "record" else spec.env)
    parser.add_argument("--print-config", action="store_true", help="print the effective settings and exit")
    parsed = vars(parser.parse_args(argv))
    # Booleans arrive as Python bools; turn them into text so every layer goes through one parser.
    return {k: (str(v).lower() if isinstance(v, bool) and k != "print_config" else v) for k, v in parsed.items()}


def check_dotenv_permissions(path: str = ".env") -> str | None:
    """A warning when the .env file (which holds the keys) is readable by group or others."""
    if os.name == "nt":
        return None   # POSIX modes mean nothing there
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        return (f"{path} is readable by group/others (mode {mode:04o}) and may hold API keys; "
                f"run: chmod 600 {path}")
    return None
