"""COIN-M WebSocket API client (`/ws-dapi/v1`, binance-ws-api.md §5): orders, account, positions.
The COIN-M WS API has no open-orders method (REST `GET /dapi/v1/openOrders`)."""
from __future__ import annotations

from arbitrage.exchanges.accounts_wire import (
    flat_position, parse_coinm_account, positions_by_symbol,
)
from arbitrage.exchanges.binance_rest import parsing
from arbitrage.exchanges.orders_wire import flag, parse_coinm_order, rows
from arbitrage.exchanges.ws_api_orders import WsApiOrders
from arbitrage.models import COINM, CoinmAccount, Position

PATH = "/ws-dapi/v1"
TIME_PATH = "/dapi/v1/time"


class CoinmWsApi(WsApiOrders):
    MARKET = COINM
    ORDER_RESP_TYPE = "RESULT"
    parse_order = staticmethod(parse_coinm_order)

    def positions(self) -> dict[str, Position]:
        """`account.position`: one position per symbol (one-way mode)."""
        data = self.conn.call("account.position")
        with parsing("WS", "account.position", data):
            return positions_by_symbol(rows(data))

    def position(self, symbol: str) -> Position:
        return self.positions().get(symbol) or flat_position(symbol)

    def account(self) -> CoinmAccount:
        """`account.status` assets with `account.position` positions (two requests)."""
        positions = self.positions()
        data = self.conn.call("account.status")
        with parsing("WS", "account.status", data):
            return parse_coinm_account(data, positions)

    def can_trade(self) -> bool:
        """`account.status` `canTrade`: the key may trade COIN-M futures."""
        data = self.conn.call("account.status")
        with parsing("WS", "account.status", data):
            return flag(data["canTrade"])
