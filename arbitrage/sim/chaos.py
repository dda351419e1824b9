"""A fault plan for chaos runs: parsed from one spec string, applied at random (seeded) by a
background thread while the local exchange runs.

Grammar: comma-separated `key=value`, each key at most once, all optional:

  drop=P          each depth diff is dropped with probability P (a sequence gap)
  disconnect=N    every ~N s every WebSocket connection is closed
  silence=N:S     every ~N s the streams of one symbol (or all) fall silent for S s
  http5xx=P       each REST request is answered 500/502/503/504 (an HTML page from the "gateway"
                  for 502/504, Binance's JSON -1001 otherwise) with probability P; not executed
  ratelimit=N[:S] every ~N s all requests get 429 + Retry-After for S s (default 3); a client that
                  asks again before its Retry-After is banned: 418 + Retry-After
  slow=P:S        each REST request waits S s before it is served, with probability P
  clock=N:MS[:S]  every ~N s the server clock falls MS ms behind for S s (default min(10, N/2)), so
                  signed requests get -1021 "1000ms ahead" until the client re-syncs on /time;
                  a negative MS puts it ahead instead
  malformed=P     each stream event is replaced, with probability P, by truncated JSON, an HTML
                  page, the payload without a field, or with an unexpected extra field
  reduce=N        every ~N s a non-zero COIN-M position is force-reduced by 1-3 contracts (a
                  liquidation or ADL), with its order, userTrade and income rows
  reject=N        every ~N s the next order (spot or COIN-M) is refused (-2010)
  partial=N       every ~N s the next order fills only half
  unknown=N       every ~N s the next REST order executes but is answered 503 (outcome unknown)
  wslost=N        every ~N s the next WebSocket API order (spot or COIN-M) executes unanswered
  wslate=N:S      every ~N s the next WebSocket API order executes at once, its answer S s late
  udsdrop=N       every ~N s every connection carrying user data is closed
  lkexpire=N      every ~N s the live COIN-M listenKey expires long before its time
  eventlost=N     every ~N s the next order event of a user stream (spot or COIN-M) is never sent
  seed=K          the RNG seed (default 1)

"~N s" is N × a uniform factor in [0.75, 1.25], so faults do not line up with the bot's timers.
"""
from __future__ import annotations

import logging
import math
import random
import threading
import time
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from arbitrage.sim.exchange import LocalExchange

log = logging.getLogger("arbitrage.sim.chaos")

_TICK_SEC = 0.1


@dataclass(frozen=True)
class FaultPlan:
    drop: float = 0.0
    disconnect: float = 0.0                        # period, s (0 = never)
    silence: tuple[float, float] = (0.0, 0.0)      # (period, seconds)
    http5xx: float = 0.0
    ratelimit: tuple[float, float] = (0.0, 3.0)    # (period, seconds limited)
    slow: tuple[float, float] = (0.0, 0.0)         # (probability, seconds)
    clock: tuple[float, int, float] = (0.0, 0, 0.0)    # (period, ms, seconds held)
    malformed: float = 0.0
    reduce: float = 0.0                            # period, s
    reject: float = 0.0                            # period, s: the next order is refused
    partial: float = 0.0                           # period, s: the next order fills only half
    unknown: float = 0.0                           # period, s: the next order executes, answer 503
    wslost: float = 0.0                            # period, s: a WebSocket API answer is lost
    wslate: tuple[float, float] = (0.0, 0.0)       # (period, seconds late)
    udsdrop: float = 0.0                           # period, s: user data connections closed
    lkexpire: float = 0.0                          # period, s: the listenKey expires early
    eventlost: float = 0.0                         # period, s: a user-stream order event is lost
    seed: int = 1

    @classmethod
    def parse(cls, spec: str) -> "FaultPlan":
        """The plan a spec string describes; ValueError naming the bad part otherwise."""
        values: dict[str, object] = {}
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            key, eq, raw = part.partition("=")
            key = key.strip()
            if not eq or not raw.strip():
                raise ValueError(f"fault spec part {part!r} is not key=value")
            if key not in _PARSERS:
                raise ValueError(f"unknown fault {key!r} in {part!r}; known: {', '.join(_PARSERS)}")
            if key in values:
                raise ValueError(f"fault {key!r} given twice")
            try:
                values[key] = _PARSERS[key](raw.strip())
            except ValueError as exc:
                raise ValueError(f"fault {part!r}: {exc}") from None
        return cls(**values)   # type: ignore[arg-type]

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) != f.default for f in fields(self) if f.name != "seed")


# -- value parsers ---------------------------------------------------------------------------
def _number(raw: str, what: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{what} must be a number, not {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a finite number >= 0, not {raw!r}")
    return value


def _probability(raw: str) -> float:
    value = _number(raw, "a rate")
    if value > 1:
        raise ValueError(f"a rate is a probability within [0, 1], not {raw!r}")
    return value


def _period(raw: str) -> float:
    value = _number(raw, "a period in seconds")
    if value == 0:
        raise ValueError("a period must be > 0 seconds")
    return value


def _parts(raw: str, low: int, high: int, form: str) -> list[str]:
    parts = raw.split(":")
    if not low <= len(parts) <= high:
        raise ValueError(f"expected {form}, got {raw!r}")
    return parts


def _silence(raw: str) -> tuple[float, float]:
    n, s = _parts(raw, 2, 2, "N:S (every N s, silent for S s)")
    return _period(n), _period(s)


def _ratelimit(raw: str) -> tuple[float, float]:
    parts = _parts(raw, 1, 2, "N or N:S (every N s, limited for S s)")
    return _period(parts[0]), _period(parts[1]) if len(parts) == 2 else 3.0


def _slow(raw: str) -> tuple[float, float]:
    p, s = _parts(raw, 2, 2, "P:S (probability, seconds)")
    return _probability(p), _period(s)


def _clock(raw: str) -> tuple[float, int, float]:
    parts = _parts(raw, 2, 3, "N:MS or N:MS:S (every N s, shift MS ms, for S s)")
    period = _period(parts[0])
    try:
        ms = int(parts[1])
    except ValueError:
        raise ValueError(f"MS must be an integer number of milliseconds, not {parts[1]!r}") from None
    held = _period(parts[2]) if len(parts) == 3 else min(10.0, period / 2)
    return period, ms, held


def _wslate(raw: str) -> tuple[float, float]:
    n, s = _parts(raw, 2, 2, "N:S (every N s, answer S s late)")
    return _period(n), _period(s)


def _seed(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"seed must be an integer, not {raw!r}") from None


_PARSERS = {"drop": _probability, "disconnect": _period, "silence": _silence, "http5xx": _probability,
            "ratelimit": _ratelimit, "slow": _slow, "clock": _clock, "malformed": _probability,
            "reduce": _period, "reject": _period, "partial": _period, "unknown": _period,
            "wslost": _period, "wslate": _wslate, "udsdrop": _period, "lkexpire": _period,
            "eventlost": _period, "seed": _seed}


# -- applying a plan -------------------------------------------------------------------------
class ChaosRunner:
    """Sets the plan's rates on the exchange, then fires its periodic faults from one thread."""

    def __init__(self, exchange: "LocalExchange", plan: FaultPlan) -> None:
        self.ex, self.plan = exchange, plan
        self._rng = random.Random(plan.seed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        plan, ex = self.plan, self.ex
        ex.drop_rate(plan.drop)
        ex.http_error_rate(plan.http5xx)
        ex.slow_rate(*plan.slow)
        ex.malformed_rate(plan.malformed)
        self._thread = threading.Thread(target=self._run, name="sim-chaos", daemon=True)
        self._thread.start()
        log.info("[FAULT] chaos plan running: %s", self.plan)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _next(self, period: float) -> float:
        return time.monotonic() + period * self._rng.uniform(0.75, 1.25) if period > 0 else math.inf

    def _run(self) -> None:
        plan = self.plan
        actions = {"disconnect": (plan.disconnect, self.ex.disconnect_all),
                   "silence": (plan.silence[0], self._silence),
                   "ratelimit": (plan.ratelimit[0], lambda: self.ex.rate_limit_next(plan.ratelimit[1])),
                   "clock": (plan.clock[0], self._clock),
                   "reduce": (plan.reduce, self._reduce),
                   "reject": (plan.reject, lambda: self._order_fault("reject")),
                   "partial": (plan.partial, lambda: self._order_fault("partial")),
                   "unknown": (plan.unknown, lambda: self._order_fault("unknown")),
                   "wslost": (plan.wslost, lambda: self.ex.lose_next_ws_answers(self._market())),
                   "wslate": (plan.wslate[0],
                              lambda: self.ex.delay_next_ws_answers(self._market(), plan.wslate[1])),
                   "udsdrop": (plan.udsdrop, self.ex.drop_user_streams),
                   "lkexpire": (plan.lkexpire, self.ex.expire_listen_keys),
                   "eventlost": (plan.eventlost, lambda: self.ex.lose_next_user_events(self._market()))}
        due = {kind: self._next(period) for kind, (period, _) in actions.items()}
        while not self._stop.wait(_TICK_SEC):
            now = time.monotonic()
            for kind, (period, action) in actions.items():
                if now >= due[kind]:
                    due[kind] = self._next(period)
                    try:
                        action()
                    except Exception:   # a fault that cannot fire now must not end the run
                        log.exception("chaos: %s failed", kind)

    def _market(self) -> str:
        return self._rng.choice(("spot", "coinm"))

    def _order_fault(self, kind: str) -> None:
        """The next order on a market picked at random meets this fault."""
        market = self._rng.choice(("spot", "coinm"))
        if kind == "reject":
            self.ex.reject_next_orders(market, 1)
        elif kind == "partial":
            self.ex.fill_next_orders_partially(market, Decimal("0.5"))
        else:
            self.ex.answer_503_after_executing(market, 1)
        self.ex.market.fault_counts.add(kind)

    def _silence(self) -> None:
        symbols = self.ex.market.symbols
        symbol = self._rng.choice([None, *symbols])
        self.ex.silence(symbol, self.plan.silence[1])

    def _clock(self) -> None:
        _, ms, held = self.plan.clock
        self.ex.shift_clock(-ms, seconds=held)

    def _reduce(self) -> None:
        with self.ex.market.lock:
            held = [(s, p.amount) for s, p in self.ex.trading.account.positions.items() if p.amount != 0]
        if not held:
            return          # nothing to liquidate: not an injection
        symbol, amount = self._rng.choice(held)
        contracts = min(abs(amount), Decimal(self._rng.randint(1, 3)))
        self.ex.reduce_position(symbol, contracts, adl=self._rng.random() < 0.5)
