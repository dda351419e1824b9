"""The local exchange's listed symbols and how their numbers look on the wire.

Values follow binance-reference.md §3 (captured exchangeInfo entries). Spot prints prices and
quantities with 8 decimals ("61837.63000000"); COIN-M prints prices at tick precision ("61804.7")
and contracts as integers ("35") — clients parse these strings, so the exact form matters.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from arbitrage.models import COINM, SPOT


@dataclass(frozen=True, slots=True)
class SimSymbol:
    symbol: str
    market: str                    # SPOT or COINM
    base_asset: str
    quote_asset: str
    tick_size: Decimal
    min_price: Decimal
    max_price: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_max_qty: Decimal
    start_price: float             # where the synthetic market starts
    contract_size: int = 0         # USD per contract (COIN-M only)
    pair: str = ""                 # COIN-M pair, e.g. BTCUSD
    market_min_qty: Decimal = Decimal("0")
    max_algo_orders: int = 0       # COIN-M MAX_NUM_ALGO_ORDERS filter, 0 = not listed
    percent_up: str = "1.0500"
    percent_down: str = "0.9500"
    price_precision: int = 2
    onboard_ms: int = 0
    liquidation_fee: str = "0.015000"
    market_take_bound: str = "0.05"
    # derived once: these sit on the hot path of every book change
    tick: float = field(init=False)
    price_decimals: int = field(init=False)
    qty_decimals: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tick", float(self.tick_size))
        object.__setattr__(self, "price_decimals", max(0, -self.tick_size.as_tuple().exponent))
        object.__setattr__(self, "qty_decimals", max(0, -self.step_size.as_tuple().exponent))

    @property
    def is_spot(self) -> bool:
        return self.market == SPOT

    @property
    def stream_name(self) -> str:
        return self.symbol.lower()

    def fmt_price(self, price: float) -> str:
        return f"{price:.8f}" if self.is_spot else f"{price:.{self.price_decimals}f}"

    def fmt_qty(self, qty: float) -> str:
        return f"{qty:.8f}" if self.is_spot else str(int(round(qty)))

    def round_price(self, ticks: int) -> float:
        """A price on the grid as the float a client gets from parsing its wire string."""
        return round(ticks * self.tick, self.price_decimals)

    def to_ticks(self, price: float) -> int:
        return int(round(price / self.tick))

    def round_qty(self, qty: float) -> float:
        return round(qty, self.qty_decimals)


_ALL = [
    SimSymbol("BTCUSDT", SPOT, "BTC", "USDT", Decimal("0.01"), Decimal("0.01"), Decimal("1000000"),
              Decimal("0.00001"), Decimal("0.00001"), Decimal("9000"), Decimal("128.52621715"),
              start_price=60000.0),
    SimSymbol("ETHUSDT", SPOT, "ETH", "USDT", Decimal("0.01"), Decimal("0.01"), Decimal("1000000"),
              Decimal("0.0001"), Decimal("0.0001"), Decimal("9000"), Decimal("3277.54882761"),
              start_price=2500.0),
    SimSymbol("BTCUSD_PERP", COINM, "BTC", "USD", Decimal("0.1"), Decimal("0.1"), Decimal("100000"),
              Decimal("1"), Decimal("1"), Decimal("100000"), Decimal("100000"),
              start_price=60000.0, contract_size=100, pair="BTCUSD", market_min_qty=Decimal("1"),
              percent_up="1.1500", percent_down="0.8500", price_precision=1,
              onboard_ms=1596006000000),
    SimSymbol("ETHUSD_PERP", COINM, "ETH", "USD", Decimal("0.01"), Decimal("50"), Decimal("306159"),
              Decimal("1"), Decimal("1"), Decimal("1000000"), Decimal("500000"),
              start_price=2500.0, contract_size=10, pair="ETHUSD", market_min_qty=Decimal("1"),
              max_algo_orders=20, price_precision=2, onboard_ms=1597734000000),
]


def _spot(symbol: str, base: str, tick: str, step: str, market_max: str, price: float) -> SimSymbol:
    return SimSymbol(symbol, SPOT, base, "USDT", Decimal(tick), Decimal(tick), Decimal("1000000"),
                     Decimal(step), Decimal(step), Decimal("9000000"), Decimal(market_max),
                     start_price=price)


def _perp(base: str, tick: str, min_price: str, max_price: str, price: float) -> SimSymbol:
    tick_d = Decimal(tick)
    return SimSymbol(f"{base}USD_PERP", COINM, base, "USD", tick_d, Decimal(min_price), Decimal(max_price),
                     Decimal("1"), Decimal("1"), Decimal("1000000"), Decimal("500000"),
                     start_price=price, contract_size=10, pair=f"{base}USD", market_min_qty=Decimal("1"),
                     max_algo_orders=20, price_precision=max(0, -tick_d.as_tuple().exponent))


# The other COIN-M perpetuals with a USDT spot market, for the funding ranking (`python -m app.rank`).
# Only BTCUSDT/ETHUSDT/BTCUSD_PERP/ETHUSD_PERP above come from captured entries (binance-reference §3).
# For these, binance-reference.md has no capture and none was found in the searchable corpus: the
# tickSize/stepSize below are Binance's values as remembered from its public exchangeInfo (UNCONFIRMED,
# re-read live before trading); contractSize 10 USD is Binance's documented size for every COIN-M
# perpetual but BTC's; min/max price and the lot/market maxima reuse ETH's captured shape (UNCONFIRMED).
# Start prices are round, plausible levels, not quotes.
_EXTRA = [
    #      symbol      base   tickSize     stepSize  MARKET maxQty  start
    _spot("BNBUSDT", "BNB", "0.01", "0.001", "2000", 580.0),
    _spot("SOLUSDT", "SOL", "0.01", "0.001", "20000", 150.0),
    _spot("XRPUSDT", "XRP", "0.0001", "0.1", "2000000", 0.60),
    _spot("ADAUSDT", "ADA", "0.0001", "0.1", "2000000", 0.45),
    _spot("DOGEUSDT", "DOGE", "0.00001", "1", "20000000", 0.12),
    _spot("LINKUSDT", "LINK", "0.01", "0.01", "50000", 14.0),
    #     base    tickSize     minPrice    maxPrice   start
    _perp("BNB", "0.001", "0.100", "100000", 580.0),
    _perp("SOL", "0.01", "0.40", "10000", 150.0),
    _perp("XRP", "0.0001", "0.0100", "100", 0.60),
    _perp("ADA", "0.00001", "0.00100", "100", 0.45),
    _perp("DOGE", "0.000001", "0.000200", "30", 0.12),
    _perp("LINK", "0.001", "0.100", "2000", 14.0),
]

SYMBOLS: dict[str, SimSymbol] = {s.symbol: s for s in _ALL + _EXTRA}

# What a LocalExchange lists unless told otherwise: the bot's historical pairs (tests and the demo
# rely on exactly these); `ALL_SYMBOLS` lists every pair above (the funding ranking needs them).
CORE_SYMBOLS: tuple[str, ...] = tuple(s.symbol for s in _ALL)
ALL_SYMBOLS: tuple[str, ...] = tuple(SYMBOLS)

# Which spot symbol a perpetual is hedged against (the index of its mark).
SPOT_OF: dict[str, str] = {s.symbol: f"{s.base_asset}USDT" for s in SYMBOLS.values() if not s.is_spot}


def resolve(symbols: list[str] | tuple[str, ...] | None) -> dict[str, SimSymbol]:
    """The listed subset, in the canonical order; unknown names are a programming error."""
    if symbols is None:
        symbols = CORE_SYMBOLS
    unknown = [s for s in symbols if s not in SYMBOLS]
    if unknown:
        raise ValueError(f"unknown symbol(s) {unknown}; the local exchange lists {list(SYMBOLS)}")
    return {s.symbol: s for s in SYMBOLS.values() if s.symbol in symbols}
