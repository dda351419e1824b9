"""Binance spot REST client (`/api/v3`)."""
from __future__ import annotations

from typing import Any

from arbitrage.exchanges.accounts_wire import parse_spot_account
from arbitrage.exchanges.binance_rest import (
    BinanceRestClient, call, dec, post_order, filters_by_type, get_for_symbol, grid_fields, parsing,
)
from arbitrage.exchanges.orders_wire import parse_spot_order, parse_spot_trade, rows
from arbitrage.exchanges.spot_amend_wire import (Replaced, amend_params, cancel_replace_params,
                                                 parse_amended, parse_replaced)
from arbitrage.exchanges.errors import UnreadableOrderAnswer
from arbitrage.models import SPOT, Fill, OrderRequest, OrderState, SpotAccount, SymbolRules

# myTrades returns 500 rows by default; one order never comes near 1000 fills at our sizes
_TRADES_LIMIT = 1000


class SpotClient(BinanceRestClient):
    """Spot `/api/v3` endpoints."""

    PREFIX = "/api/v3"
    MARKET = SPOT
    ORDER_RESP_TYPE = "FULL"      # the answer carries the fills: no second request for a taker leg
    parse_order = staticmethod(parse_spot_order)

    def exchange_info(self, symbol: str) -> SymbolRules:
        path = "/api/v3/exchangeInfo"
        data = get_for_symbol(self.http, path, {"symbol": symbol})
        return self._rules_from(path, data, symbol, parse_spot_rules)

    def all_rules(self) -> list[SymbolRules]:
        """Every symbol in exchangeInfo (weight 20), whatever its status."""
        path = "/api/v3/exchangeInfo"
        data = self.http.request("GET", path)
        with parsing("GET", path, data):
            return [parse_spot_rules(e) for e in data["symbols"]]

    def account(self) -> SpotAccount:
        path = "/api/v3/account"
        data = call(self.http, "GET", path, signed=True)
        with parsing("GET", path, data):
            return parse_spot_account(data)

    def amend_keep_priority(self, symbol: str, client_order_id: str, new_qty) -> OrderState:
        """`PUT /api/v3/order/amend/keepPriority`: lower the quantity, keeping the queue place
        and the client id. Rejected when refused (e.g. -2038 a raise, -2011 no longer open)."""
        path = "/api/v3/order/amend/keepPriority"
        data = call(self.http, "PUT", path, amend_params(symbol, client_order_id, new_qty),
                    signed=True)
        with parsing("PUT", path, data):
            return parse_amended(data)

    def cancel_replace(self, cancel_client_id: str, req: OrderRequest) -> Replaced:
        """`POST /api/v3/order/cancelReplace` (STOP_ON_FAILURE): cancel one order, place `req`.
        A -2021/-2022 refusal (one leg or both failed) and an unknown outcome are raised: the
        caller reads both orders by client id (never sends it again)."""
        path = "/api/v3/order/cancelReplace"
        data = post_order(self.http, path,
                          cancel_replace_params(cancel_client_id, req, self.ORDER_RESP_TYPE))
        with parsing("POST", path, data, UnreadableOrderAnswer):
            return parse_replaced(data)

    def fills(self, symbol: str, order_id: int) -> list[Fill]:
        """The executions of one order (the execution layer's name for my_trades)."""
        return self.my_trades(symbol, order_id)

    def trades_since(self, symbol: str, start_ms: int,
                     end_ms: int | None = None) -> list[Fill]:
        """Every execution on `symbol` since `start_ms`, whoever placed the order (the sweep
        finds the ones no pair booked). Binance allows a 24 h window from startTime."""
        path = "/api/v3/myTrades"
        data = call(self.http, "GET", path,
                    {"symbol": symbol, "startTime": start_ms, "endTime": end_ms,
                     "limit": _TRADES_LIMIT}, signed=True)
        with parsing("GET", path, data):
            return [parse_spot_trade(row) for row in rows(data)]

    def my_trades(self, symbol: str, order_id: int) -> list[Fill]:
        """Every fill of one order (maker fills of a resting order included)."""
        path = "/api/v3/myTrades"
        data = call(self.http, "GET", path,
                    {"symbol": symbol, "orderId": order_id, "limit": _TRADES_LIMIT}, signed=True)
        with parsing("GET", path, data):
            return [parse_spot_trade(row) for row in rows(data)]


def parse_spot_rules(entry: dict[str, Any]) -> SymbolRules:
    filters = filters_by_type(entry)
    # NOTIONAL replaced the legacy MIN_NOTIONAL; a symbol carries one or the other.
    notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL")
    return SymbolRules(
        symbol=entry["symbol"], market=SPOT, status=entry["status"],
        base_asset=entry["baseAsset"], quote_asset=entry["quoteAsset"],
        min_notional=dec(notional["minNotional"] if notional else 0),
        **grid_fields(filters))
