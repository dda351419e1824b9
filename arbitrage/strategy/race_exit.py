"""Race exit (issue 15, seed 000): after the spot entry fills, two orders race. Pure.

- the **hedge**: a COIN-M order resting at the touch on its side (post-only), for the contracts
  that hedge the spot held: a SELL at the best ask against a spot buy, a BUY at the best bid
  against a spot sell;
- the **way back**: a spot order that undoes the entry without a loss, at max(best ask, entry
  price) selling back what was bought, min(best bid, entry price) buying back what was sold.

Whichever fills first wins and the other is cancelled. Both can fill before a cancel lands
(over-hedge): contracts beyond what the spot still held needs are closed at market at once,
reduce-only. Partial fills shrink the other side instead of over-hedging: the way back is
lowered to the spot not yet hedged (spot keep-priority amend, it keeps its place); the hedge
is left as it is (a COIN-M modify would lose its place) and any excess is closed after.
Quantities: spot in the base coin, contracts whole; `price` converts between them.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from arbitrage.strategy.frontier import BUY_SPOT, SELL_SPOT

ZERO = Decimal(0)
CANCEL_HEDGE, CANCEL_WAY_BACK = "cancel_hedge", "cancel_way_back"
CLOSE_EXCESS, LOWER_WAY_BACK, DONE = "close_excess_perp", "lower_way_back", "done"


@dataclass(frozen=True, slots=True)
class RacePrices:
    hedge_price: Decimal        # the COIN-M order's price (its touch)
    way_back_price: Decimal     # the spot order's price (never worse than the entry)


@dataclass(frozen=True, slots=True)
class RaceState:
    direction: str              # BUY_SPOT (spot bought, perp to sell) or SELL_SPOT
    spot_entry_base: Decimal    # spot held from the entry (net of a base-coin commission)
    way_back_filled: Decimal    # spot undone by the way-back order so far
    way_back_open: Decimal      # what the way-back order still has open (0: none)
    hedge_filled: int           # contracts the hedge order filled
    hedge_open: int             # contracts it still has open (0: none)


@dataclass(frozen=True, slots=True)
class RaceIntent:
    action: str                 # CANCEL_HEDGE, CANCEL_WAY_BACK, CLOSE_EXCESS, LOWER_WAY_BACK, DONE
    qty: Decimal = ZERO         # CLOSE_EXCESS: contracts; LOWER_WAY_BACK: the order's new open qty
    reason: str = ""


def race_prices(direction: str, entry_price: Decimal, spot_bid: Decimal, spot_ask: Decimal,
                perp_bid: Decimal, perp_ask: Decimal) -> RacePrices:
    if direction == BUY_SPOT:
        return RacePrices(perp_ask, max(spot_ask, entry_price))
    if direction == SELL_SPOT:
        return RacePrices(perp_bid, min(spot_bid, entry_price))
    raise ValueError(f"unknown direction {direction!r}")


def contracts_for(base: Decimal, price: Decimal, contract_size: Decimal) -> int:
    """Whole contracts that hedge `base` at `price` (down: a part contract stays unhedged)."""
    return int((base * price / contract_size).to_integral_value(rounding=ROUND_DOWN))


def decide_race(r: RaceState, price: Decimal, contract_size: Decimal,
                spot_step: Decimal) -> list[RaceIntent]:
    """What to do after a fill (or none) of either order. An empty list: keep racing."""
    if r.direction not in (BUY_SPOT, SELL_SPOT):
        raise ValueError(f"unknown direction {r.direction!r}")
    held = r.spot_entry_base - r.way_back_filled
    needed = contracts_for(max(held, ZERO), price, contract_size)
    out: list[RaceIntent] = []
    if r.hedge_filled > needed:
        if r.hedge_open:
            out.append(RaceIntent(CANCEL_HEDGE, reason="over-hedged"))
        if r.way_back_open:
            out.append(RaceIntent(CANCEL_WAY_BACK, reason="over-hedged"))
        out.append(RaceIntent(CLOSE_EXCESS, Decimal(r.hedge_filled - needed),
                              reason=f"{r.hedge_filled} contracts against {needed} needed for "
                                     f"{held} held: the excess closed at market, reduce-only"))
        return out
    if held <= 0 or (r.hedge_filled and r.hedge_filled == needed):
        # one side won: the way back undid the spot, or the hedge covers what is held (what
        # is open on either side could only over-hedge now)
        if r.hedge_open:
            out.append(RaceIntent(CANCEL_HEDGE, reason="nothing more to hedge"))
        if r.way_back_open:
            out.append(RaceIntent(CANCEL_WAY_BACK, reason="what is held is hedged"))
        return out + [RaceIntent(DONE, reason="hedged" if held > 0 else "back where it started")]
    if r.hedge_filled and r.way_back_open:
        # the spot not yet hedged is all the way back may still undo
        unhedged = held - Decimal(r.hedge_filled) * contract_size / price
        room = (max(unhedged, ZERO) / spot_step).to_integral_value(rounding=ROUND_UP) * spot_step
        if room < r.way_back_open:
            if room <= 0:
                out.append(RaceIntent(CANCEL_WAY_BACK, reason="all that is held is hedged"))
            else:
                out.append(RaceIntent(LOWER_WAY_BACK, room,
                                      reason=f"{r.hedge_filled} contracts filled: only {room} "
                                             f"is left unhedged"))
    return out
