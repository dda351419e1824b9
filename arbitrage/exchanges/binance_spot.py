"""Binance spot REST client (`/api/v3`)."""
from __future__ import annotations

from typing import Any

from arbitrage.exchanges.binance_rest import (
    BinanceRestClient, dec, filters_by_type, get_for_symbol, grid_fields,
)
from arbitrage.models import SPOT, SymbolRules


class SpotClient(BinanceRestClient):
    """Spot `/api/v3` endpoints."""

    PREFIX = "/api/v3"

    def exchange_info(self, symbol: str) -> SymbolRules:
        path = "/api/v3/exchangeInfo"
        data = get_for_symbol(self.http, path, {"symbol": symbol})
        return self._rules_from(path, data, symbol, parse_spot_rules)


def parse_spot_rules(entry: dict[str, Any]) -> SymbolRules:
    filters = filters_by_type(entry)
    # NOTIONAL replaced the legacy MIN_NOTIONAL; a symbol carries one or the other.
    notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL")
    return SymbolRules(
        symbol=entry["symbol"], market=SPOT, status=entry["status"],
        base_asset=entry["baseAsset"], quote_asset=entry["quoteAsset"],
        min_notional=dec(notional["minNotional"] if notional else 0),
        **grid_fields(filters))
