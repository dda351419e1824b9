"""Plain domain types shared by venue code, the books and the strategy.

Venue code parses wire payloads into these; nothing outside `arbitrage/exchanges/` and
`arbitrage/sim/` ever sees a raw Binance dict. Book prices and quantities are floats (design §1:
floats are fine inside the book and for bps signals); anything sent to an exchange or written to the
ledger is a Decimal built from the symbol's grid (see SymbolRules).

Every market event carries both clocks (hftbacktest style): the exchange's event time in ms
(`event_ms`, Binance `E`) and the local receive time in ns since the epoch (`recv_ns`).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

SPOT = "spot"
COINM = "coinm"

Level = tuple[float, float]  # (price, quantity); quantity in BTC on spot, in contracts on COIN-M


@dataclass(frozen=True, slots=True)
class SymbolRules:
    """What exchangeInfo says about one symbol, reduced to what the bot needs."""
    symbol: str
    market: str                   # SPOT or COINM
    status: str                   # spot `status`, COIN-M `contractStatus` ("TRADING" when tradable)
    base_asset: str               # BTC
    quote_asset: str              # USDT (spot) / USD (COIN-M)
    tick_size: Decimal            # PRICE_FILTER.tickSize
    min_price: Decimal
    max_price: Decimal
    step_size: Decimal            # LOT_SIZE.stepSize (BTC on spot, contracts on COIN-M)
    min_qty: Decimal
    max_qty: Decimal
    market_max_qty: Decimal       # MARKET_LOT_SIZE.maxQty (0 = no separate limit)
    min_notional: Decimal         # spot NOTIONAL.minNotional (quote); 0 on COIN-M
    contract_size: Decimal | None = None   # USD per contract on COIN-M; None on spot
    margin_asset: str | None = None        # COIN-M marginAsset (BTC)

    @property
    def trading(self) -> bool:
        return self.status == "TRADING"


@dataclass(slots=True)
class DepthSnapshot:
    """REST depth: `lastUpdateId` plus levels, best first."""
    symbol: str
    last_update_id: int
    bids: list[Level]
    asks: list[Level]
    event_ms: int | None          # COIN-M `E`; spot snapshots carry no time
    recv_ns: int


@dataclass(slots=True)
class DepthDiff:
    """One `depthUpdate` event. Quantities are absolute; 0 removes the level."""
    symbol: str
    first_id: int                 # U
    final_id: int                 # u
    prev_final_id: int | None     # pu (COIN-M only): u of the previous event on the stream
    bids: list[Level]
    asks: list[Level]
    event_ms: int                 # E
    recv_ns: int


@dataclass(slots=True)
class MarkPrice:
    """COIN-M `markPriceUpdate` (stream) or one `premiumIndex` row (REST)."""
    symbol: str
    mark: float
    index: float | None
    funding_rate: float | None    # None for delivery contracts ("" on the wire)
    next_funding_ms: int          # 0 for delivery contracts
    event_ms: int
    recv_ns: int


@dataclass(frozen=True, slots=True)
class FundingSettlement:
    """One row of COIN-M `fundingRate` history: a past settlement of `rate` at `time_ms`."""
    symbol: str
    time_ms: int
    rate: Decimal
    mark: Decimal | None          # markPrice; None when the row has none (older captures)


@dataclass(slots=True)
class BookTicker:
    """Best bid/ask as the exchange itself reports it (used to check our books)."""
    symbol: str
    update_id: int
    bid: float
    bid_qty: float
    ask: float
    ask_qty: float
    event_ms: int | None
    recv_ns: int


@dataclass(slots=True)
class StreamStatus:
    """A WebSocket connection came up or went down. Down means every book on it must resync."""
    connection: str               # the runner's name, e.g. "spot" or "coinm"
    connected: bool
    reason: str
    recv_ns: int


@dataclass(slots=True)
class SnapshotResult:
    """The outcome of a REST depth request made off the engine thread."""
    symbol: str
    snapshot: DepthSnapshot | None
    error: str | None
    recv_ns: int


# --- trading ----------------------------------------------------------------------------------
# Everything below is exact: Decimals parsed from the wire strings. Sides are "BUY"/"SELL".

BUY = "BUY"
SELL = "SELL"

# Order statuses as Binance reports them (spot adds REJECTED, PENDING_NEW, EXPIRED_IN_MATCH).
FINAL_STATUSES = frozenset({"FILLED", "CANCELED", "EXPIRED", "REJECTED", "EXPIRED_IN_MATCH"})


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One order as the bot wants it sent. Quantities on the symbol's grid (BTC on spot,
    contracts on COIN-M); prices on the tick grid. `client_order_id` is deterministic and is
    recorded before the request is sent, so an unknown outcome can be resolved by querying it."""
    market: str                   # SPOT or COINM
    symbol: str
    side: str                     # BUY / SELL
    type: str                     # MARKET, LIMIT, LIMIT_MAKER (spot)
    quantity: Decimal
    client_order_id: str
    price: Decimal | None = None
    time_in_force: str | None = None   # GTC, IOC, FOK, GTX (COIN-M post-only)
    reduce_only: bool = False          # COIN-M only


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution. Spot: qty in BTC, quote_qty in USDT. COIN-M: qty in contracts, quote_qty is
    the BTC value (`baseQty` = qty × contractSize / price)."""
    market: str
    symbol: str
    order_id: int
    trade_id: int
    side: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    realized_pnl: Decimal         # COIN-M realizedPnl (BTC); 0 on spot
    time_ms: int
    maker: bool


@dataclass(frozen=True, slots=True)
class OrderState:
    """The exchange's view of one order (POST / GET / DELETE answers)."""
    market: str
    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    status: str                   # NEW, PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED, ...
    orig_qty: Decimal
    executed_qty: Decimal
    cum_quote: Decimal            # spot cummulativeQuoteQty (USDT); COIN-M cumBase (BTC), 0 if absent
    avg_price: Decimal | None     # COIN-M avgPrice; spot cum_quote/executed when executed > 0
    price: Decimal                # limit price (0 for MARKET)
    reduce_only: bool
    update_ms: int
    fills: tuple[Fill, ...] = ()  # spot FULL responses carry them; otherwise empty

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True, slots=True)
class SpotAccount:
    """GET /api/v3/account reduced to what the bot uses."""
    balances: dict[str, tuple[Decimal, Decimal]]   # asset -> (free, locked)
    maker_rate: Decimal                            # commissionRates.maker
    taker_rate: Decimal
    can_trade: bool
    update_ms: int

    def free(self, asset: str) -> Decimal:
        return self.balances.get(asset, (Decimal(0), Decimal(0)))[0]

    def total(self, asset: str) -> Decimal:
        free, locked = self.balances.get(asset, (Decimal(0), Decimal(0)))
        return free + locked


@dataclass(frozen=True, slots=True)
class MarginAsset:
    """One asset of GET /dapi/v1/account (COIN-M accounts are per margin coin)."""
    asset: str
    wallet_balance: Decimal
    unrealized_profit: Decimal
    margin_balance: Decimal
    maint_margin: Decimal
    initial_margin: Decimal
    available_balance: Decimal


@dataclass(frozen=True, slots=True)
class Position:
    """One row of GET /dapi/v1/positionRisk (one-way mode: positionSide BOTH)."""
    symbol: str
    amount: Decimal               # signed contracts (negative = short)
    entry_price: Decimal
    mark_price: Decimal
    unrealized_profit: Decimal
    liquidation_price: Decimal    # 0 when there is no position
    leverage: int
    margin_type: str              # "cross" / "isolated"


@dataclass(frozen=True, slots=True)
class CoinmAccount:
    assets: dict[str, MarginAsset]
    positions: dict[str, Position]      # from positionRisk, by symbol
    update_ms: int


@dataclass(frozen=True, slots=True)
class Income:
    """One row of GET /dapi/v1/income."""
    symbol: str
    income_type: str              # FUNDING_FEE, REALIZED_PNL, COMMISSION, TRANSFER, ...
    income: Decimal               # signed, from the account's view
    asset: str
    time_ms: int
    tran_id: int
    trade_id: str


# --- user data streams (binance-ws-api.md §6) -----------------------------------------------------

@dataclass(frozen=True, slots=True)
class ExecutionEvent:
    """One order event: spot `executionReport`, COIN-M `ORDER_TRADE_UPDATE`. `last_qty` > 0 and
    `trade_id` set on a fill; `cum_qty` is the order's running total (keep the largest seen)."""
    market: str
    symbol: str
    client_order_id: str          # the order's own id (spot cancels: the original, `C`)
    order_id: int
    side: str
    execution_type: str           # NEW, TRADE, CANCELED, EXPIRED, AMENDMENT/REPLACED, ...
    status: str                   # the order's status after this event
    last_qty: Decimal
    last_price: Decimal
    cum_qty: Decimal
    commission: Decimal
    commission_asset: str | None
    trade_id: int | None          # None when the event is not a fill
    maker: bool
    realized_pnl: Decimal         # COIN-M `rp`; 0 on spot
    exchange_time: int            # ms: the transaction time `T`
    recv_time: int                # ns since the epoch, taken when the frame was read


@dataclass(frozen=True, slots=True)
class BalanceEvent:
    """Spot `outboundAccountPosition` (absolute free/locked per asset) or `balanceUpdate` (a
    delta); COIN-M ACCOUNT_UPDATE balances (wallet balance)."""
    market: str
    reason: str                   # spot: "POSITION" / "DELTA"; COIN-M: ACCOUNT_UPDATE `m`
    balances: dict[str, tuple[Decimal, Decimal]]   # asset -> (free or wallet, locked or cross wallet)
    exchange_time: int
    recv_time: int


@dataclass(frozen=True, slots=True)
class PositionEvent:
    """One COIN-M position from ACCOUNT_UPDATE, with its reason (ORDER, FUNDING_FEE, ...)."""
    symbol: str
    reason: str
    amount: Decimal               # signed contracts
    entry_price: Decimal
    exchange_time: int
    recv_time: int


@dataclass(frozen=True, slots=True)
class UserStreamGap:
    """The user stream was not delivering between `since` and `until` (ns since the epoch):
    events may be lost, so reconcile by REST before any new entry."""
    market: str
    since: int
    until: int
    reason: str
