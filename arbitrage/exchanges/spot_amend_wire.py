"""Spot order changes on the wire, shared by REST and the WebSocket API (binance-ws-api.md §4.4,
§4.5): cancel-replace (a new price: the order goes to the back of the new level) and the
keep-priority amend (a lower quantity: the order keeps its place).

The amend answer names fields differently from every other order object (`qty`, and
`cumulativeQuoteQty` spelled correctly), so it has its own parser that gives the same
`OrderState` as a query would. An amend keeps the order's client id (`newClientOrderId` = the
current one, which Binance allows): the bot follows its orders by client id.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from arbitrage.exchanges.orders_wire import num, order_params, parse_spot_order, side, whole, wire_decimal
from arbitrage.models import SPOT, OrderRequest, OrderState

CANCEL_REPLACE_MODE = "STOP_ON_FAILURE"   # an old order that could not be cancelled (it filled)
                                          # must not be joined by a new one: that could overfill


@dataclass(frozen=True, slots=True)
class Replaced:
    canceled: OrderState        # the old order, final (its executed quantity as cancelled)
    placed: OrderState          # the new one


def amend_params(symbol: str, client_order_id: str, new_qty) -> list[tuple[str, str]]:
    return [("symbol", symbol), ("origClientOrderId", client_order_id),
            ("newClientOrderId", client_order_id), ("newQty", wire_decimal(new_qty))]


def cancel_replace_params(cancel_client_id: str, req: OrderRequest,
                          resp_type: str) -> list[tuple[str, str]]:
    params = order_params(req, SPOT, resp_type)
    return ([("symbol", req.symbol), ("cancelReplaceMode", CANCEL_REPLACE_MODE),
             ("cancelOrigClientOrderId", cancel_client_id)]
            + [p for p in params if p[0] != "symbol"])


def parse_amended(data: dict[str, Any]) -> OrderState:
    """The `amendedOrder` of an amend answer, as an order state."""
    o = data["amendedOrder"]
    executed, cum_quote = num(o["executedQty"]), num(o["cumulativeQuoteQty"])
    return OrderState(
        market=SPOT, symbol=o["symbol"], order_id=whole(o["orderId"]),
        client_order_id=o["clientOrderId"], side=side(o["side"]), type=o["type"],
        status=o["status"], orig_qty=num(o["qty"]), executed_qty=executed, cum_quote=cum_quote,
        avg_price=(cum_quote / executed).quantize(num("0.00000001")) if executed > 0 else None,
        price=num(o["price"]), reduce_only=False, update_ms=whole(data["transactTime"]), fills=())


def parse_replaced(data: dict[str, Any]) -> Replaced:
    if data.get("cancelResult") != "SUCCESS" or data.get("newOrderResult") != "SUCCESS":
        raise ValueError(f"cancel-replace not done: {data.get('cancelResult')} / "
                         f"{data.get('newOrderResult')}")
    return Replaced(parse_spot_order(data["cancelResponse"]),
                    parse_spot_order(data["newOrderResponse"]))
