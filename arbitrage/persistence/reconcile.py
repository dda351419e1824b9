"""Restart reconciliation (design §10), pure: the saved snapshot against what the exchange says now.

The caller gathers an `ExchangeView` (orders by client id FIRST, then open orders and the position,
so a pending order seen final cannot still move the position) and acts on the `Decision`:

  fresh    no state file: start FLAT, the current COIN-M position is the baseline (left alone)
  resume   FLAT or HEDGED and the exchange agrees exactly: carry on (a hedge keeps watching exits)
  recover  a pair was in flight: resolve its pending orders (known / unknown to the exchange);
           also a FLAT file whose reserved trade id already has orders on the exchange (an entry
           sends before its record is written: `reserved_entry` rebuilds what the record says)
  halt     something differs: say exactly what, how to inspect it and how to proceed
  adopt    only when asked (--adopt): the exchange is the truth, start FLAT with nothing pending

Never infer a position from an order's label: the COIN-M position is compared with what the
snapshot expects, to the contract. Spot balances prove little (other activity is allowed on the
account), so the only spot check is that a HEDGED buy-spot trade's BTC is still there.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from decimal import Decimal

from arbitrage.execution.pairs import client_id
from arbitrage.models import BUY, COINM, SELL, SPOT, OrderRequest, OrderState
from arbitrage.persistence.state import EngineSnapshot
from arbitrage.strategy.engine import ENTERING, EXITING, FLAT, HALTED, HEDGED, Trade
from arbitrage.strategy.frontier import BUY_SPOT, SELL_SPOT

FRESH, RESUME, RECOVER, HALT, ADOPT = "fresh", "resume", "recover", "halt", "adopt"

# `<trade>-<s|p>-<e|r|x><n>` (execution.client_id); the trade part has no dash
_OUR_ID = re.compile(r"^[A-Za-z0-9_.:/]+-[sp]-[erx]\d+$")


def is_ours(client_order_id: str) -> bool:
    return bool(_OUR_ID.match(client_order_id or ""))


@dataclass(frozen=True)
class ExchangeView:
    open_orders: tuple[OrderState, ...]         # on both symbols, anyone's
    orders: dict[str, OrderState | None]        # every pending client id -> state, None = no such order
    position_amount: Decimal                    # signed contracts of the COIN-M symbol
    spot_base_total: Decimal                    # spot BTC free + locked


@dataclass(frozen=True)
class Decision:
    action: str
    message: str
    details: list[str]
    snapshot: EngineSnapshot | None             # the state to run with (None: start from scratch)
    baseline_contracts: Decimal | None = None   # the COIN-M position that is not the bot's
    known: tuple[tuple[OrderRequest, OrderState], ...] = ()   # recover: pending orders found
    not_found: tuple[OrderRequest, ...] = ()    # recover: never sent, or not placed
    to_cancel: tuple[OrderState, ...] = field(default_factory=tuple)   # adopt: our open orders


def reconcile(snapshot: EngineSnapshot | None, view: ExchangeView, adopt: bool) -> Decision:
    unrecorded = reserved_entry(snapshot, view.orders)
    if unrecorded is not None:                  # from here on, an entry in flight like any other
        snapshot = unrecorded
    if adopt:
        return _adopt(snapshot, view)
    ours = [o for o in view.open_orders if is_ours(o.client_order_id)]
    others = [o for o in view.open_orders if not is_ours(o.client_order_id)]
    notes = [f"{len(others)} open order(s) not placed by the bot (left alone): "
             + ", ".join(o.client_order_id or str(o.order_id) for o in others)] if others else []
    if snapshot is None:
        if ours:
            return _halt(None, view, [f"no state file, but {_order(o)} has the bot's client id: a "
                                      f"previous run left it" for o in ours], notes)
        return Decision(FRESH, f"no state file: starting FLAT; the COIN-M position of "
                        f"{_num(view.position_amount)} contracts is the baseline (left alone)",
                        notes, None, view.position_amount)
    if snapshot.engine_state == HALTED:
        return _halt(snapshot, view, _differences(snapshot, view, ours), notes)
    if snapshot.engine_state in (ENTERING, EXITING):
        why = (" (its record had not reached the disk: the state file says FLAT, with this trade "
               "id reserved)" if unrecorded is not None else "")
        return _recover(snapshot, view, ours, notes, why)
    diffs = _differences(snapshot, view, ours)
    if diffs:
        return _halt(snapshot, view, diffs, notes)
    s = snapshot
    if s.baseline_contracts is None:            # saved before the first account reading
        s = replace(s, baseline_contracts=view.position_amount)
        notes.append(f"the state file had no baseline yet: the current position "
                     f"{_num(view.position_amount)} becomes it (left alone)")
    what = (f"FLAT, COIN-M position {_num(view.position_amount)} = baseline"
            if s.engine_state == FLAT else
            f"HEDGED in trade {s.trade.trade_id} ({_num(s.trade.contracts)} contracts, "
            f"{_num(s.trade.spot_held)} {_base(s)} on spot), COIN-M position {_num(view.position_amount)} "
            f"= baseline {_num(s.baseline_contracts)} + trade {_num(s.trade.contracts)}")
    return Decision(RESUME, f"state matches the exchange: resuming {what}", notes, s,
                    s.baseline_contracts)


# -- the entry sent before its record ------------------------------------------------------------
def reserved_legs(s: EngineSnapshot | None) -> tuple[tuple[str, str, str], ...]:
    """(market, symbol, client id) of the entry legs the reserved trade id would have sent: to be
    queried on start (into `ExchangeView.orders`) whenever the state file says FLAT."""
    if s is None or s.engine_state != FLAT or s.next_trade_id is None:
        return ()
    r = s.next_trade_id
    return ((SPOT, s.spot_symbol, client_id(r, "s", "e", 1)),
            (COINM, s.coinm_symbol, client_id(r, "p", "e", 1)))


def reserved_entry(s: EngineSnapshot | None,
                   orders: dict[str, OrderState | None]) -> EngineSnapshot | None:
    """The snapshot the entry's record would have written, when the reserved trade id's legs exist
    on the exchange although the file says FLAT (killed after they left, before the save); None
    when neither exists (nothing was sent: a normal FLAT)."""
    legs = reserved_legs(s)
    missing = [cid for _, _, cid in legs if cid not in orders]
    if missing:                                 # a bug in the caller, not a fact about the exchange
        raise ValueError(f"the view must hold the reserved entry's client ids; missing "
                         f"{', '.join(missing)}")
    found = [orders[cid] for _, _, cid in legs if orders[cid] is not None]
    if not found:
        return None
    r = s.next_trade_id
    pending = tuple(_rebuilt(orders[cid]) if orders[cid] is not None else
                    _never_sent(market, symbol, cid, found[0]) for market, symbol, cid in legs)
    spot = orders[legs[0][2]]
    buys_spot = spot.side == BUY if spot is not None else found[0].side == SELL
    times = [st.update_ms for st in found if st.update_ms > 0]
    trade = Trade(r, BUY_SPOT if buys_spot else SELL_SPOT, min(times) if times else s.saved_ms, 0.0)
    return replace(s, engine_state=ENTERING, trade=trade, pair_kind="entry", pending_orders=pending,
                   entry_ids=(*s.entry_ids, r), next_trade_id=None)   # R is used now


def _rebuilt(st: OrderState) -> OrderRequest:
    """The request that produced `st`. The state carries no timeInForce: an entry's COIN-M limit
    leg is always post-only (GTX); it only matters to a re-send, which recovery never does."""
    limit = st.type in ("LIMIT", "LIMIT_MAKER")
    tif = {"LIMIT": "GTX" if st.market == COINM else "GTC"}.get(st.type)
    return OrderRequest(st.market, st.symbol, st.side, st.type, st.orig_qty, st.client_order_id,
                        price=st.price if limit else None, time_in_force=tif,
                        reduce_only=st.reduce_only)


def _never_sent(market: str, symbol: str, cid: str, other: OrderState) -> OrderRequest:
    """A stand-in for the leg the exchange does not know: the pair protocol needs both legs, and
    querying this one again on recovery proves it was never placed. Nothing of it is known but its
    id and side, so its quantity is 0 — it is never sent."""
    return OrderRequest(market, symbol, SELL if other.side == BUY else BUY, "MARKET", Decimal(0),
                        cid)


# -- the branches -----------------------------------------------------------------------------
def _recover(s: EngineSnapshot, view: ExchangeView, ours: list[OrderState],
             notes: list[str], why: str = "") -> Decision:
    missing = [o.client_order_id for o in s.pending_orders if o.client_order_id not in view.orders]
    if missing:                                 # a bug in the caller, not a fact about the exchange
        raise ValueError(f"the view must hold every pending client id; missing {', '.join(missing)}")
    pending_ids = {o.client_order_id for o in s.pending_orders}
    diffs = [f"{_order(o)} not known to the state" for o in ours
             if o.client_order_id not in pending_ids]
    if s.baseline_contracts is None:
        diffs.append("the state file has no COIN-M baseline: the position cannot be checked")
    known = tuple((r, view.orders[r.client_order_id]) for r in s.pending_orders
                  if view.orders[r.client_order_id] is not None)
    not_found = tuple(r for r in s.pending_orders if view.orders[r.client_order_id] is None)
    perp = [st for r, st in known if r.market == COINM]
    if s.baseline_contracts is not None and all(st.final for st in perp):
        # every contract this pair traded is accounted for: the position must match exactly
        filled = sum((_signed(st) for st in perp), Decimal(0))
        trade = s.trade.contracts if s.engine_state == EXITING else Decimal(0)
        expected = s.baseline_contracts + trade + filled
        if view.position_amount != expected:
            diffs.append(f"COIN-M position of {s.coinm_symbol} is {_num(view.position_amount)} "
                         f"contracts, the state file expects {_num(expected)} (baseline "
                         f"{_num(s.baseline_contracts)} + trade {s.trade.trade_id} {_num(trade)} + "
                         f"filled by its pending orders {_num(filled)})")
    if diffs:
        return _halt(s, view, diffs, notes)
    lines = [f"{r.client_order_id} on {r.symbol}: {st.status}, {_num(st.executed_qty)}/"
             f"{_num(st.orig_qty)} filled" for r, st in known]
    lines += [f"{r.client_order_id} on {r.symbol}: the exchange has no such order (never sent, "
              f"or not placed)" for r in not_found]
    if not all(st.final for st in perp):
        lines.append("a COIN-M order is still open: the position is checked once the pair is done")
    return Decision(RECOVER, f"{s.pair_kind} of trade {s.trade.trade_id} was in flight{why}: resolving "
                    f"its {len(s.pending_orders)} order(s) ({len(known)} known to the exchange, "
                    f"{len(not_found)} not)", lines + notes, s, s.baseline_contracts, known, not_found)


def _differences(s: EngineSnapshot, view: ExchangeView, ours: list[OrderState]) -> list[str]:
    """FLAT / HEDGED (and, for the record, HALTED): what the exchange shows that the state does not
    expect."""
    diffs = [f"{_order(o)} not known to the state" for o in ours]
    t = s.trade
    if s.engine_state == HALTED:
        diffs.insert(0, f"the state file says the bot HALTED: {s.halt_reason}")
        held = f", trade {t.trade_id} {_num(t.contracts)}" if t else ""
        diffs.append(f"COIN-M position of {s.coinm_symbol} is now {_num(view.position_amount)} "
                     f"contracts (state: baseline {_num(s.baseline_contracts)}{held})")
        return diffs
    if s.baseline_contracts is None:
        if s.engine_state != FLAT:
            diffs.append("the state file has no COIN-M baseline: the position cannot be checked")
        return diffs
    trade = t.contracts if t is not None and s.engine_state == HEDGED else Decimal(0)
    expected = s.baseline_contracts + trade
    if view.position_amount != expected:
        why = (f"baseline {_num(s.baseline_contracts)} + trade {t.trade_id} {_num(trade)}"
               if s.engine_state == HEDGED else f"baseline {_num(s.baseline_contracts)}, no trade open")
        diffs.append(f"COIN-M position of {s.coinm_symbol} is {_num(view.position_amount)} "
                     f"contracts, the state file expects {_num(expected)} ({why})")
    if s.engine_state == HEDGED and t.direction == BUY_SPOT and t.spot_held > view.spot_base_total:
        diffs.append(f"spot holds {_num(view.spot_base_total)} {_base(s)} (free + locked), less than "
                     f"the {_num(t.spot_held)} {_base(s)} trade {t.trade_id} bought and must sell back")
    return diffs


def _base(s: EngineSnapshot) -> str:
    """The pair's base coin (the COIN-M symbol's prefix; the spot symbol has the same base)."""
    return s.coinm_symbol.split("USD_")[0]


def _halt(s: EngineSnapshot | None, view: ExchangeView, diffs: list[str],
          notes: list[str]) -> Decision:
    already = s is not None and s.engine_state == HALTED
    head = (f"still HALTED: {s.halt_reason}" if already else
            f"state file does not match the exchange: {diffs[0]}"
            + (f" (and {len(diffs) - 1} more)" if len(diffs) > 1 else ""))
    details = diffs + notes + _inspect(s, view) + [
        "to proceed: fix the account by hand if it is wrong and start again, or start with --adopt "
        "to take the exchange's view as truth (FLAT, the current COIN-M position becomes the "
        "baseline and is left alone, nothing pending, the bot's open orders are cancelled)"]
    halted = None
    if s is not None:
        halted = s if already else replace(s, engine_state=HALTED, halt_reason=head)
    return Decision(HALT, head, details, halted,
                    s.baseline_contracts if s is not None else None)


def _adopt(s: EngineSnapshot | None, view: ExchangeView) -> Decision:
    pos = view.position_amount
    ours = tuple(o for o in view.open_orders if is_ours(o.client_order_id))
    lines = [f"COIN-M position of {_num(pos)} contracts becomes the baseline (left alone; trades "
             f"are added on top)"]
    if s is not None:
        if s.engine_state == HALTED:
            lines.append(f"the previous halt is cleared: {s.halt_reason}")
        t = s.trade
        if t is not None:
            lines.append(f"trade {t.trade_id} ({s.engine_state}, {_num(t.contracts)} contracts, "
                         f"{_num(t.spot_held)} {_base(s)} on spot) is dropped: what it holds stays on the "
                         f"account and the bot will not close it")
        for r in s.pending_orders:
            st = view.orders.get(r.client_order_id)
            seen = ("not queried" if r.client_order_id not in view.orders else
                    "the exchange has no such order" if st is None else
                    f"{st.status}, {_num(st.executed_qty)}/{_num(st.orig_qty)} filled")
            lines.append(f"pending order {r.client_order_id} on {r.symbol} is dropped ({seen})")
    lines += [f"{_order(o)} has the bot's client id: it must be cancelled" for o in ours]
    adopted = None
    if s is not None:
        adopted = replace(s, engine_state=FLAT, trade=None, pair_kind=None, pending_orders=(),
                          baseline_contracts=pos, halt_reason=None)
    msg = (f"adopting the exchange's view: FLAT, baseline {_num(pos)} contracts, nothing pending"
           + (f", {len(ours)} open order(s) of the bot to cancel" if ours else ""))
    return Decision(ADOPT, msg, lines, adopted, pos, to_cancel=ours)


# -- wording ------------------------------------------------------------------------------------
def _inspect(s: EngineSnapshot | None, view: ExchangeView) -> list[str]:
    spot = s.spot_symbol if s else _symbol(view, SPOT)
    coinm = s.coinm_symbol if s else _symbol(view, COINM)
    lines = ["inspect: python -m app.main --print-config   (venue, keys, STATE_PATH)",
             f"inspect: GET /dapi/v1/positionRisk   (the position of {coinm})",
             f"inspect: GET /api/v3/openOrders?symbol={spot}",
             f"inspect: GET /dapi/v1/openOrders?symbol={coinm}",
             "inspect: GET /api/v3/account   (spot balances)"]
    for r in s.pending_orders if s else ():
        path = "/api/v3/order" if r.market == SPOT else "/dapi/v1/order"
        lines.append(f"inspect: GET {path}?symbol={r.symbol}&origClientOrderId={r.client_order_id}")
    return lines


def _symbol(view: ExchangeView, market: str) -> str:
    return next((o.symbol for o in view.open_orders if o.market == market), "<symbol>")


def _order(o: OrderState) -> str:
    return (f"open order {o.client_order_id} on {o.symbol} ({o.status}, {_num(o.executed_qty)}/"
            f"{_num(o.orig_qty)} filled)")


def _signed(st: OrderState) -> Decimal:
    return st.executed_qty if st.side == BUY else -st.executed_qty


def _num(d: Decimal | None) -> str:
    return "none" if d is None else format(d, "f")
