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
