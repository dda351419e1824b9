"""Risk gates (design §6). Pure: every input is passed in, time included; each gate has its own reason.

Two groups: the market-data gates (book readiness, staleness, skew, mark) and the account gates
(account data present and fresh, liquidation distance, margin ratio, balances for the direction,
COIN-M margin, cool-down) plus the funding-crossing notice. The filter pre-check of both legs is in
entry.py: a plan only exists when both legs passed it.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from arbitrage.models import CoinmAccount, MarginAsset, SpotAccount
from arbitrage.strategy.entry import EntryPlan
from arbitrage.strategy.frontier import BUY_SPOT


class FeedState(NamedTuple):
    """What the gates need to know about one book or the mark, read off the engine's state.
    (A NamedTuple: three are built after every book event.)"""
    name: str                 # "spot BTCUSDT", "perp BTCUSD_PERP", "mark BTCUSD_PERP"
    ready: bool
    why_not_ready: str        # e.g. "buffering", "awaiting_snapshot"; "" when ready
    last_recv_ns: int         # local receive time of the last applied update; 0 = never


@dataclass(frozen=True, slots=True)
class MarketLimits:
    book_stale_ms: float
    mark_stale_ms: float
    max_skew_ms: float


def _age_ms(feed: FeedState, now_ns: int) -> float:
    return (now_ns - feed.last_recv_ns) / 1e6


def market_blocks(spot: FeedState, perp: FeedState, mark: FeedState, now_ns: int,
                  limits: MarketLimits) -> list[str]:
    """Reasons that forbid trading now; an empty list means the market data is fit to trade on."""
    reasons: list[str] = []
    for feed in (spot, perp):
        if not feed.ready:
            reasons.append(f"{feed.name} book not ready ({feed.why_not_ready})")
        elif _age_ms(feed, now_ns) > limits.book_stale_ms:
            reasons.append(f"{feed.name} book stale ({_age_ms(feed, now_ns):.0f} ms "
                           f"> BOOK_STALE_MS {limits.book_stale_ms:.0f})")
    if not mark.ready:
        reasons.append(f"{mark.name} not received yet")
    elif _age_ms(mark, now_ns) > limits.mark_stale_ms:
        reasons.append(f"{mark.name} stale ({_age_ms(mark, now_ns):.0f} ms "
                       f"> MARK_STALE_MS {limits.mark_stale_ms:.0f})")
    if spot.ready and perp.ready:
        skew = abs(spot.last_recv_ns - perp.last_recv_ns) / 1e6
        if skew > limits.max_skew_ms:
            reasons.append(f"book skew {skew:.0f} ms > MAX_BOOK_SKEW_MS {limits.max_skew_ms:.0f}")
    return reasons


def market_clear(spot_ready: bool, spot_ns: int, perp_ready: bool, perp_ns: int,
                 mark_ns: int | None, now_ns: int, limits: MarketLimits) -> bool:
    """`market_blocks(...) == []` without building its inputs or its reasons: the engine asks
    after every book event, and the answer is almost always yes. Same comparisons, same units."""
    return (spot_ready and perp_ready and mark_ns is not None
            and (now_ns - spot_ns) / 1e6 <= limits.book_stale_ms
            and (now_ns - perp_ns) / 1e6 <= limits.book_stale_ms
            and (now_ns - mark_ns) / 1e6 <= limits.mark_stale_ms
            and abs(spot_ns - perp_ns) / 1e6 <= limits.max_skew_ms)


# --- account gates (design §6) ------------------------------------------------------------------
# Each gate is its own line below and its own reason string. Anything unknown blocks: a margin gate
# that cannot be evaluated is treated as failed (design §6: "any error while checking margin").

@dataclass(frozen=True, slots=True)
class AccountView:
    """What the account gates need, as the engine last fetched it (spot /api/v3/account, COIN-M
    /dapi/v1/account + positionRisk). None means "not known": every gate that needs it blocks."""
    spot_free_quote: Decimal | None      # free USDT
    spot_free_base: Decimal | None       # free BTC on spot
    margin: MarginAsset | None           # the COIN-M margin coin's row (walletBalance, maintMargin, ...)
    position_amt: Decimal                # signed contracts of the COIN-M symbol; 0 = none
    liquidation_price: Decimal           # 0 when there is no position
    mark_price: float | None             # COIN-M mark
    leverage: int                        # of the COIN-M symbol; 0 = unknown (treated as 1x)
    fetched_ms: int | None               # when the account data was fetched (local clock, ms)
    fetch_error: str | None              # the last fetch failed: why
    last_exit_ms: int | None             # when the last trade was closed; None = never
    next_funding_ms: int | None          # COIN-M nextFundingTime; None/0 = unknown or delivery
    spot_taker_rate: Decimal = Decimal("0.001")   # spot commissionRates.taker

    @classmethod
    def from_accounts(cls, spot: SpotAccount | None, coinm: CoinmAccount | None, *, base_asset: str,
                      quote_asset: str, margin_asset: str, coinm_symbol: str,
                      mark_price: float | None, fetched_ms: int | None, fetch_error: str | None,
                      last_exit_ms: int | None, next_funding_ms: int | None) -> "AccountView":
        position = coinm.positions.get(coinm_symbol) if coinm is not None else None
        return cls(
            spot_free_quote=spot.free(quote_asset) if spot is not None else None,
            spot_free_base=spot.free(base_asset) if spot is not None else None,
            margin=coinm.assets.get(margin_asset) if coinm is not None else None,
            position_amt=position.amount if position else Decimal(0),
            liquidation_price=position.liquidation_price if position else Decimal(0),
            mark_price=mark_price, leverage=position.leverage if position else 0,
            fetched_ms=fetched_ms, fetch_error=fetch_error, last_exit_ms=last_exit_ms,
            next_funding_ms=next_funding_ms,
            spot_taker_rate=spot.taker_rate if spot is not None else Decimal("0.001"))


@dataclass(frozen=True, slots=True)
class AccountLimits:
    liq_dist_min_pct: Decimal
    margin_ratio_max: Decimal
    reopen_cooldown_sec: float
    max_hold_sec: float
    funding_buffer_sec: float
    account_stale_ms: float                       # older account data blocks entry
    balance_buffer: Decimal = Decimal("0.001")    # spare fraction of the spot order's USDT value
    funding_blocks: bool = False                  # the funding notice is informational by default
    # COIN-M margin held free beyond the initial margin, as a multiple (carry: held for days)
    margin_buffer: Decimal = Decimal(1)

    @classmethod
    def from_settings(cls, s: Any, account_stale_ms: float, **extra: Any) -> "AccountLimits":
        return cls(s.liq_dist_min_pct, s.margin_ratio_max, s.reopen_cooldown_sec, s.max_hold_sec,
                   s.funding_buffer_sec, account_stale_ms, **extra)


def account_blocks(direction: str, plan: EntryPlan | None, view: AccountView,
                   limits: AccountLimits, now_ms: int) -> list[str]:
    """Reasons the account forbids this entry now; empty = allowed. `plan` None checks only the
    gates that do not depend on the order sizes (data, margin, liquidation, cool-down)."""
    reasons: list[str] = []
    if view.fetch_error:
        reasons.append(f"account data fetch failed ({view.fetch_error})")
    elif view.fetched_ms is None:
        reasons.append("account data not fetched yet")
    elif now_ms - view.fetched_ms > limits.account_stale_ms:
        reasons.append(f"account data stale ({now_ms - view.fetched_ms} ms > "
                       f"{limits.account_stale_ms:.0f} ms)")
    margin = view.margin
    reasons.extend(position_risk(view, limits))
    if view.last_exit_ms is not None:
        since = (now_ms - view.last_exit_ms) / 1000
        if since < limits.reopen_cooldown_sec:
            reasons.append(f"cool-down {since:.1f} s < REOPEN_COOLDOWN_SEC {limits.reopen_cooldown_sec:g}")
    if plan is not None:
        reasons.extend(_balance_blocks(direction, plan, view, limits, margin))
    if limits.funding_blocks:
        notice = funding_notice(view, limits, now_ms)
        if notice:
            reasons.append(notice)
    return reasons


def position_risk(view: AccountView, limits: AccountLimits) -> list[str]:
    """The margin gates (margin ratio, liquidation distance): they forbid an entry, and a carry
    held across settlements is closed when one fires."""
    reasons: list[str] = []
    margin = view.margin
    if margin is None:
        reasons.append("COIN-M margin data missing")
    elif margin.wallet_balance <= 0:
        reasons.append(f"COIN-M {margin.asset} walletBalance {format(margin.wallet_balance, 'f')}: "
                       "margin ratio undefined")
    else:
        ratio = margin.maint_margin / margin.wallet_balance
        if ratio > limits.margin_ratio_max / 100:
            reasons.append(f"margin ratio {float(ratio) * 100:.2f}% > MARGIN_RATIO_MAX "
                           f"{limits.margin_ratio_max}%")
    if view.position_amt != 0 and view.liquidation_price > 0:
        mark = view.mark_price
        if mark is None or not mark > 0.0:
            reasons.append("mark price unknown: liquidation distance cannot be checked")
        else:
            dist = abs(mark - float(view.liquidation_price)) / mark
            if dist < float(limits.liq_dist_min_pct) / 100:
                reasons.append(f"liquidation distance {dist * 100:.2f}% < LIQ_DIST_MIN_PCT "
                               f"{limits.liq_dist_min_pct}% (mark {mark:.2f}, "
                               f"liq {format(view.liquidation_price, 'f')})")
    return reasons


def _balance_blocks(direction: str, plan: EntryPlan, view: AccountView, limits: AccountLimits,
                    margin: MarginAsset | None) -> list[str]:
    reasons: list[str] = []
    if direction == BUY_SPOT:
        need = (plan.spot_qty * Decimal(repr(plan.spot_vwap)) * (1 + view.spot_taker_rate)
                * (1 + limits.balance_buffer))
        if view.spot_free_quote is None:
            reasons.append("spot balances unknown")
        elif view.spot_free_quote < need:
            reasons.append(f"spot free USDT {view.spot_free_quote:.2f} < {need:.2f} needed")
    else:
        if view.spot_free_base is None:
            reasons.append("spot balances unknown")
        elif view.spot_free_base < plan.spot_qty:
            reasons.append(f"spot free base {format(view.spot_free_base, 'f')} < "
                           f"{format(plan.spot_qty, 'f')} to sell")
    if margin is not None:
        # Initial margin of an inverse position, in coin: N·S / price / leverage. Unknown leverage
        # counts as 1x, which asks for the most margin.
        leverage = view.leverage if view.leverage > 0 else 1
        need_coin = (plan.notional_usd / Decimal(repr(plan.perp_vwap)) / leverage
                     * limits.margin_buffer)
        if margin.available_balance < need_coin:
            reasons.append(f"COIN-M availableBalance {format(margin.available_balance, 'f')} "
                           f"{margin.asset} < {need_coin:.8f} margin needed at {leverage}x"
                           + (f" × COINM_MARGIN_BUFFER {limits.margin_buffer}"
                              if limits.margin_buffer != 1 else ""))
    return reasons


def persistence_blocks(ledger_error: str | None, state_error: str | None) -> list[str]:
    """No new risk while what the bot does cannot reach the disk: a trade whose rows or state
    cannot be written could not be accounted for or recovered after a crash. (An open trade is
    still managed: its exit reduces risk.)"""
    reasons: list[str] = []
    if ledger_error:
        reasons.append(f"ledger cannot be written ({ledger_error})")
    if state_error:
        reasons.append(f"state file cannot be saved ({state_error})")
    return reasons


def funding_notice(view: AccountView, limits: AccountLimits, now_ms: int) -> str | None:
    """A funding time inside the expected hold (MAX_HOLD_SEC + FUNDING_BUFFER_SEC). Informational
    unless AccountLimits.funding_blocks; a funding time already past is stale data, not a crossing."""
    nxt = view.next_funding_ms
    if not nxt or nxt <= now_ms:
        return None
    left = (nxt - now_ms) / 1000
    window = limits.max_hold_sec + limits.funding_buffer_sec
    if left < window:
        return (f"funding in {left:.0f} s < MAX_HOLD_SEC {limits.max_hold_sec:g} + "
                f"FUNDING_BUFFER_SEC {limits.funding_buffer_sec:g}")
    return None
