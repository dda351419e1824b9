"""The imperative shell: streams -> queue -> one engine thread -> books -> decisions -> status.

WebSocket threads only receive, parse and enqueue `(event, recv time)`; REST snapshots are fetched on
a small pool and come back through the same queue. The engine thread owns every piece of state and
re-evaluates after every book or mark event (when the queue is drained), plus a timer tick for the
time-based rules and the status line.
"""
from __future__ import annotations

import json
import logging
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from arbitrage.marketdata.capture import CaptureWriter
from arbitrage.clock import WALL, Clock
from arbitrage.config import Settings
from arbitrage.exchanges.binance_coinm import CoinmClient
from arbitrage.exchanges.binance_spot import SpotClient
from arbitrage.exchanges.errors import BinanceError
from arbitrage.exchanges.streams import StreamParseError, parse_message
from arbitrage.exchanges.ws import StreamRunner
from arbitrage.marketdata.view import MarketData
from arbitrage.numbers import plain
from arbitrage.models import (BookTicker, DepthDiff, DepthSnapshot, MarkPrice, SnapshotResult, StreamStatus,
                              SymbolRules)
from arbitrage.engine.evaluation import Evaluation, evaluate
from arbitrage.engine.queueing import Empty, EventQueue
from arbitrage.strategy.frontier import BUY_SPOT, SELL_SPOT, Frontier
from decimal import Decimal

from arbitrage.execution.chase import make_chase
from arbitrage.execution.pairs import PairExecutor, PairSpec
from arbitrage.execution.pair_watch import PushedUpdates
from arbitrage.execution.paper import PaperDesk
from arbitrage.strategy.entry import FeeRates
from arbitrage.strategy.risk import MarketLimits
from arbitrage.accounting.bookkeeping import Accounting
from arbitrage.accounting.ledger import Balances, FundingDedup
from arbitrage.models import Income, UserStreamGap
from arbitrage.persistence.state import StateStore
from arbitrage.accounting.sweep import COINM_SPAN_MS, SPOT_SPAN_MS, windows
from arbitrage.accounting.sweep_cadence import SweepCadence
from arbitrage.engine.trader import AccountUpdate, PairDone, Trader
from arbitrage.venues import VenueUrls

log = logging.getLogger("arbitrage.bot")

QUEUE_MAX = 20_000          # bounded: a stuck engine backs the stream threads up, memory stays flat
SNAPSHOT_LIMIT = 1000       # levels per side; the frontier never needs more, both venues accept it
MARK_REST_EVERY_S = 5.0     # premiumIndex fallback while the mark stream is silent
ACCOUNT_REFRESH_S = 5.0     # margin data for the gates; also fetched after every pair
STOP_GRACE_S = 30.0         # how long a stop waits for a pair in flight (beyond PAIR_TIMEOUT_SEC)
LATENCY_KEPT = 10_000       # entries whose event-to-order times are kept for the summary
INCOME_EVERY_S = 30.0       # funding arrives a few times a day; cheap to look every 30 s
OPS_EVERY_S = 1.0           # status file and control poll (arbitrage/ops), between events
HISTORY_EVERY_S = 5.0       # the last settlements, for a strategy that reads them (carry)
HISTORY_ROWS = 50           # settlements asked for: the carry's lookback and the interval


@dataclass
class FundingHistoryUpdate:
    settled: list           # FundingSettlement, oldest first


@dataclass
class IncomeUpdate:
    rows: list[Income]


@dataclass
class RunStats:
    started_ns: int = 0
    ended_ns: int = 0
    evaluations: int = 0
    synced_after_s: float | None = None
    ready_after_s: float | None = None      # market gates clear and the account read
    spread_min: float | None = None
    spread_max: float | None = None
    opportunities: dict[str, int] = field(default_factory=lambda: {BUY_SPOT: 0, SELL_SPOT: 0})
    best_size_usd: dict[str, float] = field(default_factory=lambda: {BUY_SPOT: 0.0, SELL_SPOT: 0.0})
    parse_errors: int = 0
    queue_full: int = 0
    # per entry: (trade id, receive time of the deciding event, spot leg sent, perp leg sent), ns
    entry_latency: deque = field(default_factory=lambda: deque(maxlen=LATENCY_KEPT))


class Bot:
    def __init__(self, settings: Settings, urls: VenueUrls, spot: SpotClient, coinm: CoinmClient,
                 spot_rules: SymbolRules, perp_rules: SymbolRules, fees: FeeRates,
                 accounting: Accounting | None = None, store: StateStore | None = None,
                 clock: Clock = WALL, pool=None, leg_runner=None, lanes=None) -> None:
        """`clock`, `pool` (REST fetches off the engine thread) and `leg_runner` (the executor's
        threads) are the live ones by default; a backtest passes simulated time and in-line
        runners (arbitrage/backtest). `lanes` (ORDER_TRANSPORT=ws, arbitrage/execution/ws_lanes.py): orders
        over the WebSocket API and a pair monitor driven by the user data streams."""
        self.s = settings
        self.lanes = lanes
        self.clock = clock
        self.urls = urls
        self.spot_client = spot
        self.coinm_client = coinm
        self.spot_rules = spot_rules
        self.perp_rules = perp_rules
        self.contract_size = float(perp_rules.contract_size or 0)
        self.events = EventQueue(QUEUE_MAX)
        self.pool = pool or ThreadPoolExecutor(max_workers=2, thread_name_prefix="rest")
        self.market = MarketData(spot_rules.symbol, perp_rules.symbol, self._request_snapshot,
                                 verify=settings.verify_books)
        self.evaluation = Evaluation()
        self._enter_bps = float(settings.enter_bps)          # converted once, not per event
        self._cap_btc = float(settings.max_q_base_frontier)   # in the base coin
        self._cap_usd = float(settings.max_v_usd_frontier)
        self._min_v_usd = float(settings.min_v_usd)
        self._trigger_ns = 0        # receive time of the newest book/mark event applied
        self.last_invariant = None
        self.stats = RunStats()
        self.limits = MarketLimits(float(settings.book_stale_ms), float(settings.mark_stale_ms),
                                   float(settings.max_book_skew_ms))
        self._recorder: CaptureWriter | None = None
        self._record_lock = threading.Lock()
        self._parse_errors_logged = 0
        self._mark_rest_at = 0.0
        self._account_at = 0.0
        self._income_at = 0.0
        self._history_at = 0.0
        self.accounting = accounting
        self.invariant_requested = threading.Event()     # SIGUSR1: check the ledger now
        self.ops_hook = None        # called once a second on the engine thread (arbitrage/ops/sink.py)
        self._ops_at = 0.0
        self.start_decision: dict | None = None          # how the start reconciled (for the status)
        self.executor = PairExecutor(lanes.spot if lanes else spot,
                                     lanes.coinm if lanes else coinm, spot_rules.base_asset,
                                     float(settings.pair_timeout_sec),
                                     float(settings.pair_poll_interval), settings.dry_run,
                                     on_done=self._pair_finished,
                                     on_created=lambda reqs: self.trader.on_orders_created(reqs),
                                     paper=PaperDesk(lambda: (self.market.spot.book,
                                                              self.market.perp.book),
                                                     spot_rules, perp_rules, fees)
                                     if settings.dry_run else None,
                                     clock=clock, runner=leg_runner,
                                     updates=PushedUpdates(lanes.hub, clock,
                                                           float(settings.pair_poll_interval))
                                     if lanes else None, direct=lanes is not None)
        self.trader = Trader(settings, spot_rules, perp_rules, self.executor, fees,
                             self._request_account, accounting, store, clock=clock)
        if settings.execution_mode == "chase" and not settings.dry_run:
            self.trader.chase = make_chase(self.executor, settings)
        # a sweep only when pushed news cannot vouch for the account (ws path; REST: always)
        self.sweeps = SweepCadence(lanes.hub if lanes is not None else None, clock.monotonic)
        if lanes is not None:
            lanes.to_engine = self._put
            self.trader.entry_gates.append(lanes.hub.entry_block)
        spot_streams = [spot.depth_stream(spot_rules.symbol)]
        coinm_streams = [coinm.depth_stream(perp_rules.symbol), coinm.mark_stream(perp_rules.symbol)]
        if settings.verify_books:
            spot_streams.append(spot.ticker_stream(spot_rules.symbol))
            coinm_streams.append(coinm.ticker_stream(perp_rules.symbol))
        self.runners = [
            StreamRunner("spot", spot.stream_url(urls.spot_ws, spot_streams),
                         self._on_message_for("spot"), self._on_status_for("spot")),
            StreamRunner("coinm", coinm.stream_url(urls.coinm_ws, coinm_streams),
                         self._on_message_for("coinm"), self._on_status_for("coinm")),
        ]

    # -- stream threads: receive, (record), parse, enqueue -----------------------------------
    def _on_message_for(self, connection: str):
        def on_message(raw: str, recv_ns: int) -> None:
            if self._recorder is not None:
                self._record(recv_ns, raw)
            try:
                event = parse_message(raw, recv_ns)
            except StreamParseError as exc:
                self.stats.parse_errors += 1
                if self._parse_errors_logged < 5:   # log a bad message, not a flood of them
                    self._parse_errors_logged += 1
                    log.warning("[STREAM] %s: malformed message skipped: %s", connection, exc)
                return
            if event is not None:
                self._put(event, droppable=True)
        return on_message

    def _on_status_for(self, connection: str):
        def on_status(connected: bool, reason: str) -> None:
            self._put(StreamStatus(connection, connected, reason, self.clock.now_ns()))
        return on_status

    def _put(self, event, droppable: bool = False) -> None:
        """Market data is `droppable` when the engine is QUEUE_MAX events behind (a lost diff is a
        gap: that book resyncs); everything else is the answer to something the bot asked for."""
        if not self.events.put(event, force=not droppable):
            self.stats.queue_full += 1
            if self.stats.queue_full == 1 or self.stats.queue_full % 1000 == 0:
                log.error("engine queue full (%d events behind): dropped %d market event(s) so "
                          "far; the books resync", self.events.qsize(), self.stats.queue_full)

    def _record(self, recv_ns: int, raw: str) -> None:
        with self._record_lock:
            if self._recorder is not None:
                self._recorder.write(recv_ns, raw)

    # -- REST on the pool, results back through the queue ------------------------------------
    def _request_snapshot(self, symbol: str) -> None:
        self.pool.submit(self._fetch_snapshot, symbol)

    def _fetch_snapshot(self, symbol: str) -> None:
        client = self.spot_client if symbol == self.spot_rules.symbol else self.coinm_client
        try:
            snap = client.depth(symbol, SNAPSHOT_LIMIT)
        except (BinanceError, OSError) as exc:
            self._put(SnapshotResult(symbol, None, _short(exc), self.clock.now_ns()))
            return
        if self._recorder is not None:
            self._record(snap.recv_ns, _snapshot_body(snap, symbol != self.spot_rules.symbol))
        self._put(SnapshotResult(symbol, snap, None, snap.recv_ns))

    # -- start: take up where the last run left off ------------------------------------------
    def apply(self, decision, mark_price: Decimal) -> None:
        """Act on the reconciliation decision (arbitrage/persistence/reconcile.py) before the loop starts."""
        level = logging.ERROR if decision.action == "halt" else logging.INFO
        log.log(level, "[STATE] %s", decision.message)
        self.start_decision = {"action": decision.action, "message": decision.message}
        for line in decision.details:
            log.log(level, "[STATE]   %s", line)
        tr = self.trader
        snap = decision.snapshot
        if snap is not None:
            tr.restore(snap)
            if self.accounting is not None:
                self.accounting.funding = FundingDedup(cursor_ms=snap.income_cursor_ms,
                                                       seen=snap.seen_tran_ids)
                self.accounting.restore_sweep(snap.trades_cursor_ms)
        elif self.accounting is not None:      # no history: funding counts from now on
            self.accounting.funding = FundingDedup(cursor_ms=self.accounting.start_ms)
        tr.baseline_contracts = decision.baseline_contracts
        if decision.action == "halt":
            tr.halt(decision.message)
        elif decision.action == "adopt":
            for order in decision.to_cancel:
                client = self.spot_client if order.market == "spot" else self.coinm_client
                try:
                    client.cancel_order(order.symbol, order.client_order_id)
                    log.warning("[STATE] cancelled %s", order.client_order_id)
                except (BinanceError, OSError) as exc:
                    log.error("[STATE] could not cancel %s: %s", order.client_order_id, exc)
        elif decision.action == "recover":
            self._recover(snap, mark_price)
        tr.save()

    def _recover(self, snap, mark_price: Decimal) -> None:
        step = "e" if snap.pair_kind == "entry" else "x"
        legs = {o.client_order_id: o for o in snap.pending_orders}
        trade_id = snap.trade.trade_id
        spot = legs.pop(f"{trade_id}-s-{step}1")
        perp = legs.pop(f"{trade_id}-p-{step}1")
        spec = PairSpec(trade_id, snap.pair_kind, spot, perp, mark_price, mark_price,
                        self.spot_rules, self.perp_rules)
        self.executor.recover(spec, list(legs.values()))

    def _request_account(self) -> None:
        self._account_at = self.clock.monotonic() + ACCOUNT_REFRESH_S
        self.pool.submit(self._fetch_account, self.trader.epoch)

    def _fetch_account(self, epoch: int) -> None:
        now_ms = self.clock.now_ns() // 1_000_000
        try:
            spot, coinm = self.spot_client.account(), self.coinm_client.account()
            fills = None
            read_to = None
            if self.accounting is not None and not self.s.dry_run:
                due = self.sweeps.due(force=self.trader.position_in_doubt)
                if due is not None:
                    fills, read_to = self._executions()
                    self.sweeps.swept(due)
            update = AccountUpdate(spot, coinm, None, now_ms, epoch, fills, read_to)
        except (BinanceError, OSError) as exc:
            update = AccountUpdate(None, None, _short(exc), now_ms, epoch)
            log.warning("account data unavailable (entries blocked): %s", update.error)
        self._put(update)

    def _executions(self) -> tuple[list, int]:
        """Both symbols' executions since the sweep's cursor, read after the accounts: whatever
        moved the balances they show is in these. Overlapping the last sweep is harmless: an
        execution is booked once (its order id is in the ledger). Also: the time they reach."""
        since = self.accounting.sweep_from_ms()
        now_ms = self.clock.now_ms()
        fills: list = []
        for client, symbol, span in ((self.spot_client, self.spot_rules.symbol, SPOT_SPAN_MS),
                                     (self.coinm_client, self.perp_rules.symbol, COINM_SPAN_MS)):
            for start, end in windows(since, now_ms, span):
                fills += client.trades_since(symbol, start, end)
        return fills, now_ms

    def sweep_now(self, act: bool = True) -> None:
        """A sweep on the engine thread, waiting for the answer: at the end of a run (before the
        invariant), so an execution found late is booked by this run."""
        if self.accounting is None or self.accounting.log is None:
            return
        try:
            fills, read_to = self._executions()
        except (BinanceError, OSError) as exc:
            log.warning("[LEDGER] sweep of executions failed: %s", _short(exc))
            return
        self.trader._outside_fills(fills, read_to, act=act, read_to_ms=read_to)

    def _fetch_income(self) -> None:
        cursor = self.accounting.funding.cursor_ms if self.accounting else 0
        try:
            rows = self.coinm_client.income(self.perp_rules.symbol, "FUNDING_FEE",
                                            start_ms=cursor or None)
        except (BinanceError, OSError) as exc:
            log.warning("income (funding) unavailable: %s", _short(exc))
            return
        self._put(IncomeUpdate(rows))

    def balances(self) -> Balances:
        """Both accounts as the exchange reports them now (blocking: start, end, on demand)."""
        return Balances.from_accounts(self.spot_client.account(), self.coinm_client.account(),
                                      self.spot_rules.base_asset, self.spot_rules.quote_asset)

    def check_invariant(self, act: bool = False) -> None:
        """Sweep the executions once more, fetch the last funding and both balances, compare with
        the ledger, log both sides. `act`: a hedge the sweep finds reduced is closed (not when
        the run is ending)."""
        if self.accounting is None or self.accounting.log is None:
            return
        self.sweep_now(act=act)
        try:
            self._fetch_income_now()
            end = self.balances()
        except (BinanceError, OSError) as exc:
            log.warning("[LEDGER] invariant not checked: %s", _short(exc))
            return
        result = self.accounting.invariant(end)
        if result is None:
            return
        self.last_invariant = result
        for line in result.describe():
            (log.info if result.ok else log.warning)("[LEDGER] %s", line)

    def _fetch_income_now(self) -> None:
        self._on_income(self._income_rows())

    def _income_rows(self) -> list[Income]:
        # the cursor may be read a moment stale off the engine thread: the dedup drops repeats
        return self.coinm_client.income(self.perp_rules.symbol, "FUNDING_FEE",
                                        start_ms=self.accounting.funding.cursor_ms or None)

    def _pair_finished(self, result) -> None:
        """On the execution thread, when a pair is done. An exit's funding is fetched here, so it
        is booked before the close row (net_btc) without the engine waiting on the network."""
        income, error, fills, read_to = None, None, None, None
        if result.fills_missing:
            self.sweeps.leg_trades_missing()       # the sweep books what the pair could not
        if result.spec.kind == "exit" and self.accounting is not None:
            try:
                income = self._income_rows()
            except (BinanceError, OSError) as exc:
                error = _short(exc)
            due = self.sweeps.due() if self.accounting.log is not None else None
            if due is not None:
                # executions outside the pair while it ran (an ADL during the exit) belong to the
                # trade: booked before its close row, they are in its net_btc
                try:
                    fills, read_to = self._executions()
                    self.sweeps.swept(due)
                except (BinanceError, OSError) as exc:
                    log.warning("[LEDGER] sweep before the close row failed (the next one books "
                                "what it missed): %s", _short(exc))
        self._put(PairDone(result, income, error, fills, read_to))

    def _on_income(self, rows: list[Income]) -> None:
        if self.accounting is None:
            return
        before = self.accounting.funding.cursor_ms
        self.accounting.on_income(rows, self.trader.trade_at)
        if self.accounting.funding.cursor_ms != before:
            self.trader.save()

    def _fetch_funding_history(self) -> None:
        try:
            rows = self.coinm_client.funding_history(self.perp_rules.symbol, limit=HISTORY_ROWS)
        except (BinanceError, OSError) as exc:
            log.warning("funding history unavailable: %s", _short(exc))
            return
        self._put(FundingHistoryUpdate(rows))

    def _fetch_mark(self) -> None:
        try:
            self._put(self.coinm_client.premium_index(self.perp_rules.symbol))
        except (BinanceError, OSError) as exc:
            log.warning("premiumIndex failed: %s", _short(exc))

    # -- the engine thread ------------------------------------------------------------------
    def run(self, stop: threading.Event, run_seconds: float = 0.0) -> RunStats:
        self.stats.started_ns = self.clock.now_ns()
        if self.s.record:
            self._recorder = CaptureWriter(self.s.record)
            log.info("recording every received message to %s", self.s.record)
        for runner in self.runners:
            runner.start()
        self.pool.submit(self._fetch_mark)
        self._request_account()
        deadline = self.clock.monotonic() + run_seconds if run_seconds > 0 else None
        tick = float(self.s.poll_interval)
        next_status = self.clock.monotonic() + float(self.s.status_interval)
        try:
            while not stop.is_set():
                if deadline is not None and self.clock.monotonic() >= deadline:
                    break
                next_status = self._step(tick, next_status)
            self._wind_down()
        finally:
            self._shutdown()
        self.stats.ended_ns = self.clock.now_ns()
        return self.stats

    def _step(self, tick: float, next_status: float) -> float:
        """One turn of the engine: an event (or a tick), evaluation, timers, status."""
        try:
            event = self.events.get(timeout=tick)
        except Empty:
            event = None
        now_ns = self.clock.now_ns()
        changed = self._handle(event, now_ns) if event is not None else False
        if changed and self.events.empty():
            self._evaluate(now_ns)
        mono = self.clock.monotonic()
        if event is None or mono >= next_status:
            self._on_timer(now_ns)
        if mono >= next_status:
            self._evaluate(now_ns, trade=False)
            log.info("%s", self.status_line(now_ns))
            next_status = mono + float(self.s.status_interval)
        if self.ops_hook is not None and mono >= self._ops_at:
            self._ops_at = mono + OPS_EVERY_S
            self.ops_hook(now_ns)
        return next_status

    def _wind_down(self) -> None:
        """A stop never leaves a half-sent pair: finish (or rescue) the pair in flight, then
        flatten if FLATTEN_ON_EXIT asks for it."""
        limit = self.clock.monotonic() + float(self.s.pair_timeout_sec) + STOP_GRACE_S
        if self.trader.in_flight:
            log.info("stopping: waiting for the pair in flight to finish")
        while self.trader.in_flight and self.clock.monotonic() < limit:
            self._step(0.05, float("inf"))
        if self.s.flatten_on_exit and self.trader.state == "HEDGED":
            log.info("stopping: FLATTEN_ON_EXIT closes the open trade")
            self.trader.start_exit("shutdown", self.evaluation.spread_bps, self.clock.now_ns() // 1_000_000)
            while self.trader.in_flight and self.clock.monotonic() < limit + STOP_GRACE_S:
                self._step(0.05, float("inf"))
        if self.trader.in_flight:
            self.trader.halt("stopped with a pair still in flight: check both venues")
        self.check_invariant()

    def _handle(self, event, now_ns: int) -> bool:
        """Route one event; True when a book or the mark changed (the strategy re-evaluates)."""
        # market data first and by exact type: this runs for every message
        kind = type(event)
        if kind is DepthDiff:
            self._trigger_ns = event.recv_ns
            return self.market.on_diff(event)
        if kind is BookTicker:
            self.market.on_ticker(event)
            return False
        if kind is MarkPrice:
            self._trigger_ns = event.recv_ns
            return self.market.on_mark(event)
        if kind is SnapshotResult:
            return self.market.on_snapshot(event, now_ns)
        if kind is PairDone:
            self._on_pair_done(event, now_ns)
            # an entry decided right now is caused by the finished pair, not by a market message:
            # no event-to-order time is taken for it
            self._trigger_ns = 0
            return True
        if kind is AccountUpdate:
            if self.lanes is not None and event.error is None:
                self.lanes.hub.reconciled(event.fetched_ms)   # covers a user-stream gap before it
            self.trader.on_account(event)
        elif kind is UserStreamGap:
            self._request_account()        # events may be lost: reconcile by REST now
        elif kind is IncomeUpdate:
            self._on_income(event.rows)
        elif kind is FundingHistoryUpdate:
            self.trader.on_funding_history(event.settled)
        elif kind is StreamStatus:
            self.market.on_stream_status(event)
        return False

    def _on_pair_done(self, done: PairDone, now_ns: int) -> None:
        result = done.result
        spec = result.spec
        if spec.kind == "exit" and self.accounting is not None:
            # funding paid while the trade was open goes in before its close row (net_btc)
            if done.income is not None:
                self._on_income(done.income)
            else:
                log.warning("income (funding) unavailable before the close: %s", done.income_error)
        if spec.kind == "entry" and spec.trigger_ns and all(result.sent_ns):
            self.stats.entry_latency.append((spec.trade_id, spec.trigger_ns, *result.sent_ns))
        self.trader.on_pair_done(result, now_ns // 1_000_000, done.fills, done.fills_read_ms)

    def _on_timer(self, now_ns: int) -> None:
        self.market.on_timer(now_ns)
        self.trader.on_timer(self.evaluation, now_ns // 1_000_000)
        if self.clock.monotonic() >= self._account_at:
            self._request_account()
        if self.trader.strategy.needs_funding_history and self.clock.monotonic() >= self._history_at:
            self._history_at = self.clock.monotonic() + HISTORY_EVERY_S
            self.pool.submit(self._fetch_funding_history)
        if self.clock.monotonic() >= self._income_at and self.accounting is not None:
            self._income_at = self.clock.monotonic() + INCOME_EVERY_S
            self.pool.submit(self._fetch_income)
        if self.accounting is not None and self.accounting.log is not None:
            self.accounting.log.retry()            # rows whose write failed are written now
        if self.trader.state_error is not None:
            self.trader.save()                     # likewise the state: entries wait for it
        if self.invariant_requested.is_set():
            self.invariant_requested.clear()
            self.check_invariant(act=True)
        mark = self.market.mark
        stale = mark is None or (now_ns - mark.recv_ns) / 1e6 > float(self.s.mark_stale_ms)
        if stale and self.clock.monotonic() >= self._mark_rest_at:
            self._mark_rest_at = self.clock.monotonic() + MARK_REST_EVERY_S
            self.pool.submit(self._fetch_mark)

    def _evaluate(self, now_ns: int, trade: bool = True) -> None:
        """Pure decisions on the current books, then the trader acts on them."""
        md = self.market
        ev = evaluate(md, self.limits, self.contract_size, self._enter_bps, self._cap_btc, now_ns,
                      self.evaluation, self._cap_usd)
        ev.trigger_ns = self._trigger_ns
        self.stats.evaluations += 1
        if ev.buy is None:
            return                                 # a book is not synced
        if self.stats.synced_after_s is None:
            self.stats.synced_after_s = (now_ns - self.stats.started_ns) / 1e9
            log.info("both books synced after %.2f s", self.stats.synced_after_s)
        if self.stats.ready_after_s is None and not ev.blocks and self.trader.account_ready():
            self.stats.ready_after_s = (now_ns - self.stats.started_ns) / 1e9
            log.info("[READY] trading allowed after %.2f s: books synced, mark and account read",
                     self.stats.ready_after_s)
        st = self.stats
        if ev.spread_bps is not None:
            st.spread_min = ev.spread_bps if st.spread_min is None else min(st.spread_min, ev.spread_bps)
            st.spread_max = ev.spread_bps if st.spread_max is None else max(st.spread_max, ev.spread_bps)
        if not ev.blocks:
            min_v = self._min_v_usd
            for f in (ev.buy, ev.sell):
                if f.size_usd >= min_v:
                    st.opportunities[f.direction] += 1
                    st.best_size_usd[f.direction] = max(st.best_size_usd[f.direction], f.size_usd)
        if trade:
            self.trader.on_evaluation(ev, md, now_ns // 1_000_000)

    # -- status ---------------------------------------------------------------------------
    def status_line(self, now_ns: int) -> str:
        md, ev, tr = self.market, self.evaluation, self.trader
        parts = ["[STATUS]", tr.state + (f" ({tr.halt_reason})" if tr.halt_reason else "")]
        t = tr.trade
        if t is not None and tr.state != "HALTED":
            age = (now_ns // 1_000_000 - t.opened_ms) / 1000
            parts.append(f"{t.trade_id} {t.direction} spot {plain(t.spot_btc)} "
                         f"{self.spot_rules.base_asset} {plain(t.contracts)} cntr "
                         f"entry {t.entry_spread_bps:+.2f}bps age {age:.1f}s |")
        # the open one counts too: "trades 0" while the first trade is held read as "nothing"
        parts.append(f"trades open {0 if t is None else 1}, closed {len(tr.closed)} |")
        for label, sync in (("spot", md.spot), ("perp", md.perp)):
            b, a = sync.book.best_bid(), sync.book.best_ask()
            if sync.ready and b and a:
                parts.append(f"{label} {b[0]:.2f}/{a[0]:.2f}")
            else:
                parts.append(f"{label} {sync.state}")
        parts.append(f"mark {md.mark.mark:.2f}" if md.mark else "mark -")
        parts.append(f"spread {ev.spread_bps:+.2f}bps" if ev.spread_bps is not None else "spread -")
        for name, f in (("buy-spot", ev.buy), ("sell-spot", ev.sell)):
            parts.append(f"| {name} " + _frontier_text(f, self.spot_rules.base_asset))
        ages = []
        for label, feed in zip(("spot", "perp", "mark"), md.feed_states()):
            ages.append(f"{label} {(now_ns - feed.last_recv_ns) / 1e6:.0f}ms" if feed.last_recv_ns
                        else f"{label} -")
        skew = ""
        if md.spot.book.last_recv_ns and md.perp.book.last_recv_ns:
            skew = f" skew {abs(md.spot.book.last_recv_ns - md.perp.book.last_recv_ns) / 1e6:.0f}ms"
        parts.append("| age " + " ".join(ages) + skew)
        parts.append(f"| resyncs {md.resyncs}")
        funding = tr.strategy.status(tr.funding_state(md), now_ns // 1_000_000)
        if funding:
            parts.append(f"| {funding}")
        blocks = ev.blocks or tr.persistence_blocks()
        parts.append("| trading allowed" if not blocks else f"| blocked: {blocks[0]}")
        return " ".join(parts)

    def _shutdown(self) -> None:
        self.executor.shutdown()
        if self.lanes is not None:
            self.lanes.stop()
        for runner in self.runners:          # close all first so they wind down in parallel
            threading.Thread(target=runner.stop, daemon=True).start()
        for runner in self.runners:
            runner.stop()
        self.pool.shutdown(wait=False, cancel_futures=True)
        with self._record_lock:
            if self._recorder is not None:
                self._recorder.close()
                self._recorder = None


def _frontier_text(f: Frontier | None, base: str) -> str:
    if f is None or f.top_edge_bps is None:
        return "-"
    text = f"top {f.top_edge_bps:+.2f}bps"
    if f.tradable:
        text += f" size ${f.size_usd:,.0f} ({f.spot_btc:.5f} {base} @ {f.edge_bps:+.2f}bps)"
        if f.capped:
            text += " [CAP]"
    else:
        text += " size 0"
    return text


def _snapshot_body(snap: DepthSnapshot, coinm: bool) -> str:
    """A depth snapshot in the capture format (the REST body) so that a recording replays.

    Binance's spot body names no symbol; one file here holds both markets, so the spot body gets
    a `symbol` field too (readers take it when present, as they do from the COIN-M body)."""
    if coinm:
        def fmt(levels):
            return [[repr(p), str(int(q)) if q == int(q) else repr(q)] for p, q in levels]
        body = {"lastUpdateId": snap.last_update_id, "E": snap.event_ms, "T": snap.event_ms,
                "symbol": snap.symbol, "bids": fmt(snap.bids), "asks": fmt(snap.asks)}
    else:
        def fmt(levels):
            return [[f"{p:.8f}", f"{q:.8f}"] for p, q in levels]
        body = {"lastUpdateId": snap.last_update_id, "symbol": snap.symbol, "bids": fmt(snap.bids),
                "asks": fmt(snap.asks)}
    return json.dumps(body, separators=(",", ":"))


def _short(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]
