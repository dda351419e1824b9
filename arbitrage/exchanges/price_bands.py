"""The lowest buy price a symbol's percent-price filter accepts, as a multiplier of the reference
price: spot PERCENT_PRICE_BY_SIDE `bidMultiplierDown` (or PERCENT_PRICE `multiplierDown`), COIN-M
PERCENT_PRICE `multiplierDown` (binance-reference §3). 0 when the symbol has no such filter."""
from __future__ import annotations

from decimal import Decimal

from arbitrage.exchanges.binance_rest import filters_by_type, parsing
from arbitrage.exchanges.http import BinanceHttp
from arbitrage.exchanges.orders_wire import num
from arbitrage.models import SPOT


def bid_floor(http: BinanceHttp, market: str, symbol: str) -> Decimal:
    path = "/api/v3/exchangeInfo" if market == SPOT else "/dapi/v1/exchangeInfo"
    data = http.request("GET", path, {"symbol": symbol} if market == SPOT else None)
    with parsing("GET", path, data):
        entry = next(s for s in data["symbols"] if s["symbol"] == symbol)
        return multiplier_down(filters_by_type(entry))


def multiplier_down(filters: dict) -> Decimal:
    by_side = filters.get("PERCENT_PRICE_BY_SIDE")
    if by_side is not None:
        return num(by_side["bidMultiplierDown"])
    plain = filters.get("PERCENT_PRICE")
    return num(plain["multiplierDown"]) if plain is not None else Decimal(0)
