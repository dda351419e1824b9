"""The pair protocol (design §7): both legs sent together, monitored, cancelled at the deadline, and
any unhedged remainder rescued at once with a MARKET order (the contract leg reduce-only).

Runs off the engine thread: `submit` hands both legs to the leg pool immediately (so they leave
together; over the WebSocket API it writes both itself, back to back) and the rest — waiting,
polling, cancelling, rescuing — runs on one execution thread, which reports a `PairResult` through a callback. The engine never blocks on the network.

Never a blind retry: a POST whose answer is lost is UNKNOWN and is resolved by querying its client
order id; only the exchange saying "no such order" (several times) makes it NOT_PLACED.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Callable, Protocol

from arbitrage.clock import WALL, Clock
from arbitrage.exchanges.errors import (BadResponse, BinanceError, CancelRejected, OrderNotFound,
                                        RateLimited, Rejected, UnknownOutcome)
from arbitrage.models import BUY, COINM, SELL, SPOT, Fill, OrderRequest, OrderState, SymbolRules
from arbitrage.numbers import plain
from arbitrage.execution.orders import NOT_PLACED, OPEN, REJECTED, SUBMITTED, UNKNOWN, TrackedOrder
from arbitrage.execution.pair_watch import PolledUpdates
from arbitrage.execution.paper import PaperDesk

log = logging.getLogger("arbitrage.execution")

RESOLVE_DELAYS_S = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2)   # ~6 s of queries for an unknown outcome
FILL_DELAYS_S = (0.0, 0.1, 0.2, 0.4, 0.8, 1.6)       # trade lists may lag the order's state
RESCUE_ATTEMPTS = 3      # a refused rescue or exit remainder is tried this often before a HALT
RETRY_PAUSE_S = 0.2
PATIENCE_S = 60.0        # a rescue or exit waits out a Retry-After window up to this long
REDUCE_ONLY_NOTHING = ("-2022", "-4112")   # reduce-only refused: nothing left to reduce
RESIZES_MAX = 10         # exit remainders re-sized to a position that shrank meanwhile, at most
NOT_FOUND_TO_GIVE_UP = 3                              # "no such order" this often = not placed


class Gateway(Protocol):
    """What execution needs from a venue client (spot and COIN-M clients fit it)."""
    def new_order(self, req: OrderRequest) -> OrderState: ...
    def get_order(self, symbol: str, client_order_id: str) -> OrderState: ...
    def cancel_order(self, symbol: str, client_order_id: str) -> OrderState: ...
    def fills(self, symbol: str, order_id: int) -> list[Fill]: ...
    # COIN-M also answers position(symbol) (a Position), used when a reduce-only exit is refused


@dataclass(frozen=True)
class PairSpec:
    trade_id: str
    kind: str                       # "entry" or "exit"
    spot: OrderRequest
    perp: OrderRequest
    spot_px: Decimal                # expected prices: dry-run fills, and the hedge ratio before fills
    perp_px: Decimal
    spot_rules: SymbolRules
    perp_rules: SymbolRules
    trigger_ns: int = 0             # local receive time of the market event that decided it


@dataclass
class PairResult:
    spec: PairSpec
    spot: TrackedOrder
    perp: TrackedOrder
    rescues: list[TrackedOrder] = field(default_factory=list)
    spot_btc: Decimal = Decimal(0)       # signed BTC traded on spot by every order of the pair
    spot_fee_btc: Decimal = Decimal(0)   # spot commissions charged in BTC (they reduce what is held)
    contracts: Decimal = Decimal(0)      # signed contracts traded
    spot_vwap: Decimal | None = None
    perp_vwap: Decimal | None = None
    halt_reason: str | None = None
    sent_ns: tuple[int, int] = (0, 0)    # when each leg was handed to the network (spot, perp)
    settled_ns: int = 0                  # when both legs' outcomes were known (a rescue starts here)
    fills: dict[str, tuple[Fill, ...]] = field(default_factory=dict)   # client id -> executions
    fills_missing: list[str] = field(default_factory=list)  # executed, but its trades never showed

    @property
    def spot_held(self) -> Decimal:
        """BTC the position holds on spot (bought minus BTC commissions; sold is negative)."""
        return self.spot_btc - self.spot_fee_btc

    @property
    def orders(self) -> list[TrackedOrder]:
        return [self.spot, self.perp, *self.rescues]


LEG_HANDOFF_S = 0.002       # longest the engine waits for the leg threads to start
CANCEL_RETRY_S = (0.2, 0.5)  # pauses between cancel attempts (three in all)


def _start_both(pool: ThreadPoolExecutor) -> None:
    """Make the pool create both of its threads (it creates them lazily, on demand)."""
    both = threading.Barrier(3)
    for _ in range(2):
        pool.submit(both.wait, 5.0)
    try:
        both.wait(5.0)
    except threading.BrokenBarrierError:
        pass                              # a slow machine: the pool still works, just lazily


def client_id(trade_id: str, leg: str, step: str, attempt: int) -> str:
    """Deterministic and unique per order: `<trade>-<s|p>-<e|r|x><n>` (≤ 36 chars, Binance's set)."""
    return f"{trade_id}-{leg}-{step}{attempt}"


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step if step > 0 else value


class PairExecutor:
    def __init__(self, spot: Gateway, perp: Gateway, base_asset: str, pair_timeout_s: float,
                 poll_s: float, dry_run: bool, on_done: Callable[[PairResult], None],
                 on_created: Callable[[list[OrderRequest]], None] | None = None,
                 resolve_delays_s: tuple[float, ...] = RESOLVE_DELAYS_S,
                 paper: PaperDesk | None = None, clock: Clock = WALL, runner=None,
                 updates=None, direct: bool = False) -> None:
        """`runner(max_workers, prefix)` makes the executors the legs and the protocol run on:
        threads live; in-line in a backtest, where `clock` is simulated and its `sleep` plays
        the market forward. `updates`: how the monitor learns of order changes (pair_watch.py:
        REST polls by default, user-stream events with ORDER_TRANSPORT=ws). `direct`: gateways
        that can `send_order` (the WebSocket API) get both legs written by the caller's thread,
        back to back, instead of by the two leg threads."""
        self.clock = clock
        self.gw = {SPOT: spot, COINM: perp}
        self.base_asset = base_asset     # spot BUY commissions in it reduce what the trade holds
        self.pair_timeout_s = pair_timeout_s
        self.poll_s = poll_s
        self.dry_run = dry_run
        self.paper = paper               # DRY_RUN: fills on paper from the local books
        self.on_done = on_done
        self.on_created = on_created or (lambda reqs: None)
        self.resolve_delays_s = resolve_delays_s
        self.updates = updates or PolledUpdates(clock, poll_s)
        self.direct = direct and not dry_run
        if runner is None:
            self.legs = ThreadPoolExecutor(max_workers=2, thread_name_prefix="leg")
            _start_both(self.legs)              # created now, not by the first entry
            self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="exec")
        else:
            self.legs, self.worker = runner(2, "leg"), runner(1, "exec")
        self.busy = threading.Event()
        self.orders_sent = 0
        self.unknown_resolved = 0        # answers lost (timeout / 5xx) and resolved by a query

    # -- entry points (engine thread) ---------------------------------------------------------
    def submit(self, spec: PairSpec, record_first: bool = True) -> None:
        """Send both legs now; the rest happens on the execution thread.

        `record_first` (exits): the legs are recorded (`on_created`) before anything is sent.
        False (entries): the caller already holds them in its state, and the legs leave at once;
        the record is written by the execution thread once both answers are in, so no disk write
        and no other Python work competes with the two requests on their way out. A restart
        finds them meanwhile by the client ids of the trade id reserved on disk."""
        if record_first:
            self.on_created([spec.spot, spec.perp])
        if self.dry_run and self.paper is not None:
            self.paper.snapshot(spec.spot.quantity, spec.perp.quantity)   # the books, as now
        self.busy.set()
        spot, perp = TrackedOrder(spec.spot), TrackedOrder(spec.perp)
        if self._writes_direct(spec):
            spot.apply(SUBMITTED)
            perp.apply(SUBMITTED)
            # both built and signed first, then written back to back: nothing between the frames
            sent = (self.gw[SPOT].prepare_order(spec.spot),
                    self.gw[COINM].prepare_order(spec.perp))
            sent[0].write()
            sent[1].write()
            self.orders_sent += 2
            self.worker.submit(self._complete, spec, spot, perp,
                               lambda: (self._answered(spot, sent[0]),
                                        self._answered(perp, sent[1])), not record_first)
            return
        started = (threading.Event(), threading.Event())
        with self.clock.together():      # both legs leave at the same moment
            futs = (self.legs.submit(self._send, spot, spec.spot_px, False, started[0]),
                    self.legs.submit(self._send, perp, spec.perp_px, False, started[1]))
        self.worker.submit(self._complete, spec, spot, perp,
                           lambda: (futs[0].result(), futs[1].result()), not record_first)
        # Python runs one thread at a time: were the caller to go on with its own work, the leg
        # threads would wait for it. It waits (briefly, bounded) until both have the interpreter.
        for event in started:
            event.wait(LEG_HANDOFF_S)

    def _writes_direct(self, spec: PairSpec) -> bool:
        """Both legs go out from this thread when both lanes are up and both have something to
        send (an exit leg of 0 contracts, or a lane down, takes the leg threads' path)."""
        return (self.direct and spec.spot.quantity > 0 and spec.perp.quantity > 0
                and all(getattr(self.gw[m], "connected", False) for m in (SPOT, COINM)))

    def _answered(self, order: TrackedOrder, sent) -> int:
        """The answer to a leg written by `submit` (execution thread); its time on the wire.
        When the user stream reports the leg final before its answer comes (a lost or late
        answer), the leg is read by client id at once instead: a lone fill is rescued the
        moment it is known, not when (or whether) the answer arrives."""
        late = self.updates.answer_late(order.request.client_order_id, sent.pending,
                                        sent.timeout)
        if late:
            order.apply(UNKNOWN, error="answer late: the user stream reported the order first")
            log.warning("[ORDER] %s final on the user stream before its answer: reading it",
                        order.request.client_order_id)
            self._resolve(order)
        else:   # False: the answer is in, or the wait for it is over (no second wait)
            self._outcome(order, lambda: sent.result(None if late is None else 0.0))
        return sent.sent_ns or self.clock.now_ns()

    def recover(self, spec: PairSpec, extra: list[OrderRequest]) -> None:
        """After a restart: the pair's orders are known (recorded before they were sent, or, for
        an entry, by the reserved trade id's client ids), so each is queried by client id
        (unknown to the exchange = never placed) and the pair is completed by the same protocol —
        cancel what is open, rescue or finish the exit. Nothing is re-sent."""
        self.busy.set()
        self.worker.submit(self._recover, spec, extra)

    def _recover(self, spec: PairSpec, extra: list[OrderRequest]) -> None:
        spot, perp = TrackedOrder(spec.spot), TrackedOrder(spec.perp)
        result = PairResult(spec, spot, perp)
        try:
            for order in (spot, perp):
                self._adopt_sent(order)
            for req in extra:                  # rescue / retry orders of the first run
                order = TrackedOrder(req)
                self._adopt_sent(order)
                result.rescues.append(order)
            log.info("[RECOVER] %s %s: spot %s %s, perp %s %s, %d more order(s)", spec.trade_id,
                     spec.kind, spot.status, spot.executed, perp.status, perp.executed, len(extra))
            self._monitor(spec, spot, perp)
            for order in result.rescues:
                if not order.final:
                    self._cancel(order)
            if self._unsettled(result):
                pass
            elif spec.kind == "entry":
                self._account(result)
                self._rescue(result, first_attempt=1 + sum(
                    1 for r in extra if _step_of(r) == "r"))
            else:
                self._finish_exit(result, attempt=2 + sum(1 for r in extra if _step_of(r) == "x"))
            self._collect_fills(result)
        except Exception as exc:
            log.exception("[HALT] recovery of %s failed unexpectedly", spec.trade_id)
            result.halt_reason = f"recovery error: {type(exc).__name__}: {exc}"
        finally:
            self.busy.clear()
        self.on_done(result)

    def _adopt_sent(self, order: TrackedOrder) -> None:
        order.apply(SUBMITTED)
        order.apply(UNKNOWN, error="sent before a restart")
        self._resolve(order)

    def shutdown(self) -> None:
        self.worker.shutdown(wait=True)
        self.legs.shutdown(wait=True)

    # -- the protocol (execution thread) ------------------------------------------------------
    def _complete(self, spec: PairSpec, spot: TrackedOrder, perp: TrackedOrder,
                  answers: Callable[[], tuple[int, int]], record_after: bool = False) -> None:
        result = PairResult(spec, spot, perp)
        try:
            result.sent_ns = answers()
            if record_after:
                self.on_created([])            # the legs are in the caller's state: write it now
            self._monitor(spec, spot, perp)
            result.settled_ns = self.clock.now_ns()
            if self._unsettled(result):
                pass                           # exposure unknown: nothing more is sent
            elif spec.kind == "entry":
                self._account(result)
                self._rescue(result)
            else:
                self._finish_exit(result)
            self._collect_fills(result)
        except Exception as exc:   # never leave the engine waiting: a bug here halts, loudly
            log.exception("[HALT] execution of %s failed unexpectedly", spec.trade_id)
            result.halt_reason = f"execution error: {type(exc).__name__}: {exc}"
        finally:
            self.busy.clear()
        self.on_done(result)

    def _send(self, order: TrackedOrder, px_hint: Decimal, patient: bool = False,
              started: threading.Event | None = None) -> int:
        """`patient` (rescues, exits): a rate-limit window is waited out, since the order was
        never sent and leaving the hedge broken is worse than a few seconds' delay."""
        if started is not None:
            started.set()
        req = order.request
        if patient:
            self._wait_out_rate_limit(req)
        order.apply(SUBMITTED)
        sent_ns = self.clock.now_ns()
        if req.quantity == 0:              # e.g. the contracts an ADL already took: nothing to send
            order.apply(REJECTED, error="nothing to send")
            return sent_ns
        if self.dry_run:
            state = self.paper.fill(req) if self.paper is not None else _dry_fill(req, px_hint)
            log.info("[DRY] would send %s %s %s %s %s%s; on paper %s %s @ %s", req.symbol,
                     req.side, req.type, req.quantity, req.price or "MARKET",
                     " reduceOnly" if req.reduce_only else "", state.status, state.executed_qty,
                     f"{state.avg_price:.2f}" if state.avg_price is not None else "-")
            order.report(state)
            return sent_ns
        self.orders_sent += 1
        self._outcome(order, lambda: self.gw[req.market].new_order(req))
        return sent_ns

    def _outcome(self, order: TrackedOrder, answer: Callable[[], OrderState]) -> None:
        """An order request's answer applied to `order`: filled / open, refused, not sent, or
        unknown (then resolved by client order id, never sent again)."""
        req = order.request
        try:
            order.report(answer())
        except Rejected as exc:
            order.apply(REJECTED, error=f"{exc.code} {exc.msg}")
            log.warning("[ORDER] %s rejected: %s %s", req.client_order_id, exc.code, exc.msg)
        except (UnknownOutcome, BadResponse) as exc:
            order.apply(UNKNOWN, error=str(exc)[:160])
            log.warning("[ORDER] %s outcome unknown (%s): querying it", req.client_order_id,
                        type(exc).__name__)
            self._resolve(order)
        except BinanceError as exc:        # Retryable / RateLimited: definitely not executed
            order.apply(REJECTED, error=f"{type(exc).__name__}: {exc}"[:160])
            log.warning("[ORDER] %s not sent: %s", req.client_order_id, order.error)
        except Exception as exc:           # anything unexpected may have reached the exchange
            order.apply(UNKNOWN, error=f"{type(exc).__name__}: {exc}"[:160])
            self._resolve(order)

    def _reducible(self, req: OrderRequest) -> Decimal | None:
        """Contracts a reduce-only order on this side can still close (None: unknown)."""
        try:
            amount = self.gw[req.market].position(req.symbol).amount
        except (BinanceError, OSError, AttributeError) as exc:
            log.warning("[EXIT] position of %s unavailable: %s", req.symbol, exc)
            return None
        closes = amount < 0 if req.side == BUY else amount > 0
        return abs(amount) if closes else Decimal(0)

    def _unsettled(self, result: PairResult) -> bool:
        """What the pair holds is not known for sure: a leg whose outcome no query could settle,
        or one the exchange still holds open after every cancel (it can fill at any moment).
        Acting on it (a rescue sized on what it has filled so far) could double the exposure, so
        the pair halts, saying which order to look at."""
        unknown = [o.request.client_order_id for o in (result.spot, result.perp)
                   if o.status == UNKNOWN]
        still_open = [o.request.client_order_id for o in result.orders if o.status in OPEN]
        if unknown:
            result.halt_reason = (f"outcome of {', '.join(unknown)} still unknown after "
                                  f"{len(self.resolve_delays_s)} queries: check it by client "
                                  f"order id on the exchange")
        elif still_open:
            result.halt_reason = (f"{', '.join(still_open)} still open on the exchange after "
                                  f"{len(CANCEL_RETRY_S) + 1} cancel attempts: cancel it by "
                                  f"client order id, then check the position")
        else:
            return False
        self._account(result)
        return True

    def _wait_out_rate_limit(self, req: OrderRequest) -> None:
        http = getattr(self.gw[req.market], "http", None)
        wait = http.blocked_for() if http is not None and hasattr(http, "blocked_for") else 0.0
        if 0 < wait <= PATIENCE_S:
            log.warning("[ORDER] %s waits %.1f s for the exchange's Retry-After", req.client_order_id,
                        wait)
            self.clock.sleep(wait + 0.05)

    def _resolve(self, order: TrackedOrder) -> None:
        """Query an UNKNOWN order by client id until the exchange knows it or clearly does not."""
        req, not_found = order.request, 0
        for delay in self.resolve_delays_s:
            try:
                order.report(self.gw[req.market].get_order(req.symbol, req.client_order_id))
                self.unknown_resolved += 1
                log.info("[ORDER] %s resolved: %s, executed %s", req.client_order_id,
                         order.status, order.executed)
                return
            except OrderNotFound:
                not_found += 1
            except RateLimited as exc:     # not sent: wait the window out, it is not a query
                self.clock.sleep(min(max(exc.retry_after, 0.0), PATIENCE_S))
                continue
            except (BinanceError, OSError) as exc:
                log.warning("[ORDER] query of %s failed: %s", req.client_order_id, exc)
            self.clock.sleep(delay)
        if not_found >= NOT_FOUND_TO_GIVE_UP:
            order.apply(NOT_PLACED, error="the exchange has no such order")
            log.warning("[ORDER] %s was not placed", req.client_order_id)

    def _monitor(self, spec: PairSpec, spot: TrackedOrder, perp: TrackedOrder) -> None:
        """Watch open legs (polled, or read when a pushed event names them: `self.updates`) until
        both are final or the deadline; a lone leg is cancelled at once."""
        deadline = self.clock.monotonic() + self.pair_timeout_s
        pair = (spot, perp)
        while not all(o.final for o in pair) and self.clock.monotonic() < deadline:
            if any(o.final and o.executed == 0 for o in pair):
                break                      # one leg is dead with nothing filled: stop waiting
            for o in self.updates.next(list(pair), deadline):
                if not o.final:
                    self._refresh(o)
        for o in pair:
            if not o.final:
                self._cancel(o)

    def _refresh(self, order: TrackedOrder) -> None:
        req = order.request
        if order.status == UNKNOWN:
            self._resolve(order)
            return
        try:
            order.report(self.gw[req.market].get_order(req.symbol, req.client_order_id))
        except (BinanceError, OSError) as exc:
            log.warning("[ORDER] poll of %s failed: %s", req.client_order_id, exc)

    def _cancel(self, order: TrackedOrder) -> None:
        """Cancel an open order, asking again when the exchange did not answer for sure (a 5xx, a
        timeout, a rate limit): a cancel is safe to repeat, an order left open is not. It may
        still be open after the last attempt; `_unsettled` then halts the pair."""
        req = order.request
        if order.status == UNKNOWN:
            self._resolve(order)
            if order.final or order.status == UNKNOWN:
                return
        for attempt, pause in enumerate((*CANCEL_RETRY_S, None), start=1):
            self._wait_out_rate_limit(req)
            try:
                order.report(self.gw[req.market].cancel_order(req.symbol, req.client_order_id))
                log.info("[ORDER] %s cancelled at the deadline, executed %s", req.client_order_id,
                         order.executed)
                return
            except (CancelRejected, OrderNotFound):
                self._refresh(order)           # it finished meanwhile: read its final state
                return
            except (BinanceError, OSError) as exc:
                log.warning("[ORDER] cancel of %s failed (%s, attempt %d): querying it",
                            req.client_order_id, exc, attempt)
                self._refresh(order)
            if order.final or pause is None:
                return
            self.clock.sleep(pause)

    # -- accounting of what the pair did ------------------------------------------------------
    def _account(self, result: PairResult) -> None:
        """Signed totals over every order of the pair (legs, rescues, retries)."""
        result.spot_btc = result.contracts = result.spot_fee_btc = Decimal(0)
        for o in result.orders:
            if o.executed == 0:
                continue
            signed = o.executed if o.request.side == BUY else -o.executed
            if o.request.market == SPOT:
                result.spot_btc += signed
                result.spot_fee_btc += self._spot_fee_btc(result, o)
            else:
                result.contracts += signed
        result.spot_vwap = result.spot.avg_price if result.spot.executed else None
        result.perp_vwap = result.perp.avg_price if result.perp.executed else None

    def _spot_fee_btc(self, result: PairResult, order: TrackedOrder) -> Decimal:
        """BTC commissions of a spot order (they reduce what the trade holds)."""
        fills = self._fills(result, order)
        return sum((f.commission for f in fills if f.commission_asset == self.base_asset),
                   Decimal(0))

    def _fills(self, result: PairResult, order: TrackedOrder) -> tuple[Fill, ...]:
        """An order's executions: from its FULL answer, else from myTrades / userTrades, queried
        until they add up to the executed quantity (they can lag the order's status)."""
        cid = order.request.client_order_id
        if cid in result.fills:
            return result.fills[cid]
        state = order.state
        if state is None or order.executed == 0:
            return ()
        fills = tuple(state.fills)
        if self.dry_run:                   # paper fills come with the order, or not at all
            result.fills[cid] = fills
            return fills
        if sum((f.qty for f in fills), Decimal(0)) != order.executed:
            fills = ()
            for delay in FILL_DELAYS_S:
                self.clock.sleep(delay)
                try:
                    fills = tuple(self.gw[order.request.market].fills(order.request.symbol,
                                                                       state.order_id))
                except (BinanceError, OSError) as exc:
                    log.warning("[ORDER] trades of %s unavailable: %s", cid, exc)
                    continue
                if sum((f.qty for f in fills), Decimal(0)) == order.executed:
                    break
            else:
                log.error("[LEDGER] trades of %s do not add up to its executed %s: the ledger row "
                          "will be incomplete", cid, order.executed)
                result.fills_missing.append(cid)
                return fills
        result.fills[cid] = fills
        return fills

    def _collect_fills(self, result: PairResult) -> None:
        for order in result.orders:
            self._fills(result, order)

    # -- rescue --------------------------------------------------------------------------------
    def _rescue(self, result: PairResult, first_attempt: int = 1) -> None:
        spec = result.spec
        failures = 0
        for attempt in range(first_attempt, first_attempt + RESCUE_ATTEMPTS + 1):
            req = self._rescue_order(result, attempt)
            if req is None:
                return
            log.warning("[RESCUE] %s unhedged after entry (spot %s %s, %s contracts): %s %s %s%s",
                        spec.trade_id, result.spot_btc, self.base_asset, result.contracts,
                        req.symbol, req.side,
                        req.quantity, " reduceOnly" if req.reduce_only else "")
            order = TrackedOrder(req)
            result.rescues.append(order)
            self.on_created([req])
            self._send(order, spec.spot_px if req.market == SPOT else spec.perp_px, patient=True)
            if order.status == UNKNOWN:
                result.halt_reason = (f"rescue {req.client_order_id} outcome unknown; spot "
                                      f"{plain(result.spot_btc)} {self.base_asset} and "
                                      f"{plain(result.contracts)} contracts may be unhedged")
                return
            if order.executed == 0:
                failures += 1
                if failures >= RESCUE_ATTEMPTS:
                    result.halt_reason = (f"rescue {req.client_order_id} failed ({order.status}: "
                                          f"{order.error}) after {failures} attempts; spot "
                                          f"{plain(result.spot_btc)} {self.base_asset} and "
                                          f"{plain(result.contracts)} contracts are unhedged")
                    return
                self.clock.sleep(RETRY_PAUSE_S)
            self._account(result)
        if self._rescue_order(result, first_attempt + RESCUE_ATTEMPTS + 1) is not None:
            result.halt_reason = (f"still unhedged after rescue: spot "
                                  f"{plain(result.spot_btc)} {self.base_asset}, {plain(result.contracts)} "
                                  f"contracts")

    def _rescue_order(self, result: PairResult, attempt: int) -> OrderRequest | None:
        """The MARKET order that flattens the unhedged excess, or None when hedged within one
        contract (the coarser grid) or when the excess is below the spot minimums."""
        spec = result.spec
        size = spec.perp_rules.contract_size or Decimal(1)
        px = result.perp_vwap or spec.perp_px
        held = abs(result.spot_held) if result.spot_btc > 0 else abs(result.spot_btc)
        excess_contracts = abs(result.contracts) - held * px / size
        if excess_contracts >= 1:
            qty = floor_to(excess_contracts, spec.perp_rules.step_size)
            side = SELL if result.contracts > 0 else BUY
            return OrderRequest(COINM, spec.perp.symbol, side, "MARKET", qty,
                                client_id(spec.trade_id, "p", "r", attempt), reduce_only=True)
        excess_btc = held - abs(result.contracts) * size / px
        qty = floor_to(excess_btc, spec.spot_rules.step_size)
        spot_px = result.spot_vwap or spec.spot_px
        if qty <= 0 or qty < spec.spot_rules.min_qty or qty * spot_px < spec.spot_rules.min_notional:
            return None
        if abs(result.contracts) >= 1 and excess_btc * px / size < 1:
            return None                    # within one contract of a hedge: residual, tracked
        side = SELL if result.spot_btc > 0 else BUY
        return OrderRequest(SPOT, spec.spot.symbol, side, "MARKET", qty,
                            client_id(spec.trade_id, "s", "r", attempt))

    # -- exit ----------------------------------------------------------------------------------
    def _finish_exit(self, result: PairResult, attempt: int = 2) -> None:
        """Both exit legs must fill completely; a remainder gets one more MARKET order each."""
        self._account(result)
        for o, leg in ((result.spot, "s"), (result.perp, "p")):
            missing = o.request.quantity - o.executed - sum(
                (r.executed for r in result.rescues if r.request.market == o.request.market),
                Decimal(0))
            if o.status == UNKNOWN:
                result.halt_reason = f"exit order {o.request.client_order_id} outcome unknown"
                return
            if missing <= 0:
                continue
            sent = failures = 0
            while failures < RESCUE_ATTEMPTS and sent < RESCUE_ATTEMPTS + RESIZES_MAX:
                req = OrderRequest(o.request.market, o.request.symbol, o.request.side, "MARKET",
                                   missing, client_id(result.spec.trade_id, leg, "x", attempt + sent),
                                   reduce_only=o.request.reduce_only)
                sent += 1
                log.warning("[EXIT] %s leg %s short by %s: sending the remainder",
                            result.spec.trade_id, o.request.symbol, missing)
                retry = TrackedOrder(req)
                result.rescues.append(retry)
                self.on_created([req])
                self._send(retry, result.spec.spot_px if leg == "s" else result.spec.perp_px,
                           patient=True)
                missing -= retry.executed
                shrank = False
                if missing > 0 and req.reduce_only and \
                        (retry.error or "").split(" ")[0] in REDUCE_ONLY_NOTHING:
                    # the position is smaller than the exit expected (a liquidation or ADL took
                    # contracts meanwhile): close what is really left, as the exchange reports it
                    left = self._reducible(req)
                    log.warning("[EXIT] %s: reduce-only refused (%s); %s contracts left to close",
                                result.spec.trade_id, retry.error, left)
                    if left is not None:
                        shrank = left < missing
                        missing = min(missing, left)
                if missing <= 0 or retry.status == UNKNOWN:
                    break
                if not shrank:
                    # a refusal because the position shrank again (ADLs in a row while the
                    # remainder was on its way) is not a failure: the new size is sent
                    failures += 1
                self.clock.sleep(RETRY_PAUSE_S)
            if retry.status == UNKNOWN or missing > 0:
                result.halt_reason = (f"exit of {o.request.symbol} incomplete: {plain(missing)} "
                                      f"missing after {sent} attempt(s) ({retry.status}: "
                                      f"{retry.error})")
                return
        self._account(result)


def _step_of(req: OrderRequest) -> str:
    """The step letter of a client id `<trade>-<leg>-<step><n>` (e, r or x)."""
    return req.client_order_id.rsplit("-", 1)[-1][:1]


def _dry_fill(req: OrderRequest, px: Decimal) -> OrderState:
    price = req.price if req.price is not None else px
    return OrderState(req.market, req.symbol, 0, req.client_order_id, req.side, req.type, "FILLED",
                      req.quantity, req.quantity, Decimal(0), price, req.price or Decimal(0),
                      req.reduce_only, time.time_ns() // 1_000_000)
