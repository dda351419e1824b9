"""Funding of the local exchange: the slow premium each perpetual's basis reverts to, its regimes,
and the history of settlements (what `GET /dapi/v1/fundingRate` serves).

The premium P (bps of spot) follows an Ornstein-Uhlenbeck process in funding-interval time, so a
compressed interval (SIM_FUNDING_INTERVAL) also compresses how fast funding moves. The funding rate
is Binance's F = P + clamp(0.01 % − P, ±0.05 %) (marks.funding_rate): flat 0.01 % while P stays
within [−4, +6] bps, above when P > 6 bps, negative only when P < −5 bps.

Regimes (the sign they promise is guaranteed by clipping P, not left to chance):
  normal    mean +0.5 bps (+ a per-coin offset up to +1.5), std 1.5 bps, plus episodes (about one in 12
            intervals) that push P by 8-15 bps, up more often than down, and decay with the rest:
            mostly the flat 0.01 %, sometimes more, now and then negative. Kept small on purpose:
            the basis the demo bot trades sits around P.
  positive  mean +6 bps, never below −3 bps: every settlement ≥ 0.01 %
  negative  mean −9 bps, never above −6 bps: every settlement ≤ −0.01 %
  flipping  ±8 bps, the sign changing every 3 settlements (clipped as positive/negative)
  hot       mean +25 bps, never below +15 bps: every settlement 0.10 % or more, about 0.2 % — the
            high end of what Binance shows in hot markets, for demos and tests of the carry on a
            compressed schedule (a run of minutes covers a 30 bps round trip of fees only there)
"""
from __future__ import annotations

import bisect
import math
import random
import threading
from dataclasses import dataclass
from decimal import Decimal

from arbitrage.sim.marks import funding_rate

REGIMES = ("normal", "positive", "negative", "flipping", "hot")
HISTORY_SETTLEMENTS = 90        # 30 days of 8-hourly settlements before the exchange starts
FLIP_EVERY = 3                  # settlements per sign in the flipping regime
_THETA = 0.5                    # mean reversion per funding interval
_POSITIVE_FLOOR, _NEGATIVE_CEILING = -3.0, -6.0
_HOT_MEAN, _HOT_FLOOR = 25.0, 15.0
_EPISODES_PER_INTERVAL = 0.08
_EPISODE_BPS = (8.0, 15.0)
_EPISODE_UP = 0.7


@dataclass(frozen=True, slots=True)
class FundingRow:
    symbol: str
    funding_time: int           # the settlement time (a multiple of the interval)
    rate: str                   # the settled rate as on the wire, 8 decimals
    mark: str                   # the mark price it was settled at, 8 decimals

    def wire(self) -> dict:
        return {"symbol": self.symbol, "fundingTime": self.funding_time, "fundingRate": self.rate,
                "markPrice": self.mark}


class FundingHistory:
    """Every settlement of every perpetual, oldest first per symbol; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, list[FundingRow]] = {}

    def add(self, symbol: str, funding_time: int, rate: Decimal | str, mark: Decimal | str) -> FundingRow:
        row = FundingRow(symbol, int(funding_time), f"{Decimal(rate):.8f}", f"{Decimal(mark):.8f}")
        with self._lock:
            rows = self._rows.setdefault(symbol, [])
            if rows and rows[-1].funding_time >= row.funding_time:
                raise ValueError(f"{symbol}: settlement at {funding_time} is not after the last one "
                                 f"({rows[-1].funding_time})")
            rows.append(row)
        return row

    def reset(self, symbol: str) -> None:
        """Forget `symbol`'s settlements (a funding history file replaces the exchange's own)."""
        with self._lock:
            self._rows.pop(symbol, None)

    def last_time(self, symbol: str) -> int:
        """The latest settlement time of `symbol`, 0 when none."""
        with self._lock:
            rows = self._rows.get(symbol)
            return rows[-1].funding_time if rows else 0

    def funding_history(self, symbol: str, start_ms: int | None = None, end_ms: int | None = None,
                        limit: int = 100) -> list[FundingRow]:
        """Binance's selection: within [start, end]; with a start, the first `limit` rows from
        it, else the last `limit` rows up to the end; ascending by time either way."""
        with self._lock:
            rows = list(self._rows.get(symbol, ()))
        times = [r.funding_time for r in rows]
        lo = 0 if start_ms is None else bisect.bisect_left(times, start_ms)
        hi = len(rows) if end_ms is None else bisect.bisect_right(times, end_ms)
        picked = rows[lo:hi]
        return picked[:limit] if start_ms is not None else picked[-limit:] if limit else []


@dataclass
class PremiumProcess:
    """One coin's slow premium (bps): what its basis reverts to and what sets its funding."""
    regime: str
    rng: random.Random
    offset_bps: float = 0.0     # per-coin level in the normal regime
    bps: float = 0.0

    def mean_and_clip(self, settlement_index: int) -> tuple[float, float, float]:
        """(mean, lowest, highest) of P around settlement `settlement_index`."""
        if self.regime == "positive":
            return 6.0, _POSITIVE_FLOOR, math.inf
        if self.regime == "negative":
            return -9.0, -math.inf, _NEGATIVE_CEILING
        if self.regime == "hot":
            return _HOT_MEAN, _HOT_FLOOR, math.inf
        if self.regime == "flipping":
            if (settlement_index // FLIP_EVERY) % 2 == 0:
                return 8.0, _POSITIVE_FLOOR, math.inf
            return -8.0, -math.inf, _NEGATIVE_CEILING
        return 0.5 + self.offset_bps, -math.inf, math.inf

    def std(self) -> float:
        return 1.5 if self.regime == "normal" else 2.0

    def start(self, settlement_index: int) -> None:
        mean, low, high = self.mean_and_clip(settlement_index)
        self.bps = min(max(self.rng.gauss(mean, self.std()), low), high)

    def step(self, intervals: float, settlement_index: int) -> float:
        """Advance by `intervals` funding intervals (exact OU transition); the new P."""
        mean, low, high = self.mean_and_clip(settlement_index)
        decay = math.exp(-_THETA * intervals)
        noise = self.std() * math.sqrt(max(0.0, 1.0 - decay * decay))
        self.bps = min(max(mean + (self.bps - mean) * decay + self.rng.gauss(0.0, noise), low), high)
        if self.regime == "normal" and self.rng.random() < 1.0 - math.exp(-_EPISODES_PER_INTERVAL * intervals):
            up = self.rng.random() < _EPISODE_UP
            self.bps += (1.0 if up else -1.0) * self.rng.uniform(*_EPISODE_BPS)
        return self.bps

    def rate(self) -> float:
        return funding_rate(self.bps / 1e4)


def new_process(regime: str, seed: int, base: str) -> PremiumProcess:
    """A coin's process, from its own generator: adding coins does not change another's path."""
    if regime not in REGIMES:
        raise ValueError(f"funding regime must be one of {', '.join(REGIMES)}, not {regime!r}")
    rng = random.Random(f"funding:{seed}:{base}")
    return PremiumProcess(regime, rng, offset_bps=rng.uniform(-0.5, 1.5))


def prefill(process: PremiumProcess, history: FundingHistory, symbol: str, now_ms: int,
            interval_ms: int, mark_now: float, vol_per_interval: float) -> None:
    """The last HISTORY_SETTLEMENTS settlements before `now_ms` from the same process, so that
    3-day sums and APRs mean something from the first second; leaves the process at `now_ms`.
    Past marks are a random walk that ends at today's price."""
    last = now_ms // interval_ms
    first = last - HISTORY_SETTLEMENTS + 1
    process.start(first)
    rates: list[float] = []
    walk = [0.0]
    for k in range(first, last + 1):
        if k > first:
            process.step(1.0, k)
            walk.append(walk[-1] + process.rng.gauss(0.0, vol_per_interval))
        rates.append(process.rate())
    for k, rate, w in zip(range(first, last + 1), rates, walk):
        mark = mark_now * math.exp(w - walk[-1])
        history.add(symbol, k * interval_ms, Decimal(f"{rate:.8f}"), Decimal(f"{mark:.8f}"))
    process.step((now_ms - last * interval_ms) / interval_ms, last)
