"""The entry decision (design §5): how much to trade, on both grids, and whether both legs are valid.

Pure: books come in as best-first level iterables (read lazily and kept, so the same book can be
walked several times), settings and fee rates as values; nothing here reads a clock or does I/O.

Steps, in order (each refusal is a `Rejection` with its own short reason):
1. V: from the frontier (AUTO_FROM_FRONTIER; `capped` when MAX_V_USD_FRONTIER or MAX_Q_BASE_FRONTIER
   stopped it) and at least MIN_V_USD, or V_USD walked on both books with each leg's slippage and
   the edge checked.
2. Contracts first, `N = floor(V / S)` on the lot step; then spot `Q = N·S / perp_px` rounded DOWN to
   stepSize, perp_px being the perp VWAP for those N contracts: equal base coin on both legs (delta
   neutral). The residual `Q − N·S/perp_px` (< one step) is reported as `hedge_error_btc`. A spot
   BUY whose commission is taken in the coin bought (Binance's rule unless BNB pays fees) would
   hold `Q·(1 − rate)`: with `buy_fee_in_base` N comes from V·(1 − rate) and Q is grossed up,
   `N·S/perp_px / (1 − rate)` rounded UP, so that what is *held* matches the hedge (on ETH, with its 10 USD contract, the 10 bps fee of a
   $10k buy is already a whole contract and would need a rescue every time).
3. Both legs re-priced for the rounded sizes (Q BTC, N contracts) and the edge recomputed. Rounding
   only shrinks the legs, so on a consistent book the edge cannot fall; the check stays as a guard.
4. Both legs validated against their filters before either is sent.

"BTC" in names here (`hedge_error_btc`, `max_spot_btc`) stands for the pair's base coin.

Maker mode joins the touch (spot BUY at the best bid, SELL at the best ask; the perp leg mirrored),
prices rounded in the safe (passive) direction: BUY down, SELL up. Sizing still comes from the taker
walk: it is the price a rescue would face, and the frontier is defined on it. The plan's expected
prices are then the limit prices. Exits are always MARKET (design §8), so the round-trip fee is the
entry rates of the execution mode plus the taker rates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Iterable, Iterator

from arbitrage.models import BUY, SELL, Level, SymbolRules
from arbitrage.strategy.frontier import BUY_SPOT, SELL_SPOT, compute_frontier

TAKER = "taker"
MAKER = "maker"
CHASE = "chase"      # spot rests at the touch and follows it (maker), each fill hedged at market
FRONTIER = "frontier"
FIXED = "fixed"

_EDGE_TOLERANCE_BPS = 1e-9    # float noise around an edge that sits exactly on ENTER_BPS
_CONTRACT_TOLERANCE = 1e-9    # V/S = 299.99999999997 after float arithmetic is 300 contracts
_FILL_TOLERANCE = 1e-9        # relative: a walk that fills all but float dust has filled


@dataclass(frozen=True, slots=True)
class EntryParams:
    """The settings the entry decision reads (names as in config.Settings)."""
    enter_bps: Decimal
    auto_from_frontier: bool
    min_v_usd: Decimal
    max_q_base_frontier: Decimal         # spot leg cap in the base coin; 0 = none
    v_usd: Decimal
    max_slippage_bps_spot: Decimal
    max_slippage_bps_coinm: Decimal
    execution_mode: str = TAKER
    max_v_usd_frontier: Decimal = Decimal(0)     # notional cap, USD; 0 = none
    base_cap_name: str = "MAX_Q_BASE_FRONTIER"    # as the user named it (MAX_Q_BTC_FRONTIER, old)

    @classmethod
    def from_settings(cls, s: Any) -> "EntryParams":
        from arbitrage.config import base_cap_name
        return cls(s.enter_bps, s.auto_from_frontier, s.min_v_usd, s.max_q_base_frontier, s.v_usd,
                   s.max_slippage_bps_spot, s.max_slippage_bps_coinm, s.execution_mode,
                   s.max_v_usd_frontier, base_cap_name(s))


@dataclass(frozen=True, slots=True)
class FeeRates:
    """Commission rates as fractions (0.001 = 10 bps): spot from /api/v3/account commissionRates,
    COIN-M from /dapi/v1/commissionRate."""
    spot_maker: Decimal
    spot_taker: Decimal
    coinm_maker: Decimal
    coinm_taker: Decimal

    def round_trip_bps(self, execution_mode: str) -> float:
        """Entry at the mode's rates plus a MARKET exit, both legs."""
        entry = (self.spot_maker + self.coinm_maker if execution_mode == MAKER
                 else self.spot_maker + self.coinm_taker if execution_mode == CHASE
                 else self.spot_taker + self.coinm_taker)
        return float((entry + self.spot_taker + self.coinm_taker) * 10000)


@dataclass(frozen=True, slots=True)
class EntryPlan:
    direction: str               # BUY_SPOT / SELL_SPOT
    sizing: str                  # FRONTIER / FIXED
    execution_mode: str          # TAKER / MAKER
    spot_side: str               # BUY / SELL
    perp_side: str
    spot_qty: Decimal            # BTC, on the spot step grid: ready to send
    contracts: Decimal           # on the COIN-M lot grid: ready to send
    spot_price: Decimal | None   # maker limit prices on the tick grid; None for MARKET
    perp_price: Decimal | None
    spot_vwap: float             # expected average prices: the walk (taker) or the limit (maker)
    perp_vwap: float             # harmonic on the inverse leg
    edge_bps: float              # gross, at the expected prices
    fee_bps: float               # round trip, both legs, entry + exit
    net_edge_bps: float          # edge_bps − fee_bps
    v_usd: float                 # V before rounding to the grids
    notional_usd: Decimal        # N·S, the contracts' USD value
    capped: bool                 # a size cap stopped the frontier: log "[CAP]"
    spot_slippage_bps: float     # taker walk of the rounded sizes vs the best price (adverse > 0)
    perp_slippage_bps: float
    hedge_error_btc: float       # held − N·S/perp_vwap (held: Q less a base-coin BUY fee): > 0 long
    base_asset: str = "BTC"      # the coin of spot_qty and hedge_error_btc, for the log line

    def describe(self) -> str:
        """One log line: sizes, prices, gross and net edge, [CAP]."""
        prices = "" if self.spot_price is None else \
            f" limits {format(self.spot_price, 'f')}/{format(self.perp_price, 'f')}"
        return (f"{self.direction} {self.sizing}/{self.execution_mode}: spot {self.spot_side} "
                f"{format(self.spot_qty, 'f')} @ {self.spot_vwap:.2f}, perp {self.perp_side} "
                f"{format(self.contracts, 'f')} @ {self.perp_vwap:.2f}{prices} | V ${self.v_usd:,.0f} "
                f"edge {self.edge_bps:+.2f} bps, net {self.net_edge_bps:+.2f} after fees "
                f"{self.fee_bps:.2f} | hedge error {self.hedge_error_btc:+.8f} {self.base_asset}"
                + (" [CAP]" if self.capped else ""))


@dataclass(frozen=True, slots=True)
class Rejection:
    direction: str
    reason: str

    def __str__(self) -> str:
        return f"{self.direction}: {self.reason}"


# --- fees -------------------------------------------------------------------------------------

def round_trip_fee_bps(spot_rate: Decimal | float, coinm_rate: Decimal | float) -> float:
    """Both legs opened and closed at these rates, in bps of the notional (summed exactly, so that
    6 bps of fees compare equal to ENTER_BPS 6)."""
    return float(2 * (_rate(spot_rate) + _rate(coinm_rate)) * 10000)


def _rate(x: Decimal | float) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(repr(float(x)))


def enter_below_fees_warning(enter_bps: Decimal | float, spot_taker: Decimal | float,
                             coinm_taker: Decimal | float) -> str | None:
    """The start-up warning when a trade at the entry threshold cannot pay its own taker fees."""
    fees = round_trip_fee_bps(spot_taker, coinm_taker)
    if _rate(enter_bps) >= 2 * (_rate(spot_taker) + _rate(coinm_taker)) * 10000:
        return None
    return (f"ENTER_BPS {enter_bps} is below the round-trip taker fees {fees:.2f} bps "
            f"(spot {float(spot_taker) * 1e4:.2f} + COIN-M {float(coinm_taker) * 1e4:.2f} bps per side, "
            "opened and closed): a trade entered at the threshold loses money")


# --- grids ------------------------------------------------------------------------------------

def dec(x: float) -> Decimal:
    """A float price as the shortest decimal that reads back as it (book prices came from strings)."""
    return Decimal(repr(x))


def fmt(d: Decimal) -> str:
    return format(d.normalize(), "f")


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step


def price_on_tick(price: float, tick: Decimal, side: str) -> Decimal:
    """Round to the tick in the passive direction: a BUY never pays more, a SELL never asks less."""
    rounding = ROUND_FLOOR if side == BUY else ROUND_CEILING
    return (dec(price) / tick).to_integral_value(rounding=rounding) * tick


def qty_problem(label: str, rules: SymbolRules, qty: Decimal, market_order: bool) -> str | None:
    """LOT_SIZE (and MARKET_LOT_SIZE for a MARKET order) of one leg; None when valid."""
    if qty < rules.min_qty or qty <= 0:
        return f"{label} {fmt(qty)} < minQty {fmt(rules.min_qty)}"
    if rules.max_qty > 0 and qty > rules.max_qty:
        return f"{label} {fmt(qty)} > maxQty {fmt(rules.max_qty)}"
    if market_order and rules.market_max_qty > 0 and qty > rules.market_max_qty:
        return f"{label} {fmt(qty)} > MARKET_LOT_SIZE maxQty {fmt(rules.market_max_qty)}"
    if rules.step_size > 0 and qty % rules.step_size != 0:
        return f"{label} {fmt(qty)} not on stepSize {fmt(rules.step_size)}"
    return None


def price_problem(label: str, rules: SymbolRules, price: Decimal) -> str | None:
    """PRICE_FILTER of a limit price; a zero bound disables that check, as on Binance."""
    if rules.min_price > 0 and price < rules.min_price:
        return f"{label} {fmt(price)} < minPrice {fmt(rules.min_price)}"
    if rules.max_price > 0 and price > rules.max_price:
        return f"{label} {fmt(price)} > maxPrice {fmt(rules.max_price)}"
    if rules.tick_size > 0 and price % rules.tick_size != 0:
        return f"{label} {fmt(price)} not on tickSize {fmt(rules.tick_size)}"
    return None


def edge_problem(edge_bps: float, enter_bps: float, when: str) -> str | None:
    if edge_bps < enter_bps - _EDGE_TOLERANCE_BPS:
        return f"edge {when} {edge_bps:+.2f} bps < ENTER_BPS {enter_bps:g}"
    return None


# --- book walks (floats: signals, not money) ----------------------------------------------------

class _Ladder:
    """Best-first levels read lazily from an iterable and kept, so a book can be walked again."""
    __slots__ = ("_source", "_seen")

    def __init__(self, levels: Iterable[Level]) -> None:
        self._source: Iterator[Level] | None = iter(levels)
        self._seen: list[Level] = []

    def __iter__(self) -> Iterator[Level]:
        i = 0
        while True:
            if i < len(self._seen):
                yield self._seen[i]
            elif self._source is None:
                return
            else:
                level = next(self._source, None)
                if level is None:
                    self._source = None
                    return
                if level[1] > 0.0:
                    self._seen.append(level)
                continue
            i += 1

    def best(self) -> float | None:
        for price, _ in self:
            return price
        return None


def _walk_usd(ladder: _Ladder, usd: float, contract_size: float | None) -> tuple[float, float]:
    """(VWAP, USD filled) for `usd` of notional; harmonic VWAP on the inverse leg."""
    left, coin = usd, 0.0
    for price, qty in ladder:
        if left <= 0.0:
            break
        held = qty * (price if contract_size is None else contract_size)
        take = min(held, left)
        coin += take / price
        left -= take
    filled = usd - max(left, 0.0)
    return (filled / coin if coin > 0.0 else math.nan), filled


def _walk_qty(ladder: _Ladder, qty: float, contract_size: float | None) -> tuple[float, float]:
    """(VWAP, quantity filled) for `qty` in book units (BTC on spot, contracts on COIN-M)."""
    left, usd, coin = qty, 0.0, 0.0
    for price, level_qty in ladder:
        if left <= 0.0:
            break
        take = min(level_qty, left)
        if contract_size is None:
            usd, coin = usd + take * price, coin + take
        else:
            usd, coin = usd + take * contract_size, coin + take * contract_size / price
        left -= take
    return (usd / coin if coin > 0.0 else math.nan), qty - max(left, 0.0)


def _hedge_qty(perp: _Ladder, contracts: Decimal, perp_rules: SymbolRules,
               spot_step: Decimal, kept: Decimal = Decimal(1)) -> Decimal | None:
    """The spot quantity that N contracts hedge, N·S / perp VWAP for those N (harmonic), rounded
    DOWN to the spot step; None when the perp book cannot fill N. `kept` < 1: the part of a BUY
    left after a commission in the coin bought; the quantity is grossed up by it and rounded UP,
    so that what is held is the hedge (over by less than one step)."""
    px, got = _walk_qty(perp, float(contracts), float(perp_rules.contract_size))
    if got < float(contracts) * (1.0 - _FILL_TOLERANCE):
        return None
    hedge = contracts * perp_rules.contract_size / dec(px)
    if kept == 1:
        return floor_to_step(hedge, spot_step)
    return (hedge / kept / spot_step).to_integral_value(rounding=ROUND_CEILING) * spot_step


def _slippage_bps(vwap: float, best: float, side: str) -> float:
    """How much worse the VWAP is than the best price, in bps (adverse is positive; a walk is never
    better than its best level, so float noise below zero is cut off)."""
    bps = (vwap / best - 1.0) * 1e4 if side == BUY else (1.0 - vwap / best) * 1e4
    return max(bps, 0.0)


def _edge_bps(direction: str, spot_px: float, perp_px: float) -> float:
    if direction == BUY_SPOT:
        return (perp_px / spot_px - 1.0) * 1e4
    return (spot_px / perp_px - 1.0) * 1e4


# --- the decision -------------------------------------------------------------------------------

def plan_entry(direction: str, spot_levels: Iterable[Level], perp_levels: Iterable[Level],
               spot_rules: SymbolRules, perp_rules: SymbolRules, params: EntryParams,
               fees: FeeRates, *, spot_touch: float | None = None,
               perp_touch: float | None = None,
               buy_fee_in_base: bool = False) -> EntryPlan | Rejection:
    """Size and validate one entry. `spot_levels`/`perp_levels` are the sides a taker would hit
    (BUY_SPOT: spot asks + perp bids; SELL_SPOT: spot bids + perp asks). In maker mode
    `spot_touch`/`perp_touch` are the best prices of the sides the limit orders join (BUY_SPOT: spot
    best bid + perp best ask; SELL_SPOT: spot best ask + perp best bid). `buy_fee_in_base`: a spot
    BUY pays its commission in the coin bought (step 2)."""
    if direction not in (BUY_SPOT, SELL_SPOT):
        raise ValueError(f"unknown direction {direction!r}")
    if perp_rules.contract_size is None or perp_rules.contract_size <= 0:
        raise ValueError(f"{perp_rules.symbol} has no contract size")

    def reject(reason: str) -> Rejection:
        return Rejection(direction, reason)

    spot_side, perp_side = (BUY, SELL) if direction == BUY_SPOT else (SELL, BUY)
    taker = params.execution_mode != MAKER
    for rules in (spot_rules, perp_rules):
        if not rules.trading:
            return reject(f"{rules.symbol} is not trading (status {rules.status})")
    size = float(perp_rules.contract_size)
    enter = float(params.enter_bps)
    spot, perp = _Ladder(spot_levels), _Ladder(perp_levels)
    spot_best, perp_best = spot.best(), perp.best()
    if spot_best is None:
        return reject(f"spot book empty ({'asks' if spot_side == BUY else 'bids'})")
    if perp_best is None:
        return reject(f"perp book empty ({'asks' if perp_side == BUY else 'bids'})")

    # 1. V
    if params.auto_from_frontier:
        sizing = FRONTIER
        f = compute_frontier(direction, spot, perp, size, enter, float(params.max_q_base_frontier),
                             float(params.max_v_usd_frontier))
        if not f.tradable:
            return reject(f"no frontier: top edge {f.top_edge_bps or 0.0:+.2f} bps < ENTER_BPS {enter:g}")
        if f.size_usd < float(params.min_v_usd):
            return reject(f"frontier size ${f.size_usd:,.0f} < MIN_V_USD {fmt(params.min_v_usd)}")
        v, capped = f.size_usd, f.capped
    else:
        sizing, v, capped = FIXED, float(params.v_usd), False
        spot_px_v, spot_got = _walk_usd(spot, v, None)
        perp_px_v, perp_got = _walk_usd(perp, v, size)
        for name, got in (("spot", spot_got), ("perp", perp_got)):
            if got < v * (1.0 - _FILL_TOLERANCE):
                return reject(f"{name} book too thin for V_USD {fmt(params.v_usd)} (${got:,.0f} available)")
        slip = _slippage_bps(spot_px_v, spot_best, spot_side)
        if slip > float(params.max_slippage_bps_spot):
            return reject(f"spot slippage {slip:.2f} bps > MAX_SLIPPAGE_BPS_SPOT "
                          f"{fmt(params.max_slippage_bps_spot)}")
        slip = _slippage_bps(perp_px_v, perp_best, perp_side)
        if slip > float(params.max_slippage_bps_coinm):
            return reject(f"perp slippage {slip:.2f} bps > MAX_SLIPPAGE_BPS_COINM "
                          f"{fmt(params.max_slippage_bps_coinm)}")
        problem = edge_problem(_edge_bps(direction, spot_px_v, perp_px_v), enter, f"at ${v:,.0f}")
        if problem:
            return reject(problem)

    # 2. contracts first, then spot rounded down
    s_dec = perp_rules.contract_size
    # a chase's spot leg is a maker order too: its commission is the maker rate
    spot_rate = fees.spot_maker if params.execution_mode in (MAKER, CHASE) else fees.spot_taker
    grossed = buy_fee_in_base and spot_side == BUY and 0 <= spot_rate < 1
    kept = 1 - spot_rate if grossed else Decimal(1)
    # A grossed-up spot leg buys N·S/kept of value: N from V·kept keeps both legs inside the walked V,
    # where the frontier's edge holds.
    contracts = floor_to_step(dec(v * float(kept) / size + _CONTRACT_TOLERANCE), perp_rules.step_size)
    if contracts < 1:
        return reject(f"V ${v:,.2f} is less than one contract ({fmt(s_dec)} USD)")
    problem = qty_problem("contracts", perp_rules, contracts, taker)
    if problem:
        return reject(problem)
    # Delta-neutral: the spot leg holds the BTC the contracts hedge, N·S / perp price (the design
    # writes spot_px, which equalises USD instead and leaves Q × edge BTC unhedged: ~50 steps at
    # 0.5 BTC and 10 bps). With the perp price the residual stays below one spot step.
    spot_qty = _hedge_qty(perp, contracts, perp_rules, spot_rules.step_size, kept)
    if spot_qty is None:
        return reject(f"perp book too thin for {fmt(contracts)} contracts")
    # MAX_Q_BASE_FRONTIER caps the spot leg, but the frontier capped V/spot_px: selling spot above
    # the perp price, N·S/perp_px is larger (0.5005 BTC at the 0.5 cap and 10 bps). Give back
    # contracts until the hedge fits under the cap (one contract is usually enough).
    cap = params.max_q_base_frontier
    while sizing == FRONTIER and cap > 0 and spot_qty > cap:
        contracts -= perp_rules.step_size
        if contracts < max(perp_rules.min_qty, 1):
            return reject(f"the hedge of one contract is more than {params.base_cap_name} {fmt(cap)}")
        spot_qty = _hedge_qty(perp, contracts, perp_rules, spot_rules.step_size, kept)
        if spot_qty is None:   # cannot happen: fewer contracts than a walk that filled
            return reject(f"perp book too thin for {fmt(contracts)} contracts")
    notional = contracts * s_dec
    problem = qty_problem("spot qty", spot_rules, spot_qty, taker)
    if problem:
        return reject(problem)

    # 3. re-price the rounded sizes
    spot_vwap, spot_got = _walk_qty(spot, float(spot_qty), None)
    perp_vwap, perp_got = _walk_qty(perp, float(contracts), size)
    if spot_got < float(spot_qty) * (1.0 - _FILL_TOLERANCE) or perp_got < float(contracts) * (1.0 - _FILL_TOLERANCE):
        return reject("book too thin for the rounded sizes")
    problem = edge_problem(_edge_bps(direction, spot_vwap, perp_vwap), enter, "after rounding")
    if problem:
        return reject(problem)
    spot_slip = _slippage_bps(spot_vwap, spot_best, spot_side)
    perp_slip = _slippage_bps(perp_vwap, perp_best, perp_side)

    # 4. maker prices at the touch, then the remaining filters of both legs
    spot_price = perp_price = None
    if not taker:
        if spot_touch is None or not spot_touch > 0.0:
            return reject(f"maker: no spot {'bid' if spot_side == BUY else 'ask'} to join")
        if perp_touch is None or not perp_touch > 0.0:
            return reject(f"maker: no perp {'bid' if perp_side == BUY else 'ask'} to join")
        spot_price = price_on_tick(spot_touch, spot_rules.tick_size, spot_side)
        perp_price = price_on_tick(perp_touch, perp_rules.tick_size, perp_side)
        problem = (price_problem("spot price", spot_rules, spot_price)
                   or price_problem("perp price", perp_rules, perp_price))
        if problem:
            return reject(problem)
        spot_vwap, perp_vwap = float(spot_price), float(perp_price)
    spot_notional = spot_qty * (spot_price if spot_price is not None else dec(spot_vwap))
    if spot_notional < spot_rules.min_notional:
        return reject(f"spot notional {spot_notional:.2f} < minNotional {fmt(spot_rules.min_notional)}")

    edge = _edge_bps(direction, spot_vwap, perp_vwap)
    fee_bps = fees.round_trip_bps(params.execution_mode)
    return EntryPlan(
        direction=direction, sizing=sizing,
        execution_mode=CHASE if params.execution_mode == CHASE else MAKER if not taker else TAKER,
        spot_side=spot_side, perp_side=perp_side, spot_qty=spot_qty, contracts=contracts,
        spot_price=spot_price, perp_price=perp_price, spot_vwap=spot_vwap, perp_vwap=perp_vwap,
        edge_bps=edge, fee_bps=fee_bps, net_edge_bps=edge - fee_bps, v_usd=v,
        notional_usd=notional, capped=capped, spot_slippage_bps=spot_slip,
        perp_slippage_bps=perp_slip,
        hedge_error_btc=float(spot_qty * kept) - float(notional) / perp_vwap,
        base_asset=spot_rules.base_asset)
