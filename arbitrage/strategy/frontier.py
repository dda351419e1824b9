"""The depth-aware VWAP frontier (design §5): how much can be traded at an average edge >= ENTER_BPS.

Pure: functions of book levels and numbers, no I/O, no clock.

Both legs are walked in USD notional ("BTC" here stands for the pair's base coin). A spot level of
q BTC at p holds q·p USD; a COIN-M level of c contracts holds c·S USD and hedges c·S/p BTC
(inverse contract). At a cumulative notional V the legs
have effective prices spot_px = V / Σbtc_spot and perp_px = V / Σbtc_perp (harmonic for the
inverse leg). For buy-spot/sell-perp the edge is perp_px/spot_px − 1 (in bps); sell-spot/buy-perp
mirrors it. Deeper levels are always worse, so the average edge only falls as V grows: the walk stops
at the first V where it drops below ENTER_BPS, and inside that last segment the crossing point is
solved exactly (both cumulative BTC amounts are linear in V there). The walk therefore touches only
the levels the frontier needs, never the whole book.
"""
from __future__ import annotations

from typing import Iterable, Iterator, NamedTuple

from arbitrage.models import Level

BUY_SPOT = "buy_spot"    # perp rich: buy spot (walk spot asks), sell perp (walk perp bids)
SELL_SPOT = "sell_spot"  # perp cheap: sell spot (walk spot bids), buy perp (walk perp asks)


class Frontier(NamedTuple):
    """Immutable; a NamedTuple because one is built per direction after every book event and a
    frozen dataclass costs several times as much to construct."""
    direction: str
    top_edge_bps: float | None   # edge of the first infinitesimal unit (best prices); None: empty book
    size_usd: float              # largest V with average edge >= enter_bps (after the cap); 0: none
    spot_btc: float              # BTC the spot leg trades at size_usd
    perp_btc: float              # BTC-equivalent of the contracts at size_usd (Σ c·S/p)
    spot_px: float               # effective (VWAP) prices at size_usd; 0 when size_usd is 0
    perp_px: float
    edge_bps: float              # average edge at size_usd
    capped: bool                 # a size cap (MAX_V_USD_FRONTIER / MAX_Q_BASE_FRONTIER) stopped the walk
    levels_touched: int

    @property
    def tradable(self) -> bool:
        return self.size_usd > 0.0


def _edge_bps(direction: str, spot_btc: float, perp_btc: float) -> float:
    # perp_px/spot_px = (V/perp_btc)/(V/spot_btc) = spot_btc/perp_btc
    if direction == BUY_SPOT:
        return (spot_btc / perp_btc - 1.0) * 1e4
    return (perp_btc / spot_btc - 1.0) * 1e4


def top_edge_bps(direction: str, spot_best: float, perp_best: float) -> float:
    """Edge of the first infinitesimal unit: `spot_best` is the spot price you hit (ask when buying
    spot), `perp_best` the perp price you hit."""
    if direction == BUY_SPOT:
        return (perp_best / spot_best - 1.0) * 1e4
    return (spot_best / perp_best - 1.0) * 1e4


def below_threshold(direction: str, spot_best: float, perp_best: float,
                    enter_bps: float) -> Frontier | None:
    """The answer without a walk when even the best prices miss ENTER_BPS (the usual case):
    deeper levels are only worse, so nothing is tradable. None: the walk is needed."""
    top = top_edge_bps(direction, spot_best, perp_best)
    if top < enter_bps:
        return Frontier(direction, top, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, False, 2)
    return None


def _usd_levels(levels: Iterable[Level], contract_size: float | None) -> Iterator[tuple[float, float]]:
    """(price, USD held) per level, skipping empty levels."""
    if contract_size is None:
        for price, qty in levels:
            if qty > 0.0:
                yield price, qty * price
    else:
        for price, qty in levels:
            if qty > 0.0:
                yield price, qty * contract_size


def compute_frontier(direction: str, spot_levels: Iterable[Level], perp_levels: Iterable[Level],
                     contract_size: float, enter_bps: float, max_spot_btc: float,
                     max_usd: float = 0.0) -> Frontier:
    """Walk both books from their best level. `spot_levels`/`perp_levels` are best-first iterables
    (lazy iterators are best: only the levels used are read). Two caps, whichever binds first:
    `max_spot_btc` on the spot leg in the base coin, `max_usd` on the notional (the cap that means
    the same on every pair); <= 0 means no cap."""
    spot_it = _usd_levels(spot_levels, None)
    perp_it = _usd_levels(perp_levels, contract_size)
    sp = next(spot_it, None)
    pp = next(perp_it, None)
    if sp is None or pp is None:
        return Frontier(direction, None, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, False, 0)
    quick = below_threshold(direction, sp[0], pp[0], enter_bps)
    if quick is not None:
        return quick
    sign = 1.0 if direction == BUY_SPOT else -1.0
    top_edge = top_edge_bps(direction, sp[0], pp[0])
    k = 1.0 + enter_bps / 1e4        # required ratio of the legs' BTC amounts
    s_price, s_left = sp
    p_price, p_left = pp
    v = bs = bp = 0.0                # cumulative USD, spot BTC, perp BTC at the last breakpoint
    touched = 2
    capped = False
    while True:
        step = min(s_left, p_left)
        # Inside this segment bs(t) = bs + t/s_price and bp(t) = bp + t/p_price for t in [0, step].
        # Buy-spot needs bs(t) >= k·bp(t); sell-spot needs bp(t) >= k·bs(t). Both are linear in t.
        if sign > 0:
            slope, base = 1.0 / s_price - k / p_price, bs - k * bp
        else:
            slope, base = 1.0 / p_price - k / s_price, bp - k * bs
        limit = step
        if base + slope * step < 0.0:            # the average edge crosses ENTER inside the segment
            limit = max(0.0, -base / slope) if slope < 0.0 else 0.0
        if max_spot_btc > 0.0 and bs + limit / s_price > max_spot_btc:
            limit = max(0.0, (max_spot_btc - bs) * s_price)
            capped = True
        if max_usd > 0.0 and v + limit > max_usd:
            limit = max(0.0, max_usd - v)
            capped = True
        v += limit
        bs += limit / s_price
        bp += limit / p_price
        if limit < step or capped:
            break
        s_left -= step
        p_left -= step
        if s_left <= 0.0:
            nxt = next(spot_it, None)
            if nxt is None:
                break
            s_price, s_left = nxt
            touched += 1
        if p_left <= 0.0:
            nxt = next(perp_it, None)
            if nxt is None:
                break
            p_price, p_left = nxt
            touched += 1
    if v <= 0.0 or bs <= 0.0 or bp <= 0.0:
        return Frontier(direction, top_edge, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, capped, touched)
    return Frontier(direction, top_edge, v, bs, bp, v / bs, v / bp, _edge_bps(direction, bs, bp),
                    capped, touched)
