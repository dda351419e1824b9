"""Funding carry (STRATEGY=carry): hold spot against the perpetual across settlements. Pure.

Positive carry (funding positive: longs pay shorts) buys spot and sells the perpetual; reverse carry
(funding negative) sells spot the account already holds and buys the perpetual — never borrowed.

Every number is in bps of the hedged notional (the coin at work), per the planned hold:

    rate estimate  r̂ = mean of the last CARRY_LOOKBACK settled rates and the predicted rate (the
                   mark stream's `r`, what the next settlement will pay if nothing changes)
    settlements    n = CARRY_HOLD_HOURS / the settlement interval (from the history's spacing)
    expected       E = side × r̂ × n × 10 000      (side +1 for positive carry, −1 for reverse)
    basis          B = the entry's edge at the planned VWAPs (perp over spot for positive carry),
                   counted as the carry's if the basis closes by the exit
    fees           F = round trip of both legs at the account's rates
    net            N = E + B − F,  net APR = N / 10 000 × (365 × 24 / CARRY_HOLD_HOURS) × 100 %
    funding APR    = side × r̂ × settlements per year × 100 % (what the funding alone pays)

An entry needs the settlement history (the schedule and the recent rates), N > 0, net APR ≥ CARRY_MIN_NET_APR and N ≥ CARRY_MIN_NET_BPS, and never within
FUNDING_BUFFER_SEC before a settlement whose predicted rate would be paid against the side.

Exits, first that holds:
    risk          a position gate fired (liquidation distance, margin ratio): `risk_reason`
    max hold      held ≥ CARRY_MAX_HOLD_HOURS
    funding       the rate estimate is against the side AND the last settlement was paid against
                  it: a rule over settlements and the prediction, never one tick of the mark
    basis         closing now earns more basis than the carry still expected until the planned
                  hold ends (close edge > side × r̂ × settlements left × 10 000)
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from arbitrage.carry.ranking import binance_apr, settlements_per_year, window_sum
from arbitrage.models import FundingSettlement
from arbitrage.strategy.frontier import BUY_SPOT, SELL_SPOT

BPS = 10_000.0
HOUR_MS = 3_600_000
YEAR_HOURS = 365 * 24

ENTER, SKIP, EXIT = "enter", "skip", "exit"
RISK, MAX_HOLD, FUNDING_TURNED, BASIS = "risk", "max hold", "funding turned", "basis"


@dataclass(frozen=True, slots=True)
class FundingState:
    """What the engine knows about funding: the mark stream's predicted rate and next settlement
    time, and the last settlements (oldest first) fetched off the engine thread."""
    predicted_rate: float | None
    next_funding_ms: int | None
    settled: tuple[FundingSettlement, ...] = ()

    def interval_hours(self) -> float:
        """From the history's spacing (the ranking's rule: Binance's 8 h with fewer than two)."""
        return YEAR_HOURS / float(settlements_per_year(self.settled))

    def binance_apr_pct(self, now_ms: int) -> float:
        """Binance's Funding Rate Arbitrage figure of the last 3 days, percent (ranking.py)."""
        return float(binance_apr(window_sum(self.settled, now_ms)[0])) * 100


@dataclass(frozen=True, slots=True)
class CarryParams:
    invest_usd: Decimal
    min_net_apr: float            # percent
    min_net_bps: float
    hold_hours: float             # the planned hold the expected funding is counted over
    max_hold_hours: float
    lookback: int                 # settled rates in the estimate
    funding_buffer_sec: float

    @classmethod
    def from_settings(cls, s: Any) -> "CarryParams":
        return cls(s.carry_invest_usd, float(s.carry_min_net_apr), float(s.carry_min_net_bps),
                   float(s.carry_hold_hours), float(s.carry_max_hold_hours), int(s.carry_lookback),
                   float(s.funding_buffer_sec))


def side_of(direction: str) -> int:
    """+1: positive carry (short perp receives positive funding); −1: reverse carry."""
    if direction == BUY_SPOT:
        return 1
    if direction == SELL_SPOT:
        return -1
    raise ValueError(f"unknown direction {direction!r}")


def rate_estimate(funding: FundingState, lookback: int) -> float | None:
    """Mean of the last `lookback` settled rates and the predicted rate; None when nothing is known."""
    rates = [float(s.rate) for s in funding.settled[-lookback:]] if lookback > 0 else []
    if funding.predicted_rate is not None:
        rates.append(funding.predicted_rate)
    return sum(rates) / len(rates) if rates else None


@dataclass(frozen=True, slots=True)
class CarryNumbers:
    """One carry calculation, every figure the log line shows."""
    direction: str
    rate: float                   # the estimate r̂, fraction per settlement
    settlements: float            # n over the planned hold
    expected_bps: float           # E
    funding_apr: float            # percent
    fee_bps: float                # F
    basis_bps: float              # B
    net_bps: float                # N
    net_apr: float                # percent

    def describe(self) -> str:
        return (f"{self.direction} carry: rate {self.rate * 100:+.4f}%/settlement × {self.settlements:.1f} "
                f"→ expected funding {self.expected_bps:+.2f} bps (APR {self.funding_apr:+.1f}%), "
                f"basis {self.basis_bps:+.2f}, fees {self.fee_bps:.2f}, net {self.net_bps:+.2f} bps "
                f"(APR {self.net_apr:+.1f}%)")


def carry_numbers(direction: str, funding: FundingState, basis_bps: float, fee_bps: float,
                  p: CarryParams) -> CarryNumbers | None:
    rate = rate_estimate(funding, p.lookback)
    if rate is None:
        return None
    side = side_of(direction)
    interval_h = funding.interval_hours()
    n = p.hold_hours / interval_h
    expected = side * rate * n * BPS
    net = expected + basis_bps - fee_bps
    return CarryNumbers(direction, rate, n, expected, side * rate * YEAR_HOURS / interval_h * 100,
                        fee_bps, basis_bps, net, net / BPS * YEAR_HOURS / p.hold_hours * 100)


@dataclass(frozen=True, slots=True)
class CarryDecision:
    action: str                   # ENTER / SKIP / EXIT / "" (hold)
    direction: str
    reason: str
    numbers: CarryNumbers | None = None

    def describe(self) -> str:
        text = f"{self.action} {self.direction}: {self.reason}"
        return text + (f" | {self.numbers.describe()}" if self.numbers else "")


def carry_direction(funding: FundingState, lookback: int) -> str | None:
    """The side the funding pays: positive carry when r̂ > 0, reverse when r̂ < 0."""
    rate = rate_estimate(funding, lookback)
    if rate is None or rate == 0:
        return None
    return BUY_SPOT if rate > 0 else SELL_SPOT


def entry_decision(direction: str, basis_bps: float, fee_bps: float, spot_qty: Decimal,
                   base_free: Decimal | None, funding: FundingState, p: CarryParams,
                   now_ms: int) -> CarryDecision:
    """Enter `direction` with a plan of this basis, fees and spot quantity, or skip and say why."""
    def skip(reason: str, numbers: CarryNumbers | None = None) -> CarryDecision:
        return CarryDecision(SKIP, direction, reason, numbers)

    nums = carry_numbers(direction, funding, basis_bps, fee_bps, p)
    if nums is None or not funding.settled:
        # without the history neither the schedule (settlements in the hold) nor the recent
        # rates are known: the predicted rate alone is one tick
        return skip("funding history not known yet", nums)
    if direction == SELL_SPOT and (base_free is None or base_free < spot_qty):
        have = "unknown" if base_free is None else format(base_free, "f")
        return skip(f"reverse carry sells spot held, never borrowed: free base {have} < "
                    f"{format(spot_qty, 'f')}", nums)
    nxt, predicted = funding.next_funding_ms, funding.predicted_rate
    if nxt and predicted is not None and 0 < nxt - now_ms < p.funding_buffer_sec * 1000 \
            and side_of(direction) * predicted < 0:
        return skip(f"settlement in {(nxt - now_ms) / 1000:.0f} s < FUNDING_BUFFER_SEC "
                    f"{p.funding_buffer_sec:g} would be paid against it (predicted "
                    f"{predicted * 100:+.4f}%)", nums)
    if nums.net_bps <= 0:
        return skip("net after fees is not positive", nums)
    if nums.net_apr < p.min_net_apr:
        return skip(f"net APR {nums.net_apr:+.1f}% < CARRY_MIN_NET_APR {p.min_net_apr:g}%", nums)
    if nums.net_bps < p.min_net_bps:
        return skip(f"net {nums.net_bps:+.2f} bps < CARRY_MIN_NET_BPS {p.min_net_bps:g}", nums)
    return CarryDecision(ENTER, direction, "funding covers fees", nums)


def exit_decision(direction: str, opened_ms: int, close_edge_bps: float | None,
                  funding: FundingState, p: CarryParams, now_ms: int,
                  risk_reason: str | None = None) -> CarryDecision | None:
    """The reason to close a carry held since `opened_ms`, or None to hold. `close_edge_bps`: what
    closing at the books' top gains against a zero basis (buy-spot position: selling spot at the
    bid against buying the perp at the ask); None when the books cannot say (market gates)."""
    def leave(reason: str, detail: str, numbers: CarryNumbers | None = None) -> CarryDecision:
        return CarryDecision(EXIT, direction, f"{reason}: {detail}", numbers)

    if risk_reason:
        return leave(RISK, risk_reason)
    held_h = (now_ms - opened_ms) / HOUR_MS
    if held_h >= p.max_hold_hours:
        return leave(MAX_HOLD, f"held {held_h:.3f} h ≥ CARRY_MAX_HOLD_HOURS {p.max_hold_hours:g}")
    side = side_of(direction)
    rate = rate_estimate(funding, p.lookback)
    last = funding.settled[-1] if funding.settled else None
    if rate is not None and side * rate < 0 and last is not None and side * float(last.rate) < 0:
        return leave(FUNDING_TURNED, f"rate estimate {rate * 100:+.4f}% and the last settlement "
                     f"{float(last.rate) * 100:+.4f}% are paid against the {direction} carry")
    if close_edge_bps is not None and rate is not None:
        left_h = max(p.hold_hours - held_h, 0.0)
        remaining = max(side * rate, 0.0) * left_h / funding.interval_hours() * BPS
        if close_edge_bps > remaining:
            return leave(BASIS, f"closing now earns {close_edge_bps:+.2f} bps of basis > "
                         f"{remaining:.2f} bps of funding still expected")
    return None
