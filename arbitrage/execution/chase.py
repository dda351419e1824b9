"""EXECUTION_MODE=chase, the I/O around the pure core (strategy/chase.py, hedge_fill.py): the spot
leg rests at the touch and follows it; every fill is hedged at once with a COIN-M MARKET order.

Runs on the pair executor's execution thread (one pair at a time, as every pair) and reports the
same `PairResult` the trader books: `spot` is the first spot order, `perp` the first hedge, and
`rescues` every later one (replacements `<trade>-s-e<n>`, hedges `<trade>-p-e<n>`: the ledger's
open row holds them all) plus the protocol's own rescues (`-r<n>`). It borrows the executor's
gateways, its order primitives (send, resolve, cancel, refresh, fills) and its update source:
fills are pushed by the user streams with ORDER_TRANSPORT=ws, polled with rest.

The market it chases comes from the engine thread (`ChaseFeed.publish`, once per evaluation):
the touch on both books and whether the entry rule still holds. The chase ends when the plan is
filled, when `decide_chase` gives up (the entry rule no longer holds, or the touch moved beyond
CHASE_MAX_SLIP_BPS), or at PAIR_TIMEOUT_SEC × CHASE_LIFE_TIMEOUTS; what is still open is
cancelled, and what is left unhedged beyond one contract goes through the usual rescue.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from decimal import Decimal

from arbitrage.exchanges.errors import BinanceError, Rejected
from arbitrage.execution.pairs import PairExecutor, PairResult, PairSpec, client_id
from arbitrage.models import BUY, COINM, SPOT, OrderRequest
from arbitrage.numbers import plain
from arbitrage.execution.orders import REJECTED, SUBMITTED, UNKNOWN, TrackedOrder
from arbitrage.strategy.chase import (AMEND_QTY, GIVE_UP, REPLACE, ChaseSettings, RestingOrder,
                                      decide_chase)
from arbitrage.execution.race import RaceRunner
from arbitrage.strategy.hedge_fill import hedge_for_fill

log = logging.getLogger("arbitrage.chase")

ZERO = Decimal(0)
VWAP_DP = Decimal("0.00000001")
CHASE_LIFE_TIMEOUTS = 15       # a chase lives at most this many PAIR_TIMEOUT_SEC


@dataclass(frozen=True, slots=True)
class ChaseMarket:
    """What the engine saw at its last evaluation."""
    spot_bid: Decimal
    spot_ask: Decimal
    perp_bid: Decimal
    perp_ask: Decimal
    rule_met: dict                 # direction -> the entry rule holds


class ChaseFeed:
    """The newest market from the engine thread; one reference swap, read by the chase."""
    def __init__(self) -> None:
        self._latest: ChaseMarket | None = None

    def publish(self, market: ChaseMarket) -> None:
        self._latest = market

    def latest(self) -> ChaseMarket | None:
        return self._latest


@dataclass
class ChaseStats:
    chases: int = 0
    given_up: int = 0
    amends: int = 0
    replaces: int = 0
    hedges: int = 0
    naked_ms: list = field(default_factory=list)     # fill seen -> its hedge answered, each
    naked_usd_max: Decimal = ZERO                     # largest carried part (below one contract)
    hedges_by_trade: dict = field(default_factory=dict)   # trade id -> hedge orders that filled

    def describe(self, race_outcomes=None) -> str:
        """One summary line: what the chases did and how long and how much was naked."""
        naked = sorted(self.naked_ms)
        text = (f"chase: {self.chases} chases, {self.given_up} given up, {self.replaces} "
                f"cancel-replaces, {self.amends} amends, {self.hedges} hedges on fill")
        if naked:
            text += (f"; naked fill -> hedge {naked[len(naked) // 2]:.1f} ms median, "
                     f"{naked[-1]:.1f} ms max; carried at most ${self.naked_usd_max:.2f}")
        if race_outcomes:
            text += "; races: " + ", ".join(f"{k} {v}" for k, v in sorted(race_outcomes.items()))
        return text


@dataclass
class _Run:
    spec: PairSpec
    direction: str
    kept: Decimal                  # base coin held per unit bought (1 - a base-coin commission)
    spot: list                     # spot orders, newest last
    hedges: list
    start_price: Decimal
    last_request_ms: int
    hedged_base: Decimal = ZERO    # spot executed so far that the hedge step has seen
    carried: Decimal = ZERO


class ChaseExecutor:
    def __init__(self, pairs: PairExecutor, feed: ChaseFeed, settings: ChaseSettings,
                 pair_timeout_s: float, race: bool = False) -> None:
        """`race` (CHASE_HEDGE=race): no market hedge per fill; once the chase ends, the filled
        spot is hedged by a race (race.py)."""
        self.pairs = pairs
        self.race = RaceRunner(pairs, feed, pair_timeout_s * CHASE_LIFE_TIMEOUTS) if race else None
        self.feed = feed
        self.settings = settings
        self.life_s = pair_timeout_s * CHASE_LIFE_TIMEOUTS
        self.clock = pairs.clock
        self.stats = ChaseStats()

    # -- engine thread ------------------------------------------------------------------------
    def submit(self, spec: PairSpec, direction: str, kept: Decimal) -> None:
        """Start a chase: `spec.spot` is the first LIMIT_MAKER at the touch, `spec.perp` the
        hedge as planned (its side and symbol; sizes come from the fills)."""
        self.pairs.busy.set()
        self.stats.chases += 1
        self.pairs.worker.submit(self._complete, spec, direction, kept)

    # -- execution thread ---------------------------------------------------------------------
    def _complete(self, spec: PairSpec, direction: str, kept: Decimal) -> None:
        first = TrackedOrder(spec.spot)
        run = _Run(spec, direction, kept, [first], [], spec.spot.price, self.clock.now_ms())
        hedge_plan = TrackedOrder(spec.perp)        # replaced by the first hedge sent
        result = None
        try:
            self.pairs.on_created([])                # the entry's record (the trader's pending legs)
            self.pairs._send(first, spec.spot_px)
            result = self._chase(run)
        except Exception as exc:   # never leave the engine waiting: a bug here halts, loudly
            log.exception("[HALT] chase of %s failed unexpectedly", spec.trade_id)
            result = self._result(run, hedge_plan)
            result.halt_reason = f"chase error: {type(exc).__name__}: {exc}"
        finally:
            self.pairs.busy.clear()
        self.pairs.on_done(result)

    def _chase(self, run: _Run) -> PairResult:
        deadline = self.clock.monotonic() + self.life_s
        interval_s = self.settings.interval_ms / 1000
        reason = "the chase's time ran out"
        while self.clock.monotonic() < deadline:
            current = run.spot[-1]
            if current.status == UNKNOWN:
                self.pairs._resolve(current)
            wake = min(deadline, self.clock.monotonic() + interval_s)
            for o in self.pairs.updates.next([current], wake):
                if not o.final:
                    self.pairs._refresh(o)
            self._hedge_new_fills(run)
            needed = run.spec.spot.quantity - self._executed(run)
            if needed <= 0 or current.status == UNKNOWN:
                reason = "filled" if needed <= 0 else "a spot order's outcome is unknown"
                break
            step = self._step(run, current, needed)
            if step is not None:
                reason = step
                break
        for o in run.spot:
            if not o.final and o.status != UNKNOWN:
                self.pairs._cancel(o)
        self._hedge_new_fills(run)
        log.info("[CHASE] %s ends: %s; spot %s of %s, %d hedge(s), %s carried", run.spec.trade_id,
                 reason, plain(self._executed(run)), plain(run.spec.spot.quantity),
                 len(run.hedges), plain(run.carried.quantize(VWAP_DP)))
        result = self._result(run, None)
        unknown = [o.request.client_order_id for o in result.orders if o.status == UNKNOWN]
        if unknown:
            # what the chase holds is not known: a rescue sized on a guess could double it
            self.pairs._account(result)
            result.halt_reason = (f"outcome of {', '.join(unknown)} still unknown after every "
                                  f"query: check it by client order id on the exchange")
        elif not self.pairs._unsettled(result):
            self.pairs._account(result)
            held = self._executed(run) * run.kept
            if self.race is not None and held > 0 and self.feed.latest() is not None:
                self._vwaps(result)
                self.race.run(result, run.direction, held, result.spot_vwap, len(run.hedges) + 1)
                self.pairs._account(result)
            if not self.pairs._unsettled(result):
                self.pairs._rescue(result, first_attempt=1 + sum(
                    1 for o in result.rescues if _step(o) == "r"))
        self.pairs._collect_fills(result)
        self._vwaps(result)
        return result

    def _step(self, run: _Run, current: TrackedOrder, needed: Decimal) -> str | None:
        """One decision of the chase; a reason when it ends."""
        market = self.feed.latest()
        if market is None:
            return None
        for older in run.spot[:-1]:          # never two spot orders open: one could overfill
            if not older.final and older.status != UNKNOWN:
                self.pairs._cancel(older)
        rule = bool(market.rule_met.get(run.direction))
        if current.final:
            # rejected (a post-only order that would have taken) or cancelled: a new order at
            # the touch, unless the rule says stop
            if not rule:
                self.stats.given_up += 1
                return "the entry rule no longer holds"
            return self._replace(run, current, needed, market, cancel=False)
        req = current.request
        state = current.state
        resting = RestingOrder(req.side, req.price, state.orig_qty if state else req.quantity,
                               current.executed, run.start_price, run.last_request_ms)
        intent = decide_chase(resting, market.spot_bid, market.spot_ask, needed, rule,
                              self.clock.now_ms(), self.settings)
        if intent.action == GIVE_UP:
            self.stats.given_up += 1
            log.info("[CHASE] %s gives up: %s", run.spec.trade_id, intent.reason)
            return f"gave up ({intent.reason})"
        if intent.action == AMEND_QTY:
            self._amend(run, current, intent.qty)
        elif intent.action == REPLACE:
            return self._replace(run, current, intent.qty, market, cancel=True,
                                 price=intent.price)
        return None

    def _amend(self, run: _Run, current: TrackedOrder, qty: Decimal) -> None:
        req = current.request
        run.last_request_ms = self.clock.now_ms()
        try:
            current.report(self.pairs.gw[SPOT].amend_keep_priority(req.symbol,
                                                                   req.client_order_id, qty))
            self.stats.amends += 1
            log.info("[CHASE] %s amended to %s keeping its place", req.client_order_id, plain(qty))
        except (BinanceError, OSError) as exc:      # refused or unanswered: read it again
            log.warning("[CHASE] amend of %s failed: %s", req.client_order_id, exc)
            self.pairs._refresh(current)

    def _replace(self, run: _Run, current: TrackedOrder, qty: Decimal, market: ChaseMarket,
                 cancel: bool, price: Decimal | None = None) -> str | None:
        """A new spot order at the touch (cancel-replace when the old one is open)."""
        old = current.request
        if price is None:
            price = market.spot_bid if old.side == BUY else market.spot_ask
        new_req = replace(old, quantity=qty, price=price,
                          client_order_id=client_id(run.spec.trade_id, "s", "e", len(run.spot) + 1))
        new = TrackedOrder(new_req)
        run.last_request_ms = self.clock.now_ms()
        self.pairs.on_created([new_req])             # its id reaches the disk first
        run.spot.append(new)
        if not cancel:
            self.pairs._send(new, price)
            return None
        new.apply(SUBMITTED)
        self.pairs.orders_sent += 1
        try:
            done = self.pairs.gw[SPOT].cancel_replace(old.client_order_id, new_req)
            current.report(done.canceled)
            new.report(done.placed)
            self.stats.replaces += 1
            log.info("[CHASE] %s -> %s at %s (%s)", old.client_order_id, new_req.client_order_id,
                     price, plain(qty))
        except Rejected as exc:
            # -2021 / -2022: one leg or both failed; read what each order is now
            log.warning("[CHASE] cancel-replace of %s refused: %s %s", old.client_order_id,
                        exc.code, exc.msg)
            self.pairs._refresh(current)
            new.apply(UNKNOWN, error=f"{exc.code} {exc.msg}")
            self.pairs._resolve(new)
        except (BinanceError, OSError) as exc:      # unanswered: both orders read by client id
            log.warning("[CHASE] cancel-replace of %s unanswered: %s", old.client_order_id, exc)
            new.apply(UNKNOWN, error=str(exc)[:160])
            self.pairs._refresh(current)
            self.pairs._resolve(new)
        return None

    # -- hedge on fill ------------------------------------------------------------------------
    def _hedge_new_fills(self, run: _Run) -> None:
        if self.race is not None:
            return                       # CHASE_HEDGE=race: hedged by the race once filled
        executed = self._executed(run)
        fill = executed - run.hedged_base
        if fill <= 0:
            return
        seen_ns = self.clock.now_ns()
        run.hedged_base = executed
        spec = run.spec
        market = self.feed.latest()
        price = (market.perp_bid if spec.perp.side == "SELL" else market.perp_ask) \
            if market is not None else spec.perp_px
        step = hedge_for_fill(spec.spot.side, fill * run.kept, run.carried, price,
                              spec.perp_rules.contract_size or Decimal(1))
        run.carried = step.carried_base
        self.stats.naked_usd_max = max(self.stats.naked_usd_max, step.naked_usd)
        if step.contracts <= 0:
            log.info("[CHASE] %s spot fill %s: below one contract, %s carried", spec.trade_id,
                     plain(fill), plain(run.carried.quantize(VWAP_DP)))
            return
        req = OrderRequest(COINM, spec.perp.symbol, step.side, "MARKET", Decimal(step.contracts),
                           client_id(spec.trade_id, "p", "e", len(run.hedges) + 1))
        hedge = TrackedOrder(req)
        run.hedges.append(hedge)
        self.pairs.on_created([req])
        self.pairs._send(hedge, price, patient=True)
        naked_ms = (self.clock.now_ns() - seen_ns) / 1e6
        self.stats.naked_ms.append(naked_ms)
        if hedge.executed > 0:
            self.stats.hedges += 1
            by_trade = self.stats.hedges_by_trade
            by_trade[spec.trade_id] = by_trade.get(spec.trade_id, 0) + 1
        log.info("[CHASE] %s spot fill %s hedged: %s %s contracts %s in %.1f ms, %s %s carried "
                 "($%.2f naked)", spec.trade_id, plain(fill), req.side, step.contracts,
                 hedge.status, naked_ms, plain(run.carried.quantize(VWAP_DP)), spec.spot_rules.base_asset,
                 step.naked_usd)

    # -- the result the trader books ------------------------------------------------------------
    @staticmethod
    def _executed(run: _Run) -> Decimal:
        return sum((o.executed for o in run.spot), ZERO)

    @staticmethod
    def _result(run: _Run, hedge_plan: TrackedOrder | None) -> PairResult:
        perp = run.hedges[0] if run.hedges else (hedge_plan or TrackedOrder(run.spec.perp))
        spec = replace(run.spec, perp=perp.request)
        return PairResult(spec, run.spot[0], perp, rescues=run.spot[1:] + run.hedges[1:])

    @staticmethod
    def _vwaps(result: PairResult) -> None:
        """Over every order of the chase, not the first one only."""
        spot = [o for o in result.orders if o.request.market == SPOT and o.executed > 0]
        perp = [o for o in result.orders if o.request.market == COINM and o.executed > 0
                and o.avg_price]
        qty = sum((o.executed for o in spot), ZERO)
        if qty > 0:
            result.spot_vwap = (sum((o.state.cum_quote for o in spot), ZERO) / qty).quantize(VWAP_DP)
        contracts = sum((o.executed for o in perp), ZERO)
        if contracts > 0:   # harmonic: contracts are USD, the coin is contracts / price
            result.perp_vwap = (contracts / sum((o.executed / o.avg_price for o in perp),
                                                ZERO)).quantize(VWAP_DP)


def make_chase(pairs: PairExecutor, settings) -> ChaseExecutor:
    return ChaseExecutor(pairs, ChaseFeed(),
                         ChaseSettings(float(settings.chase_interval_ms), settings.chase_max_slip_bps),
                         float(settings.pair_timeout_sec), race=settings.chase_hedge == "race")


def _step(order: TrackedOrder) -> str:
    return order.request.client_order_id.rsplit("-", 1)[-1][:1]
