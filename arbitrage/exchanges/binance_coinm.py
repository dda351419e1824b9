"""Binance COIN-M (`/dapi/v1`) REST client: market data for the inverse perpetual.

Differences from spot that matter here: exchangeInfo takes no symbol (fetch all, pick one),
`contractSize` is a JSON number, depth carries `E`, and premiumIndex always returns a list
whose delivery rows have "" funding (binance-reference §3.2, §4.2, §6.1).
"""
from __future__ import annotations

from typing import Any

from arbitrage.exchanges.binance_rest import (
    BinanceRestClient, dec, filters_by_type, get_for_symbol, grid_fields, parsing,
)
from arbitrage.exchanges.errors import UnknownSymbol
from arbitrage.models import COINM, MarkPrice, SymbolRules


class CoinmClient(BinanceRestClient):
    """COIN-M `/dapi/v1` endpoints."""

    PREFIX = "/dapi/v1"
    DEPTH_HAS_TIME = True

    def exchange_info(self, symbol: str) -> SymbolRules:
        path = "/dapi/v1/exchangeInfo"
        return self._rules_from(path, self.http.request("GET", path), symbol, parse_coinm_rules)

    def premium_index(self, symbol: str) -> MarkPrice:
        path = "/dapi/v1/premiumIndex"
        rows = get_for_symbol(self.http, path, {"symbol": symbol})
        recv_ns = self._now_ns()
        with parsing("GET", path, rows):
            row = next((r for r in rows if r["symbol"] == symbol), None)
            if row is None:
                raise UnknownSymbol(f"{symbol} not in premiumIndex", method="GET", path=path)
            return parse_premium_row(row, recv_ns)

    @staticmethod
    def mark_stream(symbol: str) -> str:
        return f"{symbol.lower()}@markPrice@1s"


def parse_coinm_rules(entry: dict[str, Any]) -> SymbolRules:
    return SymbolRules(
        symbol=entry["symbol"], market=COINM, status=entry["contractStatus"],
        base_asset=entry["baseAsset"], quote_asset=entry["quoteAsset"],
        min_notional=dec(0), contract_size=dec(entry["contractSize"]),
        margin_asset=entry["marginAsset"], **grid_fields(filters_by_type(entry)))


def _optional_float(value: str) -> float | None:
    return None if value == "" else float(value)


def parse_premium_row(row: dict[str, Any], recv_ns: int) -> MarkPrice:
    return MarkPrice(
        symbol=row["symbol"], mark=float(row["markPrice"]),
        index=_optional_float(row["indexPrice"]),
        funding_rate=_optional_float(row["lastFundingRate"]),   # "" on delivery contracts
        next_funding_ms=int(row["nextFundingTime"]), event_ms=int(row["time"]),
        recv_ns=recv_ns)
