"""The engine's bookkeeping: pair results and funding become ledger rows in `trades_log.csv`, once.

Sources, one per kind of money (never both, so nothing is counted twice): spot fills (FULL answer
or myTrades) for spot quantities and commissions; COIN-M userTrades for contracts, commissions and
realized PnL; COIN-M income `FUNDING_FEE` (deduplicated by tranId) for funding only.

Rows are idempotent across restarts: a row whose key is already in the file is not written again
(a pair completed just before a kill is re-derived on restart and must not be counted twice).
"""
from __future__ import annotations

import dataclasses
import logging
from decimal import Decimal
from typing import Callable

from arbitrage.execution.pairs import PairResult
from arbitrage.accounting.ledger import (Balances, FundingDedup, Invariant, LedgerRow, OrderFills, Pair,
                                         check_invariant, funding_row, pair_row, with_net_btc, with_pair)
from arbitrage.models import COINM, SPOT, Income, SymbolRules
from arbitrage.strategy.engine import Trade
from arbitrage.strategy.frontier import BUY_SPOT
from arbitrage.accounting.sweep import OVERLAP_MS, cut
from arbitrage.accounting.tradelog import TradeLog, read_rows, row_key

log = logging.getLogger("arbitrage.accounting")

OWN_ORDERS_KEPT = 2000     # orders of this run's pairs remembered (their late executions)


class Accounting:
    def __init__(self, tradelog: TradeLog | None, spot_rules: SymbolRules,
                 perp_rules: SymbolRules, start_ms: int, quote_shared: bool = False) -> None:
        self.quote_shared = quote_shared          # QUOTE_SHARED: the quote line cannot decide
        self.log = tradelog                       # None under DRY_RUN: rows on paper, not written
        self.spot_rules, self.perp_rules = spot_rules, perp_rules
        # every row names its pair: one trades_log.csv can hold several
        self.pair = Pair(spot_rules.base_asset, spot_rules.symbol, perp_rules.symbol)
        self.start_ms = start_ms                  # exchange time when the start balances were read
        self.rows: list[LedgerRow] = []           # written (or queued) by this run
        # what the end-of-run invariant sums: this run's rows, but of a row executed partly
        # before start_ms (an entry in flight at a kill, completed on restart) only the later part
        self.counted: list[LedgerRow] = []
        self.funding = FundingDedup()
        self.start_balances: Balances | None = None
        self._known = tradelog.keys() if tradelog else set()
        self._trade_rows: dict[str, list[LedgerRow]] = {}
        # (market, order id) of every execution booked: the ledger's rows say which orders they hold
        self.booked: set[tuple[str, str]] = set()
        self.last_booked_ms = 0                   # the newest execution in the file before this run
        # the sweep of executions nobody booked (arbitrage/accounting/sweep.py): from this run's start, or
        # from the cursor the state file saved (restore_sweep)
        self.sweep_floor_ms = self.sweep_cursor_ms = start_ms
        # (market, order id) -> trade id of every order this run's pairs sent: a sweep that finds
        # executions of one the pair's rows lack (its trades never added up in time, so the row
        # left the order out) books them as a `late` row of that trade, not as a change outside
        self.own_orders: dict[tuple[str, str], str] = {}
        if tradelog and tradelog.path.exists():
            problems: list = []
            for r in read_rows(tradelog.path, problems):
                if r.pair != self.pair:
                    continue                      # another pair's rows: its ids and trades, not ours
                self._note_booked(r)
                if r.spot_orderId or r.cm_orderId:
                    self.last_booked_ms = max(self.last_booked_ms, r.ts_ms)
                if r.trade_id:
                    self._trade_rows.setdefault(r.trade_id, []).append(r)
            for line, reason in problems[:5]:
                log.warning("[LEDGER] %s line %s unreadable: %s", tradelog.path, line, reason)

    # -- pairs ------------------------------------------------------------------------------
    def on_pair(self, result: PairResult, trade: Trade) -> None:
        for o in result.orders:
            if o.state is not None and o.state.order_id:
                self.own_orders[(o.request.market, str(o.state.order_id))] = trade.trade_id
        while len(self.own_orders) > OWN_ORDERS_KEPT:
            del self.own_orders[next(iter(self.own_orders))]
        spec = result.spec
        size = self.perp_rules.contract_size or Decimal(1)
        label = _label(trade.direction, closing=spec.kind == "exit")
        main = [o for o in (result.spot, result.perp)]
        if spec.kind == "exit":
            main += result.rescues                # remainders: same sides as the exit legs
        else:
            # a chase's later orders (`-e<n>`: replacements, hedges) belong to its open row
            main += [o for o in result.rescues if _step(o) == "e"]
        spot, perp = self._fills(result, main)
        if spot or perp:
            event = "close" if spec.kind == "exit" else "open"
            row, counted = self._pair_row(event, trade.trade_id, label, spot, perp, size)
            if event == "close":
                row = self._with_net(row, trade)
            self._write(row, counted)
        if spec.kind == "entry":
            for rescue in result.rescues:
                if _step(rescue) == "e":
                    continue
                s, p = self._fills(result, [rescue])
                if s or p:
                    side = ("SELL" if rescue.request.side == "SELL" else "BUY") + \
                           ("_SPOT" if rescue.request.market == SPOT else "_PERP")
                    self._write(*self._pair_row("rescue", trade.trade_id, side, s, p, size))

    def _pair_row(self, event: str, trade_id: str, side: str, spot: list[OrderFills],
                  perp: list[OrderFills], size: Decimal) -> tuple[LedgerRow, LedgerRow | None]:
        """The ledger row, and the part of it this run's invariant counts: the start balances
        already hold the fills executed before start_ms (None when that is all of them)."""
        assets = (self.spot_rules.base_asset, self.spot_rules.quote_asset)
        row = pair_row(event, trade_id, side, _ts(spot + perp), spot, perp, size, *assets)
        if all(f.time_ms >= self.start_ms for item in spot + perp for f in item.fills):
            return row, row
        later_spot, later_perp = self._after_start(spot), self._after_start(perp)
        if not later_spot and not later_perp:
            return row, None
        return row, pair_row(event, trade_id, side, _ts(later_spot + later_perp), later_spot,
                             later_perp, size, *assets)

    def _after_start(self, items: list[OrderFills]) -> list[OrderFills]:
        later = [dataclasses.replace(item, fills=tuple(f for f in item.fills
                                                       if f.time_ms >= self.start_ms))
                 for item in items]
        return [item for item in later if item.fills]

    def _fills(self, result: PairResult, orders) -> tuple[list[OrderFills], list[OrderFills]]:
        spot: list[OrderFills] = []
        perp: list[OrderFills] = []
        for o in orders:
            fills = result.fills.get(o.request.client_order_id, ())
            if not fills or o.state is None:
                continue
            item = OrderFills(o.request.market, o.request.side, o.request.client_order_id,
                              o.state.order_id, tuple(fills))
            (spot if o.request.market == SPOT else perp).append(item)
        return spot, perp

    def _with_net(self, row: LedgerRow, trade: Trade) -> LedgerRow:
        return with_net_btc(row, self._trade_rows.get(trade.trade_id, []))

    # -- executions no pair booked (liquidation / ADL / by hand) -----------------------------
    def restore_sweep(self, cursor_ms: int | None) -> None:
        """On a restart: what the previous runs booked ends at their saved cursor (or, for a state
        file older than the cursor, at the newest execution in the ledger)."""
        cursor = cursor_ms if cursor_ms is not None else (self.last_booked_ms or self.start_ms)
        self.sweep_floor_ms = self.sweep_cursor_ms = min(cursor, self.start_ms)

    def sweep_from_ms(self) -> int:
        """Where the next read of myTrades / userTrades starts (read off the engine thread: a
        stale value only makes the overlap larger)."""
        return self.sweep_cursor_ms - OVERLAP_MS

    def on_outside_fills(self, fills: list, trade_at: Callable[[int], str | None],
                         hold_from_ms: int | None = None, read_to_ms: int | None = None) -> list:
        """Executions of a sweep that no ledger row holds: one row per order — `adl` for COIN-M (a
        liquidation or ADL), `outside` for spot — tagged with the trade that held the hedge. A pair
        in flight since `hold_from_ms` books its own: those wait. Returns the fills booked (the
        engine's record of the position follows them)."""
        sweep = cut(fills, self.booked, self.sweep_floor_ms, self.sweep_cursor_ms, hold_from_ms,
                    read_to_ms)
        self.sweep_cursor_ms = sweep.cursor_ms
        by_order: dict[tuple[str, int], list] = {}
        for f in sweep.book:
            by_order.setdefault((f.market, f.order_id), []).append(f)
        size = self.perp_rules.contract_size or Decimal(1)
        outside = []
        for (market, order_id), group in by_order.items():
            group = list({f.trade_id: f for f in group}.values())   # a repeated read of a trade
            self.booked.add((market, str(order_id)))
            own = self.own_orders.get((market, str(order_id)))
            if own is None:
                outside += group
            if self.log is None:
                continue
            item = OrderFills(market, group[0].side, "", order_id, tuple(group))
            ts = _ts([item])
            spot, perp = ([item], []) if market == SPOT else ([], [item])
            event, leg = ("outside", "SPOT") if market == SPOT else ("adl", "PERP")
            if own is not None:
                event = "late"
                log.warning("[LEDGER] %s order %s: executions its row lacked are booked late",
                            own, order_id)
            self._write(pair_row(event, own or trade_at(ts) or "", f"{group[0].side}_{leg}", ts,
                                 spot, perp, size, self.spot_rules.base_asset,
                                 self.spot_rules.quote_asset))
        return outside

    # -- funding ----------------------------------------------------------------------------
    def on_income(self, incomes: list[Income], trade_at: Callable[[int], str | None]) -> None:
        """Funding rows, each tagged with the trade that held the position when it was paid."""
        for income in self.funding.new(incomes):
            if self.log is not None:
                self._write(funding_row(income, trade_at(income.time_ms)))

    # -- writing and checking ---------------------------------------------------------------
    def _write(self, row: LedgerRow, counted: LedgerRow | None | bool = True) -> None:
        """`counted`: what of the row the invariant sums (True: the row itself if it is this
        run's, by its time)."""
        row = with_pair(row, self.pair)
        key = row_key(row)
        self._note_booked(row)
        if row.trade_id:
            self._trade_rows.setdefault(row.trade_id, []).append(row)
        if key in self._known:
            log.info("[LEDGER] %s %s already in %s: not written twice", row.event, row.trade_id,
                     self.log.path if self.log else "memory")
            return
        self._known.add(key)
        if row.ts_ms >= self.start_ms:
            self.rows.append(row)
        if counted is True:
            counted = row if row.ts_ms >= self.start_ms else None
        if counted is not None:
            self.counted.append(counted)
        if self.log is None:                      # DRY_RUN: paper fills, kept for the summary
            log.info("[DRY] on paper, not written: %s %s Δbtc %s Δusdt %s%s", row.event,
                     row.trade_id or "-", row.delta_btc,
                     row.delta_usdt if row.delta_usdt is not None else "-",
                     f" net_btc {row.net_btc}" if row.net_btc is not None else "")
            return
        self.log.append(row)
        log.info("[LEDGER] %s %s Δbtc %s Δusdt %s%s", row.event, row.trade_id or "-",
                 row.delta_btc, row.delta_usdt if row.delta_usdt is not None else "-",
                 f" net_btc {row.net_btc}" if row.net_btc is not None else "")

    def _note_booked(self, row: LedgerRow) -> None:
        self.booked.update((SPOT, i) for i in (row.spot_orderId or "").split())
        self.booked.update((COINM, i) for i in (row.cm_orderId or "").split())

    def invariant(self, end: Balances) -> Invariant | None:
        if self.start_balances is None or self.log is None:
            return None
        return check_invariant(self.counted, self.start_balances, end, self.spot_rules.base_asset,
                               self.spot_rules.quote_asset, self.quote_shared)


def _label(direction: str, closing: bool) -> str:
    buy_spot = (direction == BUY_SPOT) != closing
    return "BUY_SPOT_SELL_PERP" if buy_spot else "SELL_SPOT_BUY_PERP"


def _ts(items: list[OrderFills]) -> int:
    """A row's time: its latest execution (exchange time)."""
    return max((f.time_ms for item in items for f in item.fills), default=0)


def _step(order) -> str:
    """The step letter of `<trade>-<leg>-<step><n>` (e: entry, r: rescue, x: exit)."""
    return order.request.client_order_id.rsplit("-", 1)[-1][:1]
