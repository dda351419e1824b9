"""CHASE_HEDGE=race (seed 000): once the chase's spot leg has filled, two orders race instead of
a market hedge per fill (strategy/race_exit.py decides, this file does the I/O):

- the hedge, a COIN-M post-only LIMIT at the perp touch (`<trade>-p-e<n>`: part of the entry);
- the way back, a spot LIMIT_MAKER undoing the entry at no loss (`<trade>-s-r<n>`: a rescue row).

The first to fill cancels the other; both filled (over-hedge) closes the excess contracts at
market, reduce-only, at once (`<trade>-p-r<n>`). A hedge that fills in part lowers the way back
(keep-priority amend). At the chase's deadline whatever is open is cancelled and the pair
protocol's rescue flattens what is left unhedged, at market.
"""
from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from decimal import ROUND_DOWN, Decimal

from arbitrage.exchanges.errors import BinanceError
from arbitrage.execution.pairs import PairExecutor, PairResult, client_id
from arbitrage.models import BUY, COINM, SELL, SPOT, OrderRequest
from arbitrage.numbers import plain
from arbitrage.execution.orders import TrackedOrder
from arbitrage.strategy.entry import price_on_tick
from arbitrage.strategy.race_exit import (CANCEL_HEDGE, CANCEL_WAY_BACK, CLOSE_EXCESS, DONE,
                                          LOWER_WAY_BACK, RaceState, contracts_for, decide_race,
                                          race_prices)

log = logging.getLogger("arbitrage.race")

ZERO = Decimal(0)
HEDGE_WON, WAY_BACK_WON, OVER_HEDGED, NEITHER = "hedge", "way_back", "over_hedged", "neither"


class RaceRunner:
    def __init__(self, pairs: PairExecutor, feed, life_s: float) -> None:
        self.pairs, self.feed, self.life_s = pairs, feed, life_s
        self.clock = pairs.clock
        self.outcomes: Counter = Counter()
        self.by_trade: dict[str, str] = {}

    def run(self, result: PairResult, direction: str, held: Decimal, entry_price: Decimal,
            hedge_n: int) -> None:
        """Race for `held` (spot held from the entry, net of a base-coin commission); every
        order sent joins `result.rescues`."""
        spec = result.spec
        m = self.feed.latest()
        size = spec.perp_rules.contract_size or Decimal(1)
        step = spec.spot_rules.step_size
        prices = race_prices(direction, entry_price, m.spot_bid, m.spot_ask, m.perp_bid, m.perp_ask)
        back_side = SELL if spec.spot.side == BUY else BUY
        # on the tick grid, never worse than the entry: a sell rounds up, a buy down
        prices = dataclasses.replace(prices, way_back_price=price_on_tick(
            float(prices.way_back_price), spec.spot_rules.tick_size, back_side))
        contracts = contracts_for(held, prices.hedge_price, size)
        back_qty = (held / step).to_integral_value(rounding=ROUND_DOWN) * step
        hedge = TrackedOrder(OrderRequest(
            COINM, spec.perp.symbol, spec.perp.side, "LIMIT", Decimal(contracts),
            client_id(spec.trade_id, "p", "e", hedge_n), price=prices.hedge_price,
            time_in_force="GTX"))
        back = TrackedOrder(OrderRequest(
            SPOT, spec.spot.symbol, back_side, "LIMIT_MAKER", back_qty,
            client_id(spec.trade_id, "s", "r", 1), price=prices.way_back_price))
        log.info("[RACE] %s: hedge %s %s @ %s vs way back %s %s @ %s", spec.trade_id,
                 hedge.request.side, contracts, prices.hedge_price, back.request.side,
                 plain(back_qty), prices.way_back_price)
        self.pairs.on_created([hedge.request, back.request])
        result.rescues += [hedge, back]
        self.pairs._send(hedge, prices.hedge_price)
        self.pairs._send(back, prices.way_back_price)
        closed, excess_n = 0, 0
        back_total = back_qty          # the way back's quantity as the exchange has it (amends lower it)
        deadline = self.clock.monotonic() + self.life_s
        outcome = NEITHER
        while self.clock.monotonic() < deadline:
            live = [o for o in (hedge, back) if not o.final]
            for o in self.pairs.updates.next(live, deadline) if live else ():
                if not o.final:
                    self.pairs._refresh(o)
            state = RaceState(direction, held, back.executed,
                              ZERO if back.final else back_total - back.executed,
                              int(hedge.executed) - closed,
                              0 if hedge.final else int(hedge.request.quantity - hedge.executed))
            intents = decide_race(state, prices.hedge_price, size, step)
            for intent in intents:
                if intent.action == CANCEL_HEDGE:
                    self.pairs._cancel(hedge)
                elif intent.action == CANCEL_WAY_BACK:
                    self.pairs._cancel(back)
                elif intent.action == LOWER_WAY_BACK:
                    if self._lower(back, back.executed + intent.qty):
                        back_total = back.executed + intent.qty
                elif intent.action == CLOSE_EXCESS:
                    excess_n += 1
                    outcome = OVER_HEDGED
                    closed += self._close_excess(result, intent.qty, excess_n)
            if any(i.action == DONE for i in intents) or (hedge.final and back.final):
                # a cancel may have lost to a fill: one more look settles an over-hedge
                state = RaceState(direction, held, back.executed, ZERO,
                                  int(hedge.executed) - closed, 0)
                for intent in decide_race(state, prices.hedge_price, size, step):
                    if intent.action == CLOSE_EXCESS:
                        excess_n += 1
                        outcome = OVER_HEDGED
                        closed += self._close_excess(result, intent.qty, excess_n)
                break
        for o in (hedge, back):
            if not o.final:
                self.pairs._cancel(o)
        if outcome != OVER_HEDGED:
            outcome = (HEDGE_WON if hedge.executed > 0 and back.executed == 0
                       else WAY_BACK_WON if back.executed > 0 and hedge.executed == 0
                       else OVER_HEDGED if hedge.executed > 0 and back.executed > 0 else NEITHER)
        self.outcomes[outcome] += 1
        self.by_trade[spec.trade_id] = outcome
        log.info("[RACE] %s: %s (hedge %s filled, way back %s filled, %d excess close(s))",
                 spec.trade_id, outcome, plain(hedge.executed), plain(back.executed), excess_n)

    def _lower(self, back: TrackedOrder, qty: Decimal) -> bool:
        """Lower the way back to `qty` in all (keep-priority amend); True when the exchange did."""
        req = back.request
        try:
            back.report(self.pairs.gw[SPOT].amend_keep_priority(req.symbol, req.client_order_id, qty))
            return True
        except (BinanceError, OSError) as exc:
            log.warning("[RACE] lowering %s failed: %s", req.client_order_id, exc)
            self.pairs._refresh(back)
            return False

    def _close_excess(self, result: PairResult, qty: Decimal, n: int) -> int:
        spec = result.spec
        req = OrderRequest(COINM, spec.perp.symbol, BUY if spec.perp.side == SELL else SELL,
                           "MARKET", qty, client_id(spec.trade_id, "p", "r", n), reduce_only=True)
        order = TrackedOrder(req)
        log.warning("[RACE] %s over-hedged: closing %s contracts at market, reduce-only",
                    spec.trade_id, qty)
        self.pairs.on_created([req])
        result.rescues.append(order)
        self.pairs._send(order, spec.perp_px, patient=True)
        return int(order.executed)
