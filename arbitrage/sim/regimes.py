"""A synthetic market whose basis is scripted: each level held for many ticks.

Used where two runs must take the same decisions although one of them may react late: the live
bot on a loaded machine can act a tick or several after the backtest does, and on the random
model (basis noise, jumps) a late look can land on the other side of a threshold. Here the
basis sits at one level for a whole regime (e.g. +9 bps for 5 s, then 0 for 5 s), so every look
inside a regime sees the same side of ENTER_BPS / EXIT_BPS, and decisions change only at regime
changes.

The spot price walks and the basis jitters from a generator of their own, so the price path
depends on the seed and the tick count only: what a run's fills did to the books (which shifts
the book model's draws) does not move the prices of later ticks. Books and marks are the
synthetic model's (`SyntheticSource`).

`hold`: while this event is not set, the first level is played and counted in `lead_ticks`
(live: the script starts once the bot is ready, however long a loaded machine takes to get it
there); a replay of the same market passes that count as `lead_ticks` instead.
"""
from __future__ import annotations

import math
import random
import threading
from typing import Sequence

from arbitrage.sim.synthetic import TICK_SEC, SyntheticSource, _Pair
from arbitrage.sim.symbols import SimSymbol

Regime = tuple[float, int]          # (basis bps, ticks held)


class HeldRegimes(SyntheticSource):
    name = "synthetic"

    def __init__(self, symbols: dict[str, SimSymbol], regimes: Sequence[Regime], seed: int = 7,
                 hold: threading.Event | None = None, lead_ticks: int = 0,
                 jitter_bps: float = 0.3, **kwargs) -> None:
        super().__init__(symbols, seed=seed, **kwargs)
        if not regimes or any(ticks <= 0 for _, ticks in regimes):
            raise ValueError("regimes: at least one (bps, ticks > 0)")
        self.regimes = list(regimes)
        self.hold = hold
        self.lead_ticks = lead_ticks
        self.jitter_bps = jitter_bps
        self.path_rng = random.Random(f"path:{seed}")
        self.script_ticks = sum(ticks for _, ticks in self.regimes)

    def level_at(self, tick: int) -> float:
        """The scripted basis at script tick `tick` (1 = the script's first; before it and
        after its end: the first and the last level)."""
        if tick >= 1:
            for bps, ticks in self.regimes:
                if tick <= ticks:
                    return bps
                tick -= ticks
            return self.regimes[-1][0]
        return self.regimes[0][0]

    @property
    def script_done(self) -> bool:
        return self.ticks - self.lead_ticks >= self.script_ticks

    def _move(self, pair: _Pair, settlement: int) -> None:
        if self.hold is not None and not self.hold.is_set():
            self.lead_ticks = self.ticks          # still waiting: this tick is a lead tick
        pair.premium.step(TICK_SEC / self.funding_interval_sec, settlement)   # funding moves on
        rng = self.path_rng
        pair.spot_mid *= math.exp(rng.gauss(0.0, self.p.spot_vol_bps * math.sqrt(TICK_SEC)) / 1e4)
        pair.basis_bps = (self.level_at(self.ticks - self.lead_ticks)
                          + rng.gauss(0.0, self.jitter_bps))
