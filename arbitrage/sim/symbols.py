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

SYMBOLS: dict[str, SimSymbol] = {s.symbol: s for s in _ALL}

# Which spot symbol a perpetual is hedged against (the index of its mark).
SPOT_OF: dict[str, str] = {"BTCUSD_PERP": "BTCUSDT", "ETHUSD_PERP": "ETHUSDT"}


def resolve(symbols: list[str] | tuple[str, ...] | None) -> dict[str, SimSymbol]:
    """The listed subset, in the canonical order; unknown names are a programming error."""
    if symbols is None:
        return dict(SYMBOLS)
    unknown = [s for s in symbols if s not in SYMBOLS]
    if unknown:
        raise ValueError(f"unknown symbol(s) {unknown}; the local exchange lists {list(SYMBOLS)}")
    return {s.symbol: s for s in _ALL if s.symbol in symbols}
