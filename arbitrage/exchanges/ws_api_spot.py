"""Spot WebSocket API client (`/ws-api/v3`, binance-ws-api.md §4): orders, account, session."""
from __future__ import annotations

from typing import Any

from arbitrage.exchanges.accounts_wire import parse_spot_account
from arbitrage.exchanges.binance_rest import parsing
from arbitrage.exchanges.errors import UnreadableOrderAnswer
from arbitrage.exchanges.orders_wire import parse_spot_order
from arbitrage.exchanges.spot_amend_wire import (Replaced, amend_params, cancel_replace_params,
                                                 parse_amended, parse_replaced)
from arbitrage.exchanges.ws_api_orders import WsApiOrders
from arbitrage.models import SPOT, OrderRequest, OrderState, SpotAccount

PATH = "/ws-api/v3"
TIME_PATH = "/api/v3/time"


class SpotWsApi(WsApiOrders):
    MARKET = SPOT
    ORDER_RESP_TYPE = "FULL"      # as REST: a taker leg's fills come with the answer
    parse_order = staticmethod(parse_spot_order)

    def amend_keep_priority(self, symbol: str, client_order_id: str, new_qty) -> OrderState:
        """`order.amend.keepPriority` (§4.5): lower the quantity, keeping the place and the id."""
        data = self.conn.call("order.amend.keepPriority",
                              dict(amend_params(symbol, client_order_id, new_qty)))
        with parsing("WS", "order.amend.keepPriority", data):
            return parse_amended(data)

    def cancel_replace(self, cancel_client_id: str, req: OrderRequest) -> Replaced:
        """`order.cancelReplace` (§4.4, STOP_ON_FAILURE); an unanswered one is UnknownOutcome."""
        data = self.conn.call("order.cancelReplace",
                              dict(cancel_replace_params(cancel_client_id, req,
                                                         self.ORDER_RESP_TYPE)))
        with parsing("WS", "order.cancelReplace", data, UnreadableOrderAnswer):
            return parse_replaced(data)

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
