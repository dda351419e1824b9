"""Binance COIN-M (`/dapi/v1`) REST client for the inverse perpetual: market data and trading.

Differences from spot that matter here: exchangeInfo takes no symbol (fetch all, pick one),
`contractSize` is a JSON number, depth carries `E`, and premiumIndex always returns a list
whose delivery rows have "" funding (binance-reference §3.2, §4.2, §6.1).

Trading: orders answer with `newOrderRespType=RESULT` (ACK, the default, has no fill state);
positions come from positionRisk in one-way mode (positionSide BOTH).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from arbitrage.exchanges.accounts_wire import (
    flat_position, parse_coinm_account, parse_commission_rate, parse_income, positions_by_symbol,
)
from arbitrage.exchanges.binance_rest import (
    BinanceRestClient, call, dec, filters_by_type, get_for_symbol, grid_fields, parsing,
)
from arbitrage.exchanges.errors import UnknownSymbol
from arbitrage.exchanges.orders_wire import flag, parse_coinm_order, parse_coinm_trade, rows
from arbitrage.models import (
    COINM, CoinmAccount, Fill, FundingSettlement, Income, MarkPrice, Position, SymbolRules,
)

# userTrades defaults to 50 rows: an order with more fills would silently lose some
_TRADES_LIMIT = 1000


class CoinmClient(BinanceRestClient):
    """COIN-M `/dapi/v1` endpoints."""

    PREFIX = "/dapi/v1"
    DEPTH_HAS_TIME = True
    MARKET = COINM
    ORDER_RESP_TYPE = "RESULT"
    parse_order = staticmethod(parse_coinm_order)

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

    def perpetual_rules(self) -> list[SymbolRules]:
        """Every perpetual in exchangeInfo (contractType PERPETUAL), whatever its status."""
        path = "/dapi/v1/exchangeInfo"
        data = self.http.request("GET", path)
        with parsing("GET", path, data):
            return [parse_coinm_rules(e) for e in data["symbols"] if e["contractType"] == "PERPETUAL"]

    def premium_index_all(self) -> list[MarkPrice]:
        """premiumIndex of every symbol (delivery contracts have funding_rate None)."""
        path = "/dapi/v1/premiumIndex"
        data = self.http.request("GET", path)
        recv_ns = self._now_ns()
        with parsing("GET", path, data):
            return [parse_premium_row(row, recv_ns) for row in data]

    def funding_history(self, symbol: str, start_ms: int | None = None, end_ms: int | None = None,
                        limit: int = 1000) -> list[FundingSettlement]:
        """Past funding settlements of `symbol`, oldest first (reference §6.3; limit ≤ 1000)."""
        path = "/dapi/v1/fundingRate"
        params = {"symbol": symbol, "startTime": start_ms, "endTime": end_ms, "limit": limit}
        data = get_for_symbol(self.http, path, params)
        with parsing("GET", path, data):
            return [parse_funding_row(row) for row in data]

    @staticmethod
    def mark_stream(symbol: str) -> str:
        return f"{symbol.lower()}@markPrice@1s"

    # --- account (signed) ----------------------------------------------------------------------

    def account(self) -> CoinmAccount:
        """Margin assets from /account, positions from /positionRisk (two requests)."""
        path = "/dapi/v1/account"
        data = call(self.http, "GET", path, signed=True)
        risk_path = "/dapi/v1/positionRisk"
        risk = call(self.http, "GET", risk_path, signed=True)
        with parsing("GET", risk_path, risk):
            positions = positions_by_symbol(risk)
        with parsing("GET", path, data):
            return parse_coinm_account(data, positions)

    def position(self, symbol: str) -> Position:
        """`symbol`'s position; flat when positionRisk has no row for it."""
        path = "/dapi/v1/positionRisk"
        # positionRisk filters by pair or margin asset, not by symbol (reference §9.1)
        data = call(self.http, "GET", path, {"pair": symbol.split("_")[0]}, signed=True)
        with parsing("GET", path, data):
            mine = [row for row in rows(data) if row["symbol"] == symbol]
            return positions_by_symbol(mine).get(symbol) or flat_position(symbol)

    def dual_side_position(self) -> bool:
        """GET /dapi/v1/positionSide/dual: True in hedge mode; the bot needs one-way (False)."""
        path = "/dapi/v1/positionSide/dual"
        data = call(self.http, "GET", path, signed=True)
        with parsing("GET", path, data):
            return flag(data["dualSidePosition"])

    def fills(self, symbol: str, order_id: int) -> list[Fill]:
        """The executions of one order (the execution layer's name for user_trades)."""
        return self.user_trades(symbol, order_id)

    def user_trades(self, symbol: str, order_id: int) -> list[Fill]:
        path = "/dapi/v1/userTrades"
        data = call(self.http, "GET", path,
                    {"symbol": symbol, "orderId": order_id, "limit": _TRADES_LIMIT}, signed=True)
        with parsing("GET", path, data):
            return [parse_coinm_trade(row) for row in rows(data)]

    def trades_since(self, symbol: str, start_ms: int,
                     end_ms: int | None = None) -> list[Fill]:
        """Every execution on `symbol` since `start_ms`, whoever's order it was (a liquidation or
        ADL shows up here with an order id the bot never sent)."""
        path = "/dapi/v1/userTrades"
        data = call(self.http, "GET", path,
                    {"symbol": symbol, "startTime": start_ms, "endTime": end_ms,
                     "limit": _TRADES_LIMIT}, signed=True)
        with parsing("GET", path, data):
            return [parse_coinm_trade(row) for row in rows(data)]

    def commission_rate(self, symbol: str) -> tuple[Decimal, Decimal]:
        """(maker, taker) fee rates for `symbol`."""
        path = "/dapi/v1/commissionRate"
        data = call(self.http, "GET", path, {"symbol": symbol}, signed=True)
        with parsing("GET", path, data):
            return parse_commission_rate(data, symbol)

    def income(self, symbol: str, income_type: str | None = None, start_ms: int | None = None,
               limit: int = 1000) -> list[Income]:
        path = "/dapi/v1/income"
        params = {"symbol": symbol, "incomeType": income_type, "startTime": start_ms,
                  "limit": limit}   # None values are left out by the HTTP layer
        data = call(self.http, "GET", path, params, signed=True)
        with parsing("GET", path, data):
            return [parse_income(row) for row in rows(data)]


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


def parse_funding_row(row: dict[str, Any]) -> FundingSettlement:
    mark = row.get("markPrice")
    return FundingSettlement(symbol=row["symbol"], time_ms=int(row["fundingTime"]),
                             rate=dec(row["fundingRate"]), mark=dec(mark) if mark else None)
