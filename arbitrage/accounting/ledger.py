"""The BTC ledger (design §9): one row per event, exact Decimals from the wire strings to the CSV.

Where each kind of money comes from — one source per kind, so nothing is counted twice:
- spot quantities, USDT flows and spot commissions: the spot fills (FULL answer or myTrades);
- COIN-M realized PnL and COIN-M commissions: the COIN-M fills (`userTrades` realizedPnl and
  commission) — never the REALIZED_PNL / COMMISSION rows of `/dapi/v1/income`, which repeat them;
- funding: only `/dapi/v1/income` FUNDING_FEE rows (no fill carries it), deduplicated by `tranId`.

Row meanings (the seed's first 15 columns, then three more):
  delta_btc  = (±Q_btc − fee_btc_spot) + (−fee_btc_cm + income_btc)      (+ for a spot BUY)
  delta_usdt = the spot leg's real USDT flow, commission included
  net_btc    = on a closing row: the trade's actual BTC flow + its USDT flow / exit spot VWAP
`fee_btc_spot` includes USDT commissions converted at each fill's price (the seed's rule), which
`delta_btc` deducts although no BTC left the account; `actual_btc` adds that part back, and that is
what the invariant compares with the exchange's balances.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Iterable, Mapping, NamedTuple

from arbitrage.models import BUY, COINM, SPOT, CoinmAccount, Fill, Income, SpotAccount
from arbitrage.numbers import plain  # noqa: F401  (the CSV's and the logs' one rule; re-exported)

log = logging.getLogger("arbitrage.ledger")   # the name it had before the move to accounting/

ZERO = Decimal(0)
Q8 = Decimal("0.00000001")
OPEN, RESCUE, CLOSE, FUNDING = "open", "rescue", "close", "funding"
FUNDING_FEE = "FUNDING_FEE"

# The CSV columns, in order: the seed's 15, then fee_usdt_spot, delta_usdt, net_btc (the 18 of the
# first versions, LEGACY_COLUMNS), then the pair: one file can hold several pairs. The `_btc`
# columns are in the row's base_asset (BTC for BTCUSDT, ETH for ETHUSDT): never summed across pairs.
LEGACY_COLUMNS = ("ts_ms", "ts_iso", "event", "trade_id", "side", "Q_btc", "N_cntr", "spot_vwap",
                  "perp_vwap", "spot_orderId", "cm_orderId", "fee_btc_spot", "fee_btc_cm",
                  "income_btc", "delta_btc", "fee_usdt_spot", "delta_usdt", "net_btc")
PAIR_COLUMNS = ("base_asset", "spot_symbol", "coinm_symbol")
COLUMNS = LEGACY_COLUMNS + PAIR_COLUMNS
DECIMAL_COLUMNS = frozenset({"Q_btc", "N_cntr", "spot_vwap", "perp_vwap", "fee_btc_spot",
                             "fee_btc_cm", "income_btc", "delta_btc", "fee_usdt_spot",
                             "delta_usdt", "net_btc"})
ORDER_ID_SEPARATOR = " "    # several orders in one row (an exit plus its remainder): "28463 28470"


def q8(value: Decimal) -> Decimal:
    return value.quantize(Q8, rounding=ROUND_HALF_EVEN)


def iso_utc(ts_ms: int) -> str:
    """2024-08-08T23:55:00.123Z — integer arithmetic, so the milliseconds are never off by one."""
    seconds, millis = divmod(ts_ms, 1000)
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{millis:03d}Z"


@dataclass(frozen=True, slots=True)
class OrderFills:
    """One order and the fills it got (possibly none)."""
    market: str                   # SPOT or COINM
    side: str                     # BUY / SELL
    client_order_id: str
    order_id: int
    fills: tuple[Fill, ...]


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One CSV row (the first 21 fields, in COLUMNS order; None = empty cell) plus two attributes
    that are not written: `usdt_fee_btc`, the USDT-paid part of fee_btc_spot (derived on read-back),
    and `fees_other`, commissions in a third asset (BNB), kept out of the BTC/USDT columns."""
    ts_ms: int
    ts_iso: str
    event: str
    trade_id: str | None
    side: str | None
    Q_btc: Decimal | None
    N_cntr: Decimal | None
    spot_vwap: Decimal | None
    perp_vwap: Decimal | None
    spot_orderId: str | None
    cm_orderId: str | None
    fee_btc_spot: Decimal | None
    fee_btc_cm: Decimal | None
    income_btc: Decimal | None
    delta_btc: Decimal | None
    fee_usdt_spot: Decimal | None
    delta_usdt: Decimal | None
    net_btc: Decimal | None
    base_asset: str | None = None       # the pair (None: not stamped yet, see with_pair)
    spot_symbol: str | None = None
    coinm_symbol: str | None = None
    usdt_fee_btc: Decimal | None = field(default=None, compare=False)
    fees_other: Mapping[str, Decimal] = field(default_factory=dict, compare=False, hash=False)

    def cells(self) -> tuple:
        return tuple(getattr(self, name) for name in COLUMNS)

    @property
    def pair(self) -> "Pair":
        return Pair(self.base_asset or DEFAULT_PAIR.base_asset,
                    self.spot_symbol or DEFAULT_PAIR.spot_symbol,
                    self.coinm_symbol or DEFAULT_PAIR.coinm_symbol)


class Pair(NamedTuple):
    """What a row belongs to. A row without pair cells (an 18-column file of an earlier version)
    is taken as the default pair, the only one those versions traded unless PAIR was set."""
    base_asset: str
    spot_symbol: str
    coinm_symbol: str

    def __str__(self) -> str:
        return f"{self.spot_symbol} / {self.coinm_symbol}"


DEFAULT_PAIR = Pair("BTC", "BTCUSDT", "BTCUSD_PERP")


def with_pair(row: LedgerRow, pair: Pair) -> LedgerRow:
    return replace(row, base_asset=pair.base_asset, spot_symbol=pair.spot_symbol,
                   coinm_symbol=pair.coinm_symbol)


def _d(value: Decimal | None) -> Decimal:
    return ZERO if value is None else value


def _unique_fills(orders: list[OrderFills], market: str) -> list[Fill]:
    """The fills of these orders, each once: the same execution may arrive from a FULL answer and
    from myTrades/userTrades, and counting it twice would count its fee twice."""
    seen: set[tuple[str, int]] = set()
    fills: list[Fill] = []
    for order in orders:
        if order.market != market:
            raise ValueError(f"order {order.order_id} is {order.market}, expected {market}")
        for f in order.fills:
            if f.market != market or f.order_id != order.order_id:
                raise ValueError(f"fill {f.trade_id} ({f.market}, order {f.order_id}) does not "
                                 f"belong to {market} order {order.order_id}")
            key = (f.symbol, f.trade_id)
            if key in seen:
                log.warning("ledger: %s fill %s of order %s seen twice; counted once",
                            market, f.trade_id, f.order_id)
                continue
            seen.add(key)
            fills.append(f)
    return fills


def _one_side(orders: list[OrderFills], leg: str) -> str | None:
    sides = {o.side for o in orders}
    if len(sides) > 1:
        raise ValueError(f"{leg} orders of one row must share a side, got {sorted(sides)}")
    return sides.pop() if sides else None


def _ids(orders: list[OrderFills]) -> str | None:
    return ORDER_ID_SEPARATOR.join(str(o.order_id) for o in orders) if orders else None


def pair_row(event: str, trade_id: str, side: str, ts_ms: int, spot: list[OrderFills],
             perp: list[OrderFills], contract_size: Decimal, base_asset: str = "BTC",
             quote_asset: str = "USDT") -> LedgerRow:
    """The row of one step of a trade (open, rescue, close): its spot orders (one side) and its
    COIN-M orders (one side). A leg without orders leaves its cells empty.

    income_btc here is the COIN-M fills' realizedPnl only (userTrades is the source for realized
    PnL and COIN-M fees); funding reaches the ledger only through `funding_row` (income
    FUNDING_FEE). Never book the income endpoint's REALIZED_PNL/COMMISSION rows as well."""
    spot_side = _one_side(spot, "spot")
    _one_side(perp, "COIN-M")                    # raises on a mix of sides: one row, one side
    spot_fills, perp_fills = _unique_fills(spot, SPOT), _unique_fills(perp, COINM)
    other: dict[str, Decimal] = {}

    q = quote = fee_base = fee_quote = fee_quote_in_btc = ZERO
    for f in spot_fills:
        q += f.qty
        quote += f.quote_qty
        if f.commission_asset == base_asset:
            fee_base += f.commission
        elif f.commission_asset == quote_asset:
            fee_quote += f.commission
            fee_quote_in_btc += f.commission / f.price
        elif f.commission:
            other[f.commission_asset] = other.get(f.commission_asset, ZERO) + f.commission
    usdt_fee_btc = q8(fee_quote_in_btc)     # quantized once per row (the seed's rule)

    n = base_qty = fee_cm = realized = ZERO
    for f in perp_fills:
        n += f.qty
        base_qty += f.quote_qty             # COIN-M baseQty: the fill's value in BTC
        realized += f.realized_pnl
        if f.commission_asset == base_asset:
            fee_cm += f.commission
        elif f.commission:
            other[f.commission_asset] = other.get(f.commission_asset, ZERO) + f.commission
    if other:
        log.warning("ledger: %s %s commissions in another asset, not in the %s/%s columns: %s",
                    trade_id, event, base_asset, quote_asset,
                    ", ".join(f"{format(v, 'f')} {k}" for k, v in sorted(other.items())))

    has_spot, has_perp = bool(spot), bool(perp)
    fee_btc_spot = fee_base + usdt_fee_btc
    signed_q = q if spot_side == BUY else -q
    delta_btc = (signed_q - fee_btc_spot) + (-fee_cm + realized)
    delta_usdt = (-quote if spot_side == BUY else quote) - fee_quote
    return LedgerRow(
        ts_ms=ts_ms, ts_iso=iso_utc(ts_ms), event=event, trade_id=trade_id, side=side,
        Q_btc=q if has_spot else None,
        N_cntr=n if has_perp else None,
        spot_vwap=q8(quote / q) if q else None,
        # harmonic: N·S / Σ baseQty keeps Σ contracts·S/price, as an inverse entry price does
        perp_vwap=q8(n * contract_size / base_qty) if base_qty else None,
        spot_orderId=_ids(spot), cm_orderId=_ids(perp),
        fee_btc_spot=fee_btc_spot if has_spot else None,
        fee_btc_cm=fee_cm if has_perp else None,
        income_btc=realized if has_perp else None,
        delta_btc=delta_btc,
        fee_usdt_spot=fee_quote if has_spot else None,
        delta_usdt=delta_usdt if has_spot else None,
        net_btc=None, usdt_fee_btc=usdt_fee_btc, fees_other=other)


def funding_row(income: Income, trade_id: str | None) -> LedgerRow:
    """One FUNDING_FEE income row (signed from the account's view), tagged with the open trade."""
    if income.income_type != FUNDING_FEE:
        raise ValueError(f"funding_row needs a {FUNDING_FEE} row, got {income.income_type}")
    return LedgerRow(
        ts_ms=income.time_ms, ts_iso=iso_utc(income.time_ms), event=FUNDING, trade_id=trade_id,
        side=None, Q_btc=None, N_cntr=None, spot_vwap=None, perp_vwap=None, spot_orderId=None,
        cm_orderId=None, fee_btc_spot=None, fee_btc_cm=None, income_btc=income.income,
        delta_btc=income.income, fee_usdt_spot=None, delta_usdt=None, net_btc=None,
        usdt_fee_btc=ZERO)


class FundingDedup:
    """Which funding rows were already booked: the last `limit` tranIds plus the cursor (the latest
    time seen, to use as the next `startTime`; Binance's window is inclusive, so the rows at the
    cursor come back and are dropped here). A row no newer than the oldest forgotten id is dropped
    too: it was booked before its id fell out of the window."""

    def __init__(self, cursor_ms: int = 0, seen: Iterable[int] = (), limit: int = 10_000,
                 floor_ms: int = 0) -> None:
        self.cursor_ms = cursor_ms
        self.floor_ms = floor_ms
        self.limit = limit
        self._order: deque[tuple[int, int]] = deque()     # (tran_id, time_ms), oldest first
        self._ids: set[int] = set()
        for tran_id in seen:
            self._remember(tran_id, cursor_ms)

    def _remember(self, tran_id: int, time_ms: int) -> None:
        self._ids.add(tran_id)
        self._order.append((tran_id, time_ms))
        while len(self._order) > self.limit:
            old_id, old_ms = self._order.popleft()
            self._ids.discard(old_id)
            self.floor_ms = max(self.floor_ms, old_ms)

    def accept(self, income: Income) -> bool:
        """True once per new FUNDING_FEE row; False for a repeat or another income type."""
        if income.income_type != FUNDING_FEE or income.tran_id in self._ids:
            return False
        if self.floor_ms and income.time_ms <= self.floor_ms:
            log.warning("ledger: funding tranId %s at %s is older than the dedup window; skipped",
                        income.tran_id, income.time_ms)
            return False
        self._remember(income.tran_id, income.time_ms)
        self.cursor_ms = max(self.cursor_ms, income.time_ms)
        return True

    def new(self, rows: Iterable[Income]) -> list[Income]:
        """The rows of one fetch that were not booked yet, oldest first."""
        return [r for r in sorted(rows, key=lambda r: (r.time_ms, r.tran_id)) if self.accept(r)]

    def seen_ids(self) -> list[int]:
        """For the state snapshot (with cursor_ms and floor_ms)."""
        return [tran_id for tran_id, _ in self._order]


# --- actual flows, a trade's result, the invariant ------------------------------------------------

def usdt_fee_part(row: LedgerRow) -> Decimal:
    """The USDT-paid part of fee_btc_spot. Rows read back from a CSV do not carry it; there each
    row's spot orders share a side, so a row that paid USDT commission paid no BTC commission."""
    if row.usdt_fee_btc is not None:
        return row.usdt_fee_btc
    return _d(row.fee_btc_spot) if _d(row.fee_usdt_spot) > 0 else ZERO


def actual_btc(row: LedgerRow) -> Decimal:
    """The BTC that really moved (spot BTC + COIN-M wallet)."""
    return _d(row.delta_btc) + usdt_fee_part(row)


def close_net_btc(trade_rows: Iterable[LedgerRow], exit_spot_vwap: Decimal) -> Decimal:
    """A trade's real result in BTC: Σ actual BTC of all its rows (open, rescues, tagged funding,
    close) + Σ delta_usdt converted at the exit spot VWAP (8 dp)."""
    rows = list(trade_rows)
    btc = sum((actual_btc(r) for r in rows), ZERO)
    usdt = sum((_d(r.delta_usdt) for r in rows), ZERO)
    return btc + q8(usdt / exit_spot_vwap)


def with_net_btc(close_row: LedgerRow, earlier_rows: Iterable[LedgerRow]) -> LedgerRow:
    """The closing row with net_btc filled in (empty when the close had no spot fills)."""
    if close_row.spot_vwap is None:
        log.warning("ledger: %s close has no spot VWAP; net_btc left empty", close_row.trade_id)
        return close_row
    rows = [r for r in earlier_rows if r.trade_id == close_row.trade_id] + [close_row]
    return replace(close_row, net_btc=close_net_btc(rows, close_row.spot_vwap))


@dataclass(frozen=True, slots=True)
class Balances:
    """What the exchange reports: spot free+locked, and the COIN-M wallet balance (no unrealized)."""
    spot_btc: Decimal
    spot_usdt: Decimal
    coinm_btc: Decimal

    @classmethod
    def from_accounts(cls, spot: SpotAccount, coinm: CoinmAccount, base_asset: str = "BTC",
                      quote_asset: str = "USDT") -> Balances:
        margin = coinm.assets.get(base_asset)
        return cls(spot.total(base_asset), spot.total(quote_asset),
                   margin.wallet_balance if margin else ZERO)


@dataclass(frozen=True, slots=True)
class Invariant:
    ledger_usdt: Decimal          # Σ delta_usdt
    exchange_usdt: Decimal        # Δ spot USDT
    ledger_btc: Decimal           # Σ delta_btc + Σ usdt_fee_btc
    exchange_btc: Decimal         # Δ (spot BTC + COIN-M wallet)
    start: Balances
    end: Balances
    base_asset: str = "BTC"
    quote_asset: str = "USDT"
    # QUOTE_SHARED: other bots trade this account's quote coin, so its balance change is not this
    # ledger's alone; the quote line is shown but cannot decide (the base coin's line still does)
    quote_shared: bool = False

    @property
    def diff_usdt(self) -> Decimal:
        return self.ledger_usdt - self.exchange_usdt

    @property
    def diff_btc(self) -> Decimal:
        return self.ledger_btc - self.exchange_btc

    @property
    def ok(self) -> bool:
        return (self.quote_shared or self.diff_usdt == 0) and self.diff_btc == 0

    def describe(self) -> list[str]:
        f = plain
        s, e, b, qa = self.start, self.end, self.base_asset, self.quote_asset
        return [
            f"invariant {qa}: ledger sum delta_usdt {f(self.ledger_usdt)} vs exchange spot {qa} "
            f"{f(s.spot_usdt)} -> {f(e.spot_usdt)} = {f(self.exchange_usdt)}: "
            f"difference {f(self.diff_usdt)}" + (
                " (not decisive: QUOTE_SHARED, other bots trade this account's " + qa + ")"
                if self.quote_shared else " OK" if self.diff_usdt == 0 else " MISMATCH"),
            f"invariant {b}: ledger sum delta_btc + USDT-paid fees {f(self.ledger_btc)} vs exchange "
            f"spot {b} + COIN-M wallet {f(s.spot_btc + s.coinm_btc)} -> {f(e.spot_btc + e.coinm_btc)}"
            f" = {f(self.exchange_btc)}: difference {f(self.diff_btc)}"
            + (" OK" if self.diff_btc == 0 else " MISMATCH"),
        ]


def check_invariant(rows: Iterable[LedgerRow], start: Balances, end: Balances,
                    base_asset: str = "BTC", quote_asset: str = "USDT",
                    quote_shared: bool = False) -> Invariant:
    """Does the ledger of a run reproduce the exchange's balance changes to the last unit? Only the
    rows of `base_asset`'s pair count (and rows without pair cells): another coin is never added."""
    rows = [r for r in rows if r.base_asset in (None, base_asset)]
    return Invariant(
        ledger_usdt=sum((_d(r.delta_usdt) for r in rows), ZERO),
        exchange_usdt=end.spot_usdt - start.spot_usdt,
        ledger_btc=sum((actual_btc(r) for r in rows), ZERO),
        exchange_btc=(end.spot_btc + end.coinm_btc) - (start.spot_btc + start.coinm_btc),
        start=start, end=end, base_asset=base_asset, quote_asset=quote_asset,
        quote_shared=quote_shared)
