"""Trading on the engine thread: evaluations become entry/exit pairs, pair results become state.

Decisions come from the pure core (entry plan, account gates, exit rule, state table); this file
only feeds them what the engine knows and hands the resulting pairs to the executor. It owns the
engine state (FLAT/ENTERING/HEDGED/EXITING/HALTED), the open trade and the closed ones.
"""
from __future__ import annotations

import dataclasses
import logging
import re
import threading
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable

from arbitrage.accounting.bookkeeping import Accounting
from arbitrage.execution.chase import ChaseMarket
from arbitrage.clock import WALL, Clock
from arbitrage.execution.pairs import PairExecutor, PairResult, PairSpec, client_id, floor_to
from arbitrage.models import BUY, COINM, SELL, SPOT, CoinmAccount, OrderRequest, SpotAccount, SymbolRules
from arbitrage.numbers import plain
from arbitrage.strategy.engine import (ENTERING, ENTRY_FLAT, ENTRY_HEDGED, ENTRY_SENT, EXIT_FLAT,
                                       EXIT_SENT, EXITING, FLAT, HALT, HALTED, HEDGED, Trade,
                                       transition)
from arbitrage.strategy.carry import FundingState
from arbitrage.strategy.chase_rule import entry_rule_holds
from arbitrage.strategy.emergency import emergency_unwind
from arbitrage.strategy.entry import (CHASE, EntryParams, EntryPlan, FeeRates, Rejection,
                                      plan_entry, price_on_tick)
from arbitrage.strategy.frontier import BUY_SPOT
from arbitrage.strategy.risk import (AccountLimits, AccountView, account_blocks, funding_notice,
                                     persistence_blocks)
from arbitrage.strategy.strategies import SCALP, Intent, make_strategy
from arbitrage.persistence.state import EngineSnapshot, StateStore
from arbitrage.accounting.sweep import CLOCK_MARGIN_MS

log = logging.getLogger("arbitrage.trader")

_NUMBERS = re.compile(r"[-+$]?\d[\d,.]*")
ACCOUNT_STALE_MS = 15_000      # account data older than this blocks entries (refreshed every 5 s)


@dataclass
class AccountUpdate:
    """Both accounts as fetched off the engine thread; `epoch` says which engine state they saw.
    `fills`: the recent executions on both symbols (spot and COIN-M, read after the accounts),
    to find the ones no pair booked."""
    spot: SpotAccount | None
    coinm: CoinmAccount | None
    error: str | None
    fetched_ms: int
    epoch: int
    fills: list = None
    fills_read_ms: int | None = None    # the executions were read up to this time


@dataclass
class PairDone:
    result: PairResult
    income: list | None = None          # an exit's funding rows, fetched as it finished
    income_error: str | None = None     # why they could not be fetched
    fills: list | None = None           # an exit's: both symbols' executions read as it finished
    fills_read_ms: int | None = None


ENTRY_IDS_KEPT = 1000    # trade ids remembered (and saved); new ones are always above the newest


class Trader:
    def __init__(self, settings, spot_rules: SymbolRules, perp_rules: SymbolRules,
                 executor: PairExecutor, fees: FeeRates,
                 request_account: Callable[[], None], accounting: Accounting | None = None,
                 store: StateStore | None = None, clock: Clock = WALL) -> None:
        self.s = settings
        self.clock = clock
        self.accounting = accounting
        self.store = store
        self.pending: list[OrderRequest] = []    # orders of the pair in flight, recorded pre-send
        self.pair_kind: str | None = None
        self._lock = threading.RLock()           # state is saved from two threads
        self.spot_rules, self.perp_rules = spot_rules, perp_rules
        self.executor = executor
        self.fees = fees
        self.request_account = request_account
        self.params = EntryParams.from_settings(settings)
        limits = AccountLimits.from_settings(settings, ACCOUNT_STALE_MS)
        # scalp or carry (STRATEGY): the trader only asks it for entry and exit decisions
        self.strategy = make_strategy(settings, self.params, limits, fees)
        self.limits = dataclasses.replace(limits, margin_buffer=self.strategy.margin_buffer)
        self.funding_settled: tuple = ()         # the last settlements, fetched off this thread
        self._market = None                      # the market of the last evaluation (timer exits)
        self._last_eval = None
        self._view_cache: tuple | None = None
        self._funding_cache: tuple | None = None
        self.state = FLAT
        self.trade: Trade | None = None          # the open (or opening / closing) trade
        self.closed: list[Trade] = []
        self.halt_reason: str | None = None
        self.state_error: str | None = None      # the last save failed: why (cleared by a save)
        # more reasons to open nothing new (each returns one or None), e.g. a user-stream gap
        # not yet reconciled by REST (ORDER_TRANSPORT=ws)
        self.entry_gates: list = []
        self.last_exit_ms: int | None = None
        self.epoch = 0                           # bumped whenever a pair starts or ends
        self.account: AccountUpdate | None = None
        self.baseline_contracts: Decimal | None = None
        self.entries = self.rescued_entries = 0
        self.buy_fee_in_base = True              # see _learn_buy_fee_asset
        self.entry_ids: list[str] = []           # every trade id sent, whatever became of it
        # the next entry's trade id, saved before that entry sends anything (see start_entry)
        self.next_trade_id = ""
        self.next_trade_id = self._fresh_trade_id(self.clock.now_ms())
        # what every pair so far did to the accounts, exactly: spot BTC (net of BTC commissions)
        # and contracts. The exchange must agree with these to the unit.
        self.spot_btc_net = Decimal(0)
        self.contracts_net = Decimal(0)
        self._last_block: str | None = None
        self.outside_changes = 0                 # hedges reduced outside the bot (ADL/liquidation)
        self._suspect_epoch: int | None = None   # the position disagreed once at this epoch
        self.paused: str | None = None           # why new entries are off (the operator); exits go on
        self.rejections: Counter = Counter()     # entry refusals by kind of reason (the fleet page)
        # local time the pair in flight started (its executions are booked with its result, not
        # by a sweep); 0 after a restart recovers one: its start is unknown, every execution waits
        self.pair_started_ms = 0
        self.chase = None        # EXECUTION_MODE=chase: the chase executor (execution/chase.py)

    # -- events -----------------------------------------------------------------------------
    def on_evaluation(self, evaluation, market, now_ms: int) -> None:
        self._last_eval = evaluation
        self._market = market
        if self.chase is not None and self.state == ENTERING:
            self._publish_chase(evaluation, market)
        if self.state == FLAT and not evaluation.blocks and self.paused is None:
            self._maybe_enter(evaluation, market, now_ms)
        elif self.state == HEDGED and self.trade is not None:
            self._maybe_exit(evaluation, market, now_ms)

    def on_timer(self, evaluation, now_ms: int) -> None:
        """Time-based rules must fire even when the market is quiet (or its data is stale)."""
        if self.state == HEDGED and self.trade is not None:
            self._maybe_exit(None, self._market, now_ms, evaluation.spread_bps)

    def on_funding_history(self, settled) -> None:
        """The last settlements (oldest first), fetched off the engine thread."""
        self.funding_settled = tuple(settled)

    def funding_state(self, market) -> FundingState:
        mark = market.mark if market is not None else None
        c = self._funding_cache
        if c is not None and c[0] is mark and c[1] is self.funding_settled:
            return c[2]
        state = FundingState(mark.funding_rate if mark else None,
                             mark.next_funding_ms if mark else None, self.funding_settled)
        self._funding_cache = (mark, self.funding_settled, state)
        return state

    def _publish_chase(self, ev, market) -> None:
        """The touch and the entry rule, for the chase resting on the execution thread."""
        spot, perp = market.spot.book, market.perp.book
        sb, sa, pb, pa = spot.best_bid(), spot.best_ask(), perp.best_bid(), perp.best_ask()
        if not (sb and sa and pb and pa):
            return
        mark = market.mark
        tick, ptick = self.spot_rules.tick_size, self.perp_rules.tick_size
        self.chase.feed.publish(ChaseMarket(
            price_on_tick(sb[0], tick, BUY), price_on_tick(sa[0], tick, SELL),
            price_on_tick(pb[0], ptick, BUY), price_on_tick(pa[0], ptick, SELL),
            entry_rule_holds(self.strategy.name, ev.spread_bps,
                             mark.funding_rate if mark else None, self.s.enter_bps)))

    def _maybe_exit(self, ev, market, now_ms: int, spread: float | None = None) -> None:
        t = self.trade
        unwind = emergency_unwind(ev.spread_bps if ev is not None else spread, t.direction,
                                  self.s.emergency_unwind_bps)
        if unwind is not None:
            log.warning("[EXIT] %s %s", t.trade_id, unwind)
            self.start_exit("emergency unwind", ev.spread_bps if ev is not None else spread,
                            now_ms)
            return
        call = self.strategy.exit_decision(ev, self.trade, self.funding_state(market),
                                           self._view(market, now_ms), now_ms)
        if call is None:
            return
        if call.detail:
            log.info("[%s] %s exit: %s", self.strategy.name.upper(), self.trade.trade_id, call.detail)
        self.start_exit(call.reason, ev.spread_bps if ev is not None else spread, now_ms)

    def account_ready(self) -> bool:
        """Both accounts have been read at least once without error (the gates can judge)."""
        a = self.account
        return a is not None and not a.error and a.coinm is not None

    def on_account(self, update: AccountUpdate) -> None:
        self.account = update
        if update.error or update.coinm is None:
            return
        pos = update.coinm.positions.get(self.perp_rules.symbol)
        amount = pos.amount if pos else Decimal(0)
        if update.fills is not None and self.accounting is not None and not self.s.dry_run:
            # whatever the engine state: a pair in flight only holds back its own executions
            self._outside_fills(update.fills, update.fetched_ms,
                                read_to_ms=update.fills_read_ms)
        if self.baseline_contracts is None:
            self.baseline_contracts = amount
            if amount:
                log.warning("COIN-M already holds %s contracts of %s: left alone, trades are added "
                            "on top", amount, self.perp_rules.symbol)
            return
        if self.s.dry_run or update.epoch != self.epoch or self.state not in (FLAT, HEDGED):
            return                                # a pair was in flight: this view may predate it
        expected = self.baseline_contracts + (self.trade.contracts if self.trade else Decimal(0))
        if amount == expected:
            self._suspect_epoch = None
            return
        if self._suspect_epoch != self.epoch:
            # a fill between the two reads of an update can make them disagree once: look again
            # (no entry meanwhile) before calling it a change outside the bot
            self._suspect_epoch = self.epoch
            log.info("[HEDGE] COIN-M position %s, expected %s: checking again", amount, expected)
            self.request_account()
            return
        self.halt(f"COIN-M position is {plain(amount)} contracts but the bot expects "
                  f"{plain(expected)}: the hedge changed outside the bot (check "
                  f"/dapi/v1/positionRisk and open orders)")

    def _outside_fills(self, fills: list, now_ms: int, act: bool = True,
                       read_to_ms: int | None = None, pair: set | None = None) -> None:
        """Executions no pair booked (liquidation / ADL on COIN-M, a trade by hand) are booked,
        and the bot's record of both accounts follows them. A hedge they reduced is closed at once
        (its spot leg is partly naked now) unless `act` is False (the run is ending). `pair`: the
        (market, order id) of the pair just finished, not yet booked: those are left to it (the
        rest of the sweep is not held back)."""
        if pair is not None:
            fills = [f for f in fills if (f.market, str(f.order_id)) not in pair]
            hold = None
        else:
            hold = self.pair_started_ms - CLOCK_MARGIN_MS if self.in_flight else None
        outside = self.accounting.on_outside_fills(fills, self.trade_at, hold, read_to_ms)
        if not outside:
            return
        self._follow_spot([f for f in outside if f.market == SPOT])
        outside = [f for f in outside if f.market == COINM]
        delta = sum((f.qty if f.side == BUY else -f.qty for f in outside), Decimal(0))
        self.save()                               # the sweep's cursor moved with the rows
        if not delta:
            return
        self.outside_changes += 1
        self.contracts_net += delta
        t = self.trade
        # Only what happened while the current trade was open changes it. An earlier fill (a
        # sweep finds it after the fact) hit a trade that is closed: its exit closed what the
        # exchange said was left, so the position already reflects it.
        mine = sum((f.qty if f.side == BUY else -f.qty for f in outside
                    if t is not None and f.time_ms >= t.opened_ms), Decimal(0))
        if self.state != HEDGED or t is None or not mine:
            log.warning("[HEDGE] %s contracts traded outside the bot (engine %s, not while the "
                        "open trade was hedged): booked, the position count follows", delta,
                        self.state)
            return
        if not act:
            log.warning("[HEDGE] %s: %s contracts traded outside the bot while it stops: the "
                        "trade holds %s, left as it is", t.trade_id, mine, t.contracts + mine)
            return
        held = t.contracts + mine
        log.warning("[HEDGE] %s: COIN-M position changed outside the bot (liquidation/ADL?) from "
                    "%s to %s contracts: closing the trade", t.trade_id, t.contracts, held)
        self.trade = t.closed(contracts=held,
                              notes=t.notes + (f"changed outside to {plain(held)}",))
        if held * t.contracts < 0:            # flipped: not ours to unwind blindly
            self.halt(f"COIN-M position of trade {t.trade_id} flipped to {plain(held)} contracts "
                      f"outside the bot")
            return
        self.start_exit("hedge reduced outside", None, now_ms)   # a 0-contract leg is not sent

    def _follow_spot(self, fills: list) -> None:
        """Spot executions no pair booked change the spot BTC the bot accounts for."""
        base = self.spot_rules.base_asset
        for f in fills:
            self.spot_btc_net += (f.qty if f.side == BUY else -f.qty) - (
                f.commission if f.commission_asset == base else Decimal(0))
            log.warning("[SPOT] %s %s %s @ %s traded outside the bot (order %s): booked",
                        self.spot_rules.symbol, f.side, f.qty, f.price, f.order_id)

    def on_pair_done(self, result: PairResult, now_ms: int, fills: list | None = None,
                     fills_read_ms: int | None = None) -> None:
        """`fills`: executions read as the pair finished; those of other orders are booked before
        the pair's own rows (an ADL during an exit is in the trade's close row's net_btc)."""
        with self._lock:
            if fills and self.accounting is not None and not self.s.dry_run:
                self._outside_fills(fills, now_ms, read_to_ms=fills_read_ms,
                                    pair=_order_keys(result))
            self.epoch += 1
            self.spot_btc_net += result.spot_held
            self.contracts_net += result.contracts
            if self.accounting is not None and self.trade is not None:
                # the ledger first: a kill right after it re-derives the same rows on restart,
                # and they are not written twice
                self.accounting.on_pair(result, self.trade.closed(
                    spot_vwap=self.trade.spot_vwap or result.spot_vwap))
            self.request_account()               # margin data after every fill
            self._learn_buy_fee_asset(result)
            self.pending, self.pair_kind = [], None
            if result.spec.kind == "entry":
                self._entry_done(result, now_ms)
            else:
                self._exit_done(result, now_ms)
            self.save()

    # -- persistence ------------------------------------------------------------------------
    def on_orders_created(self, requests: list[OrderRequest]) -> None:
        """Called by the executor (any thread) before it sends an exit, a rescue or a remainder:
        their ids reach the disk first. For an entry it comes once both legs are answered, with
        nothing new (start_entry put the legs in `pending`): the record is written then."""
        with self._lock:
            # an order sent under a planned leg's id takes its place (chase: the first hedge is
            # the entry's planned `-p-e1`): one record per client order id
            sent = {r.client_order_id for r in requests}
            self.pending = [p for p in self.pending if p.client_order_id not in sent] + list(requests)
            self.save()

    def snapshot(self) -> EngineSnapshot:
        with self._lock:
            funding = self.accounting.funding if self.accounting else None
            return EngineSnapshot(
                spot_symbol=self.spot_rules.symbol, coinm_symbol=self.perp_rules.symbol,
                venue=self.s.venue, saved_ms=self.clock.now_ms(), engine_state=self.state,
                halt_reason=self.halt_reason, trade=self.trade, pair_kind=self.pair_kind,
                pending_orders=tuple(self.pending), baseline_contracts=self.baseline_contracts,
                spot_btc_net=self.spot_btc_net, contracts_net=self.contracts_net,
                last_exit_ms=self.last_exit_ms,
                income_cursor_ms=funding.cursor_ms if funding else 0,
                seen_tran_ids=tuple(funding.seen_ids()) if funding else (),
                entry_ids=tuple(self.entry_ids), next_trade_id=self.next_trade_id,
                trades_cursor_ms=self.accounting.sweep_cursor_ms if self.accounting else None,
                strategy=self.strategy.name)

    def save(self) -> None:
        if self.store is None or self.s.dry_run:
            return
        try:
            self.store.update(self.snapshot)     # built under the store's lock: newest wins
        except (OSError, ValueError) as exc:     # a full disk must not stop managing the hedge
            if self.state_error is None:
                log.error("[STATE] could not save %s: %s; no new entries until it is saved (an "
                          "open trade is still managed)", self.store.path, exc)
            self.state_error = f"{type(exc).__name__}: {exc}"[:200]
            return
        if self.state_error is not None:
            log.info("[STATE] %s saved again", self.store.path)
        self.state_error = None

    def persistence_blocks(self) -> list[str]:
        """Why nothing new may be opened: the ledger or the state cannot be written, or an
        `entry_gates` gate is closed."""
        tradelog = self.accounting.log if self.accounting is not None else None
        return persistence_blocks(tradelog.error if tradelog is not None else None,
                                  self.state_error) + [
            reason for reason in (gate() for gate in self.entry_gates) if reason]

    def restore(self, snap: EngineSnapshot) -> None:
        """Take up where a previous run left off (after reconciliation said so)."""
        with self._lock:
            self.state = snap.engine_state
            self.halt_reason = snap.halt_reason
            self.trade = snap.trade
            self.baseline_contracts = snap.baseline_contracts
            self.spot_btc_net, self.contracts_net = snap.spot_btc_net, snap.contracts_net
            self.last_exit_ms = snap.last_exit_ms
            self.entry_ids = list(snap.entry_ids)
            self.pair_kind = snap.pair_kind
            self.pending = list(snap.pending_orders)
            self.pair_started_ms = 0              # a recovered pair: its start is not known
            # the saved reservation is kept: a FLAT file already names it, and a restart looks
            # for its orders. A used (or missing) one is replaced.
            if snap.next_trade_id is not None and self._unused(snap.next_trade_id):
                self.next_trade_id = snap.next_trade_id
            elif not self._unused(self.next_trade_id):
                self.next_trade_id = self._fresh_trade_id(self.clock.now_ms())

    def _unused(self, trade_id: str) -> bool:
        return trade_id not in self.entry_ids and (self.trade is None
                                                   or self.trade.trade_id != trade_id)

    def _fresh_trade_id(self, now_ms: int) -> str:
        """`T<ms>`, never one this run or the restored history already used: a repeated trade id
        would repeat client order ids. Ids only grow (past the newest one kept, whatever the
        clock says), so the history kept can be bounded."""
        ms = max([now_ms] + [int(i[1:]) + 1 for i in self.entry_ids[-1:] if i[1:].isdigit()])
        while not self._unused(f"T{ms}") or f"T{ms}" == self.next_trade_id:
            ms += 1
        return f"T{ms}"

    @property
    def position_in_doubt(self) -> bool:
        """The COIN-M position disagreed with the bot's once and is being read again."""
        return self._suspect_epoch is not None

    # -- entries ----------------------------------------------------------------------------
    def _maybe_enter(self, ev, market, now_ms: int) -> None:
        if self._suspect_epoch is not None:
            return                                # the position is being checked again
        view = self._view(market, now_ms)
        decisions = self.strategy.entry_decision(
            ev, lambda direction, params: self._plan(direction, market, params),
            self.funding_state(market), view, now_ms)
        checked = False
        for item in decisions:
            on_the_table = isinstance(item, Intent) or item.planned
            if on_the_table and not checked:
                checked = True
                blocked = self.persistence_blocks()   # asked only when an entry is on the table
                if blocked:
                    self._blocked(blocked[0])
                    return
            if not isinstance(item, Intent):
                self._blocked(item.reason)
                continue
            plan = item.plan
            blocks = account_blocks(plan.direction, plan, view, self.limits, now_ms)
            if blocks:
                self._blocked(f"{plan.direction}: {blocks[0]}")
                continue
            if self.strategy.name == SCALP:       # a carry holds across settlements on purpose
                notice = funding_notice(view, self.limits, now_ms)
                if notice:
                    log.info("[FUNDING] %s", notice)
            self.start_entry(plan, ev.spread_bps, now_ms, ev.trigger_ns, item.note)
            return

    def _plan(self, direction: str, market, params: EntryParams | None = None) -> EntryPlan | Rejection:
        spot, perp = market.spot.book, market.perp.book
        if direction == BUY_SPOT:
            levels = (spot.iter_asks(), perp.iter_bids())
            touch = (spot.best_bid(), perp.best_ask())
        else:
            levels = (spot.iter_bids(), perp.iter_asks())
            touch = (spot.best_ask(), perp.best_bid())
        return plan_entry(direction, levels[0], levels[1], self.spot_rules, self.perp_rules,
                          params or self.params, self.fees, spot_touch=touch[0][0] if touch[0] else None,
                          perp_touch=touch[1][0] if touch[1] else None,
                          buy_fee_in_base=self.buy_fee_in_base)

    def _learn_buy_fee_asset(self, r: PairResult) -> None:
        """Binance takes a spot BUY's commission in the coin bought unless BNB pays fees: buys are
        grossed up for it (plan_entry) until a BUY's fills show the commission went elsewhere."""
        for o in r.orders:
            if o.request.market == SPOT and o.request.side == BUY:
                charged = [f for f in r.fills.get(o.request.client_order_id, ()) if f.commission > 0]
                if charged:
                    self.buy_fee_in_base = any(f.commission_asset == self.spot_rules.base_asset
                                               for f in charged)

    def _view(self, market, now_ms: int) -> AccountView:
        """The account as the gates see it; rebuilt only when its inputs changed (the entry
        decision asks on every book event, the account and the mark change a few times a second)."""
        acct = self.account
        mark = market.mark if market is not None else None
        c = self._view_cache
        if c is not None and c[0] is acct and c[1] is mark and c[2] == self.last_exit_ms:
            return c[3]
        view = AccountView.from_accounts(
            acct.spot if acct else None, acct.coinm if acct else None,
            base_asset=self.spot_rules.base_asset, quote_asset=self.spot_rules.quote_asset,
            margin_asset=self.perp_rules.margin_asset or self.spot_rules.base_asset,
            coinm_symbol=self.perp_rules.symbol, mark_price=mark.mark if mark else None,
            fetched_ms=acct.fetched_ms if acct else None, fetch_error=acct.error if acct else None,
            last_exit_ms=self.last_exit_ms,
            next_funding_ms=mark.next_funding_ms if mark else None)
        self._view_cache = (acct, mark, self.last_exit_ms, view)
        return view

    def _blocked(self, reason: str) -> None:
        # one line per new kind of reason, not one per book event with new numbers in it
        kind = _NUMBERS.sub("#", reason)
        self.rejections[kind] += 1
        if kind != self._last_block:
            self._last_block = kind
            log.info("[SKIP] %s", reason)

    def start_entry(self, plan: EntryPlan, spread: float, now_ms: int, trigger_ns: int = 0,
                    note: str | None = None) -> None:
        """The legs leave before the state file records them (the write's fsyncs would delay
        them; the execution thread writes it once both answers are in): the trade id was
        reserved and saved while FLAT, so a restart after a crash in between finds the legs by
        their client ids (reconcile.reserved_entry)."""
        trade_id = self.next_trade_id
        if plan.execution_mode == CHASE and self.chase is not None and not self.s.dry_run:
            self._start_chase(plan, spread, now_ms, trade_id, note)
            return
        maker = plan.execution_mode == "maker"
        spot_req = OrderRequest(SPOT, self.spot_rules.symbol, plan.spot_side,
                                "LIMIT_MAKER" if maker else "MARKET", plan.spot_qty,
                                client_id(trade_id, "s", "e", 1), price=plan.spot_price)
        perp_req = OrderRequest(COINM, self.perp_rules.symbol, plan.perp_side,
                                "LIMIT" if maker else "MARKET", plan.contracts,
                                client_id(trade_id, "p", "e", 1), price=plan.perp_price,
                                time_in_force="GTX" if maker else None)
        self._open_entry(plan, spread, now_ms, trade_id)
        with self._lock:                          # any save from now on names both legs
            self.pending = [spot_req, perp_req]
        self.executor.submit(PairSpec(trade_id, "entry", spot_req, perp_req, _px(plan.spot_vwap),
                                      _px(plan.perp_vwap), self.spot_rules, self.perp_rules,
                                      trigger_ns), record_first=False)
        # said once the legs are on their way: a log line costs tens of µs
        log.info("[ENTRY] %s %s | %s", trade_id, plan.describe(),
                 note if note is not None else f"spread {spread:+.2f} bps")

    def _open_entry(self, plan: EntryPlan, spread: float, now_ms: int, trade_id: str) -> None:
        """The engine's side of an entry leaving (taker/maker pair or chase): ENTERING, the
        trade opened under the reserved id, the next id reserved."""
        self.state = transition(self.state, ENTRY_SENT)
        self.pair_started_ms = now_ms
        self.pair_kind = "entry"
        self.epoch += 1
        self.entries += 1
        self.entry_ids.append(trade_id)
        del self.entry_ids[:-ENTRY_IDS_KEPT]              # the state file must not grow forever
        self.next_trade_id = self._fresh_trade_id(now_ms)   # saved with this entry's record
        self._last_block = None
        self.trade = Trade(trade_id, plan.direction, now_ms, spread, gross_edge_bps=plan.edge_bps,
                           net_edge_bps=plan.net_edge_bps)

    def _start_chase(self, plan: EntryPlan, spread: float, now_ms: int, trade_id: str,
                     note: str | None) -> None:
        """EXECUTION_MODE=chase: the spot leg rests at the touch (LIMIT_MAKER) and follows it;
        each fill is hedged at market by the chase executor. Recorded like an entry: the
        reserved trade id names its orders (`-s-e<n>` spot, `-p-e<n>` hedges)."""
        book = self._market.spot.book
        touch = book.best_bid() if plan.spot_side == BUY else book.best_ask()
        price = price_on_tick(touch[0], self.spot_rules.tick_size, plan.spot_side)
        spot_req = OrderRequest(SPOT, self.spot_rules.symbol, plan.spot_side, "LIMIT_MAKER",
                                plan.spot_qty, client_id(trade_id, "s", "e", 1), price=price)
        perp_req = OrderRequest(COINM, self.perp_rules.symbol, plan.perp_side, "MARKET",
                                plan.contracts, client_id(trade_id, "p", "e", 1))
        self._open_entry(plan, spread, now_ms, trade_id)
        with self._lock:
            # the planned hedge names `-p-e1` for a restart's recovery (reconcile, bot._recover):
            # the chase sends its first hedge under that id, sized by the fill, recorded first
            self.pending = [spot_req, perp_req]
        fee = self.fees.spot_maker
        kept = (1 - fee) if plan.spot_side == BUY and self.buy_fee_in_base else Decimal(1)
        if self._last_eval is not None:
            self._publish_chase(self._last_eval, self._market)
        self.chase.submit(PairSpec(trade_id, "entry", spot_req, perp_req, price,
                                   _px(plan.perp_vwap), self.spot_rules, self.perp_rules),
                          plan.direction, kept)
        log.info("[ENTRY] %s chase %s at %s | %s", trade_id, plan.describe(), price,
                 note if note is not None else f"spread {spread:+.2f} bps")

    def _entry_done(self, r: PairResult, now_ms: int) -> None:
        assert self.trade is not None
        # a chase's later orders (`-e<n>`) are its entry, not rescues
        rescues = sum(1 for o in r.rescues if not o.request.client_order_id.rsplit("-", 1)[-1]
                      .startswith("e"))
        t = self.trade.closed(spot_btc=r.spot_btc, spot_held=r.spot_held, contracts=r.contracts,
                              spot_vwap=r.spot_vwap, perp_vwap=r.perp_vwap, rescues=rescues)
        self.trade = t
        if rescues:
            self.rescued_entries += 1
        if r.halt_reason:
            self.halt(r.halt_reason)
            return
        if abs(r.contracts) >= 1:
            self.state = transition(self.state, ENTRY_HEDGED)
            log.info("[ENTRY] %s hedged: spot %s %s @ %s, %s contracts @ %s%s", t.trade_id,
                     r.spot_btc, self.spot_rules.base_asset, _p(r.spot_vwap), r.contracts, _p(r.perp_vwap),
                     f" (after {rescues} rescue order(s))" if rescues else "")
            return
        self.state = transition(self.state, ENTRY_FLAT)
        self.trade = None
        self.last_exit_ms = now_ms
        log.warning("[ENTRY] %s left nothing open (%s / %s)%s", t.trade_id, r.spot.status,
                    r.perp.status, " after rescue" if r.rescues else "")

    # -- exits ------------------------------------------------------------------------------
    def start_exit(self, reason: str, spread: float | None, now_ms: int) -> None:
        t = self.trade
        assert t is not None and self.state == HEDGED
        spot_side = SELL if t.spot_btc > 0 else BUY
        spot_qty = floor_to(abs(t.spot_held), self.spot_rules.step_size)
        perp_side = BUY if t.contracts < 0 else SELL
        spot_req = OrderRequest(SPOT, self.spot_rules.symbol, spot_side, "MARKET", spot_qty,
                                client_id(t.trade_id, "s", "x", 1))
        perp_req = OrderRequest(COINM, self.perp_rules.symbol, perp_side, "MARKET", abs(t.contracts),
                                client_id(t.trade_id, "p", "x", 1), reduce_only=True)
        self.state = transition(self.state, EXIT_SENT)
        self.pair_started_ms = now_ms
        self.pair_kind = "exit"
        self.epoch += 1
        self.trade = t.closed(exit_reason=reason, exit_spread_bps=spread)
        held_s = (now_ms - t.opened_ms) / 1000
        log.info("[EXIT] %s %s after %.1f s | spread %s | %s %s %s + %s %s contracts reduce-only",
                 t.trade_id, reason, held_s, f"{spread:+.2f} bps" if spread is not None else "-",
                 self.spot_rules.symbol, spot_side, spot_qty, perp_side, abs(t.contracts))
        self.executor.submit(PairSpec(t.trade_id, "exit", spot_req, perp_req,
                                      t.spot_vwap or Decimal(0), t.perp_vwap or Decimal(0),
                                      self.spot_rules, self.perp_rules))

    def _exit_done(self, r: PairResult, now_ms: int) -> None:
        assert self.trade is not None
        t = self.trade.closed(closed_ms=now_ms, exit_spot_vwap=r.spot_vwap, exit_perp_vwap=r.perp_vwap)
        if r.halt_reason:
            self.trade = t
            self.halt(r.halt_reason)
            return
        self.state = transition(self.state, EXIT_FLAT)
        self.closed.append(t)
        self.trade = None
        self.last_exit_ms = now_ms
        log.info("[EXIT] %s flat: spot %s %s @ %s, %s contracts @ %s", t.trade_id, r.spot_btc,
                 self.spot_rules.base_asset,
                 _p(r.spot_vwap), r.contracts, _p(r.perp_vwap))

    # -- halting ----------------------------------------------------------------------------
    def halt(self, reason: str) -> None:
        if self.state != HALTED:
            log.error("[HALT] %s — no new orders; the process stays up. Inspect open orders and "
                      "the position on both venues before restarting.", reason)
        self.state = transition(self.state, HALT)
        self.halt_reason = self.halt_reason or reason
        self.save()

    def trade_at(self, time_ms: int) -> str | None:
        """The trade that held the hedge at `time_ms` (funding belongs to it), if any."""
        t = self.trade
        if t is not None and t.opened_ms <= time_ms:
            return t.trade_id
        for t in reversed(self.closed):
            if t.opened_ms <= time_ms <= (t.closed_ms or time_ms):
                return t.trade_id
        return None

    @property
    def in_flight(self) -> bool:
        return self.state in (ENTERING, EXITING)


def _order_keys(result: PairResult) -> set[tuple[str, str]]:
    return {(o.request.market, str(o.state.order_id)) for o in result.orders if o.state is not None}


def _p(price: Decimal | None) -> str:
    return f"{price:.2f}" if price is not None else "-"


def _px(value: float) -> Decimal:
    return Decimal(repr(value)) if value == value else Decimal(0)
