"""The two strategies behind one narrow interface (STRATEGY=scalp | carry).

The trader asks `entry_decision` while FLAT and `exit_decision` while HEDGED; everything else
(account gates, the pair protocol, rescue, ledger, state, reconcile) is the same for both. An entry
decision yields, in order of preference, `Intent`s (a sized plan and the numbers behind it) and
`Skip`s (why a direction is not taken); the trader applies the account gates to each intent and
sends the first that passes. Decisions are pure: books reach them through `planner` (entry.py's
sizing on the current books), funding as a `FundingState`, the account as an `AccountView`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Callable, Iterator, Protocol

from arbitrage.strategy import carry
from arbitrage.strategy.engine import Trade
from arbitrage.strategy.entry import FIXED, EntryParams, EntryPlan, FeeRates, Rejection
from arbitrage.strategy.exits import TIMEOUT, exit_reason
from arbitrage.strategy.frontier import BUY_SPOT, SELL_SPOT
from arbitrage.strategy.risk import AccountLimits, AccountView, position_risk
from arbitrage.strategy.signals import ENTER_RULE, entry_window_rule, window_reason

SCALP, CARRY = "scalp", "carry"
Planner = Callable[[str, EntryParams], "EntryPlan | Rejection"]


@dataclass(frozen=True, slots=True)
class Skip:
    reason: str
    planned: bool = True          # False: refused before any sizing (the entry window)


@dataclass(frozen=True, slots=True)
class Intent:
    plan: EntryPlan
    note: str                     # the decision's numbers, for the [ENTRY] line


@dataclass(frozen=True, slots=True)
class ExitCall:
    reason: str                   # short: the trade's exit_reason
    detail: str | None = None     # the numbers behind it, logged


class Strategy(Protocol):
    name: str
    margin_buffer: Decimal        # COIN-M margin kept free at entry, × the initial margin
    needs_funding_history: bool   # the shell fetches the last settlements for it

    def entry_decision(self, ev: Any, planner: Planner, funding: carry.FundingState,
                       view: AccountView, now_ms: int) -> Iterator[Skip | Intent]: ...

    def exit_decision(self, ev: Any | None, trade: Trade, funding: carry.FundingState,
                      view: AccountView, now_ms: int) -> ExitCall | None: ...

    def status(self, funding: carry.FundingState, now_ms: int) -> str: ...


class Scalp:
    """The seed's rules: enter on ENTER_BPS ≤ spread < STOP_BPS with an executable edge; exit on
    convergence, stop or MAX_HOLD_SEC. MIN_NET_EDGE_BPS (off by default) also asks the planned
    entry for an edge net of the round-trip fees at the account's rates."""
    name = SCALP
    margin_buffer = Decimal(1)
    needs_funding_history = False

    def __init__(self, s: Any, params: EntryParams) -> None:
        self.params = params
        self.enter, self.exit = float(s.enter_bps), float(s.exit_bps)
        self.stop, self.max_hold = float(s.stop_bps), float(s.max_hold_sec)
        self.enter_text, self.stop_text = s.enter_bps, s.stop_bps
        self.min_net = float(s.min_net_edge_bps) if s.min_net_edge_bps is not None else None

    def entry_decision(self, ev, planner, funding, view, now_ms):
        if ev.spread_bps is None:
            return
        for direction, frontier in ((BUY_SPOT, ev.buy), (SELL_SPOT, ev.sell)):
            # the seed's signal and an executable edge must both agree
            rule = entry_window_rule(ev.spread_bps, direction, self.enter, self.stop)
            if rule == ENTER_RULE:
                continue
            if frontier is None or frontier.top_edge_bps is None or frontier.top_edge_bps < self.enter:
                continue
            if rule is not None:                  # beyond the stop: it would exit at once
                yield Skip(f"{direction}: " + window_reason(rule, ev.spread_bps, self.enter_text,
                                                            self.stop_text), planned=False)
                continue
            plan = planner(direction, self.params)
            if isinstance(plan, Rejection):
                yield Skip(f"{direction}: {plan.reason}")
                continue
            if self.min_net is not None and plan.net_edge_bps < self.min_net:
                yield Skip(f"{direction}: net edge {plan.net_edge_bps:+.2f} bps after fees "
                           f"{plan.fee_bps:.2f} < MIN_NET_EDGE_BPS {self.min_net:g}")
                continue
            yield Intent(plan, f"spread {ev.spread_bps:+.2f} bps")

    def exit_decision(self, ev, trade, funding, view, now_ms):
        if ev is None:                            # the timer: only time can end it
            reason = exit_reason(None, trade.direction, trade.opened_ms, now_ms, 0.0, 0.0,
                                 self.max_hold)
            return ExitCall(TIMEOUT) if reason == TIMEOUT else None
        reason = exit_reason(ev.spread_bps, trade.direction, trade.opened_ms, now_ms, self.exit,
                             self.stop, self.max_hold)
        if reason is None or (reason != TIMEOUT and ev.blocks):
            return None
        return ExitCall(reason)

    def status(self, funding, now_ms):
        return ""


class Carry:
    """Funding carry (carry.py): size CARRY_INVEST_USD on both books with entry.py's fixed-notional
    sizing (equal base coin on both legs, the base-coin fee gross-up), enter on the side funding
    pays when it covers the fees, hold across settlements."""
    name = CARRY
    needs_funding_history = True

    def __init__(self, s: Any, params: EntryParams, limits: AccountLimits, fees: FeeRates) -> None:
        self.p = carry.CarryParams.from_settings(s)
        self.fee_bps = fees.round_trip_bps(params.execution_mode)
        self.margin_buffer = s.coinm_margin_buffer
        self.limits = limits
        # the carry's own sizing: the invested notional, no edge threshold (the basis is one of
        # the carry's numbers, judged with the funding and the fees)
        self.params = replace(params, auto_from_frontier=False, v_usd=s.carry_invest_usd,
                              enter_bps=Decimal(-10000))

    def entry_decision(self, ev, planner, funding, view, now_ms):
        direction = carry.carry_direction(funding, self.p.lookback)
        if direction is None:
            yield Skip("carry: funding unknown or zero")
            return
        # the best prices bound the basis of any size (a walk only gets worse): when even they
        # cannot pay, the sizing in Decimal is not worth running on every book event
        top = (ev.buy if direction == BUY_SPOT else ev.sell)
        if top is not None and top.top_edge_bps is not None:
            bound = carry.entry_decision(direction, top.top_edge_bps, self.fee_bps, Decimal(0),
                                         view.spot_free_base, funding, self.p, now_ms)
            if bound.action != carry.ENTER:
                yield Skip(bound.describe())
                return
        plan = planner(direction, self.params)
        if isinstance(plan, Rejection):
            yield Skip(f"{direction}: {plan.reason}")
            return
        assert plan.sizing == FIXED
        d = carry.entry_decision(direction, plan.edge_bps, plan.fee_bps, plan.spot_qty,
                                 view.spot_free_base, funding, self.p, now_ms)
        if d.action != carry.ENTER:
            yield Skip(d.describe())
            return
        yield Intent(plan, d.numbers.describe())

    def exit_decision(self, ev, trade, funding, view, now_ms):
        close_edge = None
        if ev is not None and not ev.blocks:
            # closing a buy-spot carry sells spot and buys the perp: the sell-spot edge, and back
            closing = ev.sell if trade.direction == BUY_SPOT else ev.buy
            close_edge = closing.top_edge_bps if closing is not None else None
        risk = None
        if not view.fetch_error and view.margin is not None:     # unknown data is not a risk exit
            problems = position_risk(view, self.limits)
            risk = problems[0] if problems else None
        d = carry.exit_decision(trade.direction, trade.opened_ms, close_edge, funding, self.p,
                                now_ms, risk)
        if d is None:
            return None
        return ExitCall(d.reason.split(":", 1)[0], d.describe())

    def status(self, funding, now_ms):
        direction = carry.carry_direction(funding, self.p.lookback) or BUY_SPOT
        nums = carry.carry_numbers(direction, funding, 0.0, 0.0, self.p)
        if nums is None or not funding.settled:
            return "carry: funding history not known yet"
        return (f"carry {direction}: rate {nums.rate * 100:+.4f}% expected {nums.expected_bps:+.1f} bps "
                f"over {self.p.hold_hours:g} h (APR {nums.funding_apr:+.1f}%; Binance 3-day APR "
                f"{funding.binance_apr_pct(now_ms):.1f}%)")


def make_strategy(s: Any, params: EntryParams, limits: AccountLimits, fees: FeeRates) -> Strategy:
    if s.strategy == CARRY:
        return Carry(s, params, limits, fees)
    return Scalp(s, params)


def resume_problem(recorded: str, configured: str, state_path: str, holds_trade: bool,
                   trade_id: str | None) -> str | None:
    """A state file holding a trade opened by another strategy is refused: its exits are that
    strategy's (a carry closed by the scalp's 30-second timeout would pay its fees for nothing,
    a scalp held by the carry's rules would sit for days). A FLAT file is anyone's."""
    if recorded == configured or not holds_trade:
        return None
    return (f"STRATEGY: {configured!r}, but {state_path} holds trade {trade_id or '?'} opened "
            f"under STRATEGY={recorded} (expected STRATEGY={recorded} until that trade is closed)")
