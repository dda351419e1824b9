"""How much a spot/perp carry on each pair earns: funding sums, APRs, depth, net of fees. Pure.

Definitions (all rates are fractions per settlement, Decimal throughout):

- 3-day cumulative funding `cum_3d`: the sum of the rates of the settlements with
  now − 72 h < fundingTime ≤ now (`settlements_3d` of them; 9 on Binance's 8-hourly schedule).
- `apr` — Binance's Funding Rate Arbitrage Bot figure: |cum_3d| / 3 × 365 / 2. The /2 is Binance's:
  it assumes the capital is split between the two legs.
- `apr_compounded`: (1 + |cum_3d| / settlements_3d) ^ settlements_per_year − 1, the mean rate
  per settlement reinvested at every settlement; settlements_per_year = 365 × 24 h / the median
  spacing of the settlements seen (3 × 365 = 1095 on an 8-hour schedule). On the hedged notional,
  not halved: in a COIN-M carry the spot coins are the perpetual's margin, so the whole notional earns.
- `net_apr`: the simple yearly yield on the notional, |cum_3d| / 3 × 365, minus one round trip of
  fees spread over the hold: round_trip × 365 / hold_days, where round_trip = 2 × (spot taker +
  COIN-M taker) (enter and leave both legs as a taker). Sorting is by net_apr, best first.
- The carry's side follows the sign of cum_3d: positive funding (longs pay shorts) means buy spot
  and sell the perpetual; negative means sell spot and buy the perpetual.
- `basis_bps`: (perp mid − spot mid) / spot mid × 10 000, from the two order books' best levels.
- `depth_usd`: how much of the wanted notional fits within `within_bps` of each book's mid on the
  carry's side (positive: spot asks ≤ mid × (1 + x) and perp bids ≥ mid × (1 − x)), the smaller
  of the two legs, capped at the notional. Spot levels count price × qty USD, perp levels
  contracts × contract size.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from statistics import median
from typing import Sequence

from arbitrage.models import FundingSettlement

WINDOW_MS = 72 * 3600 * 1000
YEAR_MS = 365 * 24 * 3600 * 1000
DAYS_PER_YEAR = Decimal(365)
BPS = Decimal(10000)
# Binance's standard (VIP 0, no BNB discount) taker rates, when the account's cannot be read
STANDARD_SPOT_TAKER = Decimal("0.001")
STANDARD_COINM_TAKER = Decimal("0.0005")

Level = tuple[Decimal, Decimal]        # (price, quantity): base coin on spot, contracts on COIN-M


@dataclass(frozen=True, slots=True)
class Candidate:
    """What the exchange says about one pair, as read by the shell."""
    base: str
    spot_symbol: str
    perp_symbol: str
    contract_size: Decimal
    predicted_rate: Decimal | None        # premiumIndex lastFundingRate: the next settlement's rate
    history: Sequence[FundingSettlement]  # oldest first
    spot_bids: Sequence[Level]
    spot_asks: Sequence[Level]
    perp_bids: Sequence[Level]
    perp_asks: Sequence[Level]
    spot_taker: Decimal = STANDARD_SPOT_TAKER
    coinm_taker: Decimal = STANDARD_COINM_TAKER


@dataclass(frozen=True, slots=True)
class Ranked:
    base: str
    spot_symbol: str
    perp_symbol: str
    last_rate: Decimal | None             # the latest settled rate (history)
    predicted_rate: Decimal | None
    settlements_3d: int
    cum_3d: Decimal
    apr: Decimal                          # Binance's |cum_3d| / 3 × 365 / 2
    apr_compounded: Decimal
    side: str                             # "buy spot / sell perp" or "sell spot / buy perp"
    basis_bps: Decimal | None
    depth_usd: Decimal
    round_trip_fee: Decimal
    net_apr: Decimal


def window_sum(history: Sequence[FundingSettlement], now_ms: int) -> tuple[Decimal, int]:
    """(Σ rate, count) of the settlements in (now − 72 h, now]."""
    inside = [h.rate for h in history if now_ms - WINDOW_MS < h.time_ms <= now_ms]
    return sum(inside, Decimal(0)), len(inside)


def binance_apr(cum_3d: Decimal) -> Decimal:
    return abs(cum_3d) / 3 * DAYS_PER_YEAR / 2


def settlements_per_year(history: Sequence[FundingSettlement]) -> Decimal:
    """From the median spacing of the settlements; Binance's 8 h (1095) with fewer than two."""
    gaps = [b.time_ms - a.time_ms for a, b in zip(history, history[1:]) if b.time_ms > a.time_ms]
    spacing = Decimal(median(gaps)) if gaps else Decimal(8 * 3600 * 1000)
    return Decimal(YEAR_MS) / spacing


def compounded_apr(cum_3d: Decimal, count: int, per_year: Decimal) -> Decimal:
    if count == 0:
        return Decimal(0)
    mean = abs(cum_3d) / count
    return (1 + mean) ** per_year - 1


def mid(bids: Sequence[Level], asks: Sequence[Level]) -> Decimal | None:
    if not bids or not asks:
        return None
    return (bids[0][0] + asks[0][0]) / 2


def usd_within(levels: Sequence[Level], limit: Decimal, buying: bool, contract_size: Decimal | None) -> Decimal:
    """USD of the levels at or better than `limit` (asks ≤ limit when buying, bids ≥ limit)."""
    total = Decimal(0)
    for price, qty in levels:
        if (price > limit) if buying else (price < limit):
            break
        total += qty * contract_size if contract_size is not None else price * qty
    return total


def depth_usd(c: Candidate, positive: bool, notional: Decimal, within_bps: Decimal) -> Decimal:
    spot_mid, perp_mid = mid(c.spot_bids, c.spot_asks), mid(c.perp_bids, c.perp_asks)
    if spot_mid is None or perp_mid is None:
        return Decimal(0)
    x = within_bps / BPS
    if positive:      # buy spot asks, sell perp bids
        spot = usd_within(c.spot_asks, spot_mid * (1 + x), True, None)
        perp = usd_within(c.perp_bids, perp_mid * (1 - x), False, c.contract_size)
    else:             # sell spot bids, buy perp asks
        spot = usd_within(c.spot_bids, spot_mid * (1 - x), False, None)
        perp = usd_within(c.perp_asks, perp_mid * (1 + x), True, c.contract_size)
    return min(notional, spot, perp)


def rank_one(c: Candidate, now_ms: int, notional: Decimal, within_bps: Decimal,
             hold_days: Decimal) -> Ranked:
    cum, count = window_sum(c.history, now_ms)
    positive = cum >= 0
    spot_mid, perp_mid = mid(c.spot_bids, c.spot_asks), mid(c.perp_bids, c.perp_asks)
    basis = None if spot_mid is None or perp_mid is None else (perp_mid - spot_mid) / spot_mid * BPS
    round_trip = 2 * (c.spot_taker + c.coinm_taker)
    gross = abs(cum) / 3 * DAYS_PER_YEAR
    return Ranked(
        base=c.base, spot_symbol=c.spot_symbol, perp_symbol=c.perp_symbol,
        last_rate=c.history[-1].rate if c.history else None, predicted_rate=c.predicted_rate,
        settlements_3d=count, cum_3d=cum, apr=binance_apr(cum),
        apr_compounded=compounded_apr(cum, count, settlements_per_year(c.history)),
        side="buy spot / sell perp" if positive else "sell spot / buy perp", basis_bps=basis,
        depth_usd=depth_usd(c, positive, notional, within_bps), round_trip_fee=round_trip,
        net_apr=gross - round_trip * DAYS_PER_YEAR / hold_days)


def rank(candidates: Sequence[Candidate], now_ms: int, notional: Decimal, within_bps: Decimal,
         hold_days: Decimal) -> list[Ranked]:
    """Every candidate, best net APR first (ties by symbol, so the order is stable)."""
    rows = [rank_one(c, now_ms, notional, within_bps, hold_days) for c in candidates]
    return sorted(rows, key=lambda r: (-r.net_apr, r.perp_symbol))


def pairs(spot_symbols: dict[str, str], perpetuals: dict[str, str]) -> list[tuple[str, str, str]]:
    """(base, spot, perp) for every trading `<BASE>USD_PERP` with a trading `<BASE>USDT`.
    `spot_symbols` and `perpetuals`: symbol → status."""
    out = []
    for perp, status in sorted(perpetuals.items()):
        if status != "TRADING" or not perp.endswith("USD_PERP"):
            continue
        base = perp[: -len("USD_PERP")]
        spot = f"{base}USDT"
        if spot_symbols.get(spot) == "TRADING":
            out.append((base, spot, perp))
    return out
