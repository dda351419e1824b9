"""Binance COIN-M (`/dapi/v1`) REST client: market data for the inverse perpetual.

Differences from spot that matter here: exchangeInfo takes no symbol (fetch all, pick one),
`contractSize` is a JSON number, depth carries `E`, and premiumIndex always returns a list
whose delivery rows have "" funding (binance-reference §3.2, §4.2, §6.1).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from arbitrage.exchanges.binance_spot import (
    combined_stream_url, dec, filters_by_type, get_for_symbol, grid_fields, parse_levels, parsing,
)
from arbitrage.exchanges.errors import UnknownSymbol
from arbitrage.exchanges.http import BinanceHttp
from arbitrage.models import COINM, DepthSnapshot, MarkPrice, SymbolRules


class CoinmClient:
    """COIN-M `/dapi/v1` market-data endpoints."""

    def __init__(self, http: BinanceHttp, now_ns: Callable[[], int] = time.time_ns) -> None:
        self.http = http
        self._now_ns = now_ns

    def server_time(self) -> int:
        data = self.http.request("GET", "/dapi/v1/time")
        with parsing("GET", "/dapi/v1/time", data):
            return int(data["serverTime"])

    def sync_time(self) -> int:
        """Measure and store the server-time offset used for signed requests (ms)."""
        return self.http.sync_time("/dapi/v1/time")

    def ping(self) -> None:
        self.http.request("GET", "/dapi/v1/ping")

    def exchange_info(self, symbol: str) -> SymbolRules:
        path = "/dapi/v1/exchangeInfo"
        data = self.http.request("GET", path)
        with parsing("GET", path, data):
            entry = next((s for s in data["symbols"] if s["symbol"] == symbol), None)
            if entry is None:
                raise UnknownSymbol(f"{symbol} not in exchangeInfo", method="GET", path=path)
        with parsing("GET", path, entry):   # quote the symbol's entry, not the rate limits
            return parse_coinm_rules(entry)

    def depth(self, symbol: str, limit: int = 1000) -> DepthSnapshot:
        path = "/dapi/v1/depth"
        data = get_for_symbol(self.http, path, {"symbol": symbol, "limit": limit})
        recv_ns = self._now_ns()
        with parsing("GET", path, data):
            return DepthSnapshot(
                symbol=symbol, last_update_id=int(data["lastUpdateId"]),
                bids=parse_levels(data["bids"], descending=True),
                asks=parse_levels(data["asks"], descending=False),
                event_ms=int(data["E"]), recv_ns=recv_ns)

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
    def stream_url(ws_base: str, streams: list[str]) -> str:
        return combined_stream_url(ws_base, streams)

    @staticmethod
    def ticker_stream(symbol: str) -> str:
        return f"{symbol.lower()}@bookTicker"

    @staticmethod
    def depth_stream(symbol: str) -> str:
        return f"{symbol.lower()}@depth@100ms"

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
