"""Spot WebSocket API client (`/ws-api/v3`, binance-ws-api.md §4): orders, account, session."""
from __future__ import annotations

from typing import Any

from arbitrage.exchanges.accounts_wire import parse_spot_account
from arbitrage.exchanges.binance_rest import parsing
from arbitrage.exchanges.orders_wire import parse_spot_order
from arbitrage.exchanges.ws_api_orders import WsApiOrders
from arbitrage.models import SPOT, SpotAccount

PATH = "/ws-api/v3"
TIME_PATH = "/api/v3/time"


class SpotWsApi(WsApiOrders):
    MARKET = SPOT
    ORDER_RESP_TYPE = "FULL"      # as REST: a taker leg's fills come with the answer
    parse_order = staticmethod(parse_spot_order)

    def account(self) -> SpotAccount:
        """`account.status` (weight 20): balances, commission rates, canTrade."""
        data = self.conn.call("account.status")
        with parsing("WS", "account.status", data):
            return parse_spot_account(data)

    def session_status(self) -> dict[str, Any]:
        """`session.status` (unsigned): connectedSince, userDataStream, serverTime, ..."""
        data = self.conn.call("session.status", signed=False)
        with parsing("WS", "session.status", data):
            if not isinstance(data, dict) or "serverTime" not in data:
                raise KeyError("serverTime")
            return data

    def subscribe_user_data(self) -> int:
        """`userDataStream.subscribe.signature`: events of this account on this connection, as
        `{"subscriptionId": N, "event": {...}}`. Returns N."""
        data = self.conn.call("userDataStream.subscribe.signature")
        with parsing("WS", "userDataStream.subscribe.signature", data):
            return int(data["subscriptionId"])
