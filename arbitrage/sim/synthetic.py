"""A seeded synthetic market: spot random walk, mean-reverting basis with jumps, layered books.

The basis is tuned for a one-minute demo: |spread| crosses the 6 bps entry several times a minute
and falls back under the 2 bps exit. It reverts to a slow premium (arbitrage/sim/funding.py) that
also sets the perpetual's funding rate, so a coin whose perp trades rich pays positive funding.
Symbols outside CORE_SYMBOLS (the ranking's extra coins) move their books only every COLD_EVERY
ticks until a client subscribes to one of their streams (`warm`), so listing them costs little;
their prices and funding move every tick. Everything random comes from one `random.Random(seed)` drawn
in a fixed order per tick, so the price path depends on the seed only (timestamps are wall clock);
each coin's funding premium has its own generator derived from the seed.
"""
from __future__ import annotations

import logging
import math
import random
import threading
import time
from dataclasses import dataclass

from arbitrage.sim.book import Changes, SimBook
from arbitrage.sim.market import TICKER, Market
from arbitrage.sim.funding import PremiumProcess, new_process, prefill
from arbitrage.sim.marks import MarkState, next_funding_ms
from arbitrage.sim.symbols import CORE_SYMBOLS, SimSymbol

log = logging.getLogger("arbitrage.sim.synthetic")

TICK_SEC = 0.1           # one diff per symbol per 100 ms of model time
MARK_EVERY = 10          # ticks between markPrice updates (1 s)
COLD_EVERY = 20          # ticks between book updates of a symbol outside CORE_SYMBOLS (2 s)


@dataclass
class ModelParams:
    spot_vol_bps: float = 1.0        # per sqrt(second)
    basis_theta: float = 0.25        # mean reversion per second (half-life ≈ 2.8 s)
    basis_sigma_bps: float = 2.5     # per sqrt(second): stationary std ≈ 3.5 bps
    jump_rate: float = 0.06          # basis jumps per second
    jump_bps: tuple[float, float] = (7.0, 12.0)
    mark_noise_bps: float = 0.2
    near_bps: float = 2.0            # the "touch zone" that holds a few thousand USD or more
    near_levels: int = 8
    depth_bps: float = 25.0
    min_levels: int = 40
    max_levels: int = 60
    near_usd: float = 1500.0         # mean size of a near-touch level
    deep_usd: float = 15000.0


@dataclass
class _Pair:
    """One base coin: the hidden fair spot price and the perp's basis to it."""
    spot_mid: float
    premium: PremiumProcess
    basis_bps: float = 0.0


class SyntheticSource:
    name = "synthetic"

    def __init__(self, symbols: dict[str, SimSymbol], seed: int = 7, speed: float = 1.0,
                 funding_interval_sec: float = 8 * 3600, params: ModelParams | None = None,
                 funding_regime: str = "normal") -> None:
        self.specs = symbols
        self.speed = max(speed, 1e-3)
        self.funding_interval_sec = funding_interval_sec
        self.interval_ms = max(1, int(funding_interval_sec * 1000))
        self.p = params or ModelParams()
        self.rng = random.Random(seed)
        self.ticks = 0
        bases = sorted({s.base_asset for s in symbols.values()})
        start = {s.base_asset: s.start_price for s in symbols.values()}
        self.pairs = {b: _Pair(spot_mid=start[b], premium=new_process(funding_regime, seed, b))
                      for b in bases}
        self.cold = {s for s in symbols if s not in CORE_SYMBOLS}

    # -- lifecycle ---------------------------------------------------------------------------
    def prepare(self, market: Market) -> None:
        """Initial books (already layered) and marks, before any client can connect."""
        now = market.clock_ms()
        vol = self.p.spot_vol_bps * math.sqrt(self.funding_interval_sec) / 1e4
        for base, pair in self.pairs.items():
            perps = [s for s in self._perps() if s.base_asset == base]
            if perps:
                for spec in perps:
                    prefill(pair.premium, market.funding, spec.symbol, now, self.interval_ms,
                            pair.spot_mid, vol)
            else:
                pair.premium.start(now // self.interval_ms)
            pair.basis_bps = pair.premium.bps
        for sym, spec in self.specs.items():
            book = SimBook(spec, last_update_id=self.rng.randint(10**9, 5 * 10**9))
            bids, asks = self._evolve(book, self._fair_mid(spec))
            book.load(list(bids.items()), list(asks.items()), book.last_update_id)
            market.add_book(book)
        for spec in self._perps():
            market.set_mark(self._mark(spec, now), publish=False)

    def run(self, market: Market, stop: threading.Event) -> None:
        interval = TICK_SEC / self.speed
        next_at = time.monotonic()
        while not stop.is_set():
            next_at += interval
            delay = next_at - time.monotonic()
            if delay < -1.0:          # far behind (loaded machine): skip instead of bursting
                next_at = time.monotonic()
            elif delay > 0 and stop.wait(delay):
                break
            if time.monotonic() < market.still_until:
                continue              # a test holds the market still (LocalExchange.hold_still)
            try:
                self.tick(market, market.clock_ms())
            except Exception:
                log.exception("synthetic market tick failed; stopping the market")
                break

    # -- one step of the model ---------------------------------------------------------------
    def tick(self, market: Market, now_ms: int) -> None:
        rng = self.rng
        self.ticks += 1
        settlement = now_ms // self.interval_ms
        for pair in self.pairs.values():
            self._move(pair, settlement)
        for sym, spec in self.specs.items():
            if sym in self.cold and self.ticks % COLD_EVERY:
                continue
            with market.lock:
                book = market.books[sym]
                before = book.best()
                bids, asks = self._evolve(book, self._fair_mid(spec))
                jump = 0 if spec.is_spot else rng.randint(0, 40)
                market.apply_changes(sym, bids, asks, now_ms, id_jump=jump)
                if book.best() != before:
                    ticker = book.ticker(now_ms)
                    if ticker is not None:
                        market.publish(sym, TICKER, ticker)
        if self.ticks % MARK_EVERY == 0:
            for spec in self._perps():
                market.set_mark(self._mark(spec, now_ms))

    def _move(self, pair: _Pair, settlement: int) -> None:
        """One tick of a coin's fair spot price and basis (a subclass may script them)."""
        p, rng, dt = self.p, self.rng, TICK_SEC
        level = pair.premium.step(dt / self.funding_interval_sec, settlement)
        pair.spot_mid *= math.exp(rng.gauss(0.0, p.spot_vol_bps * math.sqrt(dt)) / 1e4)
        pair.basis_bps += -p.basis_theta * (pair.basis_bps - level) * dt
        pair.basis_bps += rng.gauss(0.0, p.basis_sigma_bps * math.sqrt(dt))
        if rng.random() < p.jump_rate * dt:
            pair.basis_bps += rng.choice((-1.0, 1.0)) * rng.uniform(*p.jump_bps)

    def spread_bps(self, base: str) -> float:
        """The model's basis, for tests: what |mark − spot| / spot is built around."""
        return self.pairs[base].basis_bps

    def warm(self, symbol: str) -> None:
        """Move `symbol`'s book every tick from now on (someone streams it)."""
        self.cold.discard(symbol)

    def premium_bps(self, base: str) -> float:
        """The slow premium the basis reverts to and the funding rate follows."""
        return self.pairs[base].premium.bps

    # -- helpers -----------------------------------------------------------------------------
    def _perps(self) -> list[SimSymbol]:
        return [s for s in self.specs.values() if not s.is_spot]

    def _fair_mid(self, spec: SimSymbol) -> float:
        pair = self.pairs[spec.base_asset]
        return pair.spot_mid if spec.is_spot else pair.spot_mid * (1 + pair.basis_bps / 1e4)

    def _mark(self, spec: SimSymbol, now_ms: int) -> MarkState:
        pair = self.pairs[spec.base_asset]
        mark = self._fair_mid(spec) * (1 + self.rng.gauss(0.0, self.p.mark_noise_bps) / 1e4)
        index = pair.spot_mid      # the model's fair spot, listed or not
        return MarkState(spec.symbol, spec.pair, mark, index, pair.premium.rate(),
                         next_funding_ms(now_ms, self.funding_interval_sec), now_ms)

    def _evolve(self, book: SimBook, mid: float) -> tuple[Changes, Changes]:
        """The changed levels that move the book to sit around `mid` (only what changed)."""
        spec, rng = book.spec, self.rng
        spread = 1 if spec.is_spot else rng.choice((1, 1, 2))
        bid_t = math.floor(mid / spec.tick - spread / 2.0)
        bids = self._side(book.bids, bid_t, -1, spec, mid)
        asks = self._side(book.asks, bid_t + spread, +1, spec, mid)
        return bids, asks

    def _side(self, levels: dict[float, float], touch: int, way: int, spec: SimSymbol,
              mid: float) -> Changes:
        p, rng = self.p, self.rng
        near = max(2, int(mid * p.near_bps / 1e4 / spec.tick))
        deep = max(near + p.min_levels, int(mid * p.depth_bps / 1e4 / spec.tick))
        price_of = {spec.to_ticks(px): px for px in levels}
        new = {t: levels[px] for t, px in price_of.items()}
        # distance from the touch in ticks, > 0 away from the spread; < 0: crossed by the move
        for t in [t for t in new if not 0 <= (t - touch) * way <= deep * 1.2]:
            del new[t]
        if touch not in new:
            new[touch] = self._size(spec, mid, p.near_usd)
        near_ticks = [t for t in new if (t - touch) * way <= near and t != touch]
        for _ in range(p.near_levels - 1 - len(near_ticks)):
            new.setdefault(touch + way * rng.randint(1, near), self._size(spec, mid, p.near_usd))
        # levels left behind by a fast move pile up near the touch: thin them to keep it realistic
        for t in rng.sample(near_ticks, k=max(0, len(near_ticks) - 2 * p.near_levels)):
            del new[t]
        for t in rng.sample(sorted(new), k=min(len(new), rng.randint(1, 4))):
            if t != touch and rng.random() < 0.25:
                del new[t]
            else:
                new[t] = self._size(spec, mid, p.near_usd if (t - touch) * way <= near else p.deep_usd)
        while len(new) < p.min_levels:
            new.setdefault(touch + way * rng.randint(near, deep), self._size(spec, mid, p.deep_usd))
        while len(new) > p.max_levels:
            del new[max(new, key=lambda t: (t - touch) * way)]
        changes: Changes = {px: 0.0 for t, px in price_of.items() if t not in new}
        for t, q in new.items():
            px = price_of.get(t)
            if px is None:
                changes[spec.round_price(t)] = q
            elif levels[px] != q:
                changes[px] = q
        return changes

    def _size(self, spec: SimSymbol, mid: float, mean_usd: float) -> float:
        usd = 100.0 + self.rng.expovariate(1.0 / mean_usd)
        if spec.is_spot:
            return max(float(spec.step_size), spec.round_qty(usd / mid))
        return float(max(1, round(usd / spec.contract_size)))
