"""Order wire format for spot and COIN-M: the parameters of `POST order`, and the order and fill
payloads (binance-reference §7, §8.1, §8.2) parsed into `OrderState` / `Fill`.

Pure functions: no I/O. A missing or malformed field raises KeyError/TypeError/ValueError, which
the clients turn into BadResponse quoting the payload (see `binance_rest.parsing`).
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from arbitrage.models import BUY, COINM, SELL, SPOT, Fill, OrderRequest, OrderState

_VWAP_DP = Decimal("0.00000001")
_ZERO = Decimal(0)
# dapi's documented rule; spot documents none, and such ids work there too (reference §15.16)
_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_PRICED_TYPES = ("LIMIT", "LIMIT_MAKER")
_SIDES = (BUY, SELL)


# --- numbers on the wire -----------------------------------------------------------------------

def wire_decimal(value: Decimal) -> str:
    """Plain positional text without trailing zeros: Decimal("0.00100000") -> "0.001",
    Decimal("1E+2") -> "100". Trailing zeros beyond an asset's precision are a -1111 on spot."""
    if not isinstance(value, Decimal):   # a float here would carry binary noise onto the wire
        raise TypeError(f"order amounts must be Decimal, got {type(value).__name__} {value!r}")
    if not value.is_finite() or value <= 0:
        raise ValueError(f"order amount must be a positive finite number, got {value}")
    return format(value.normalize(), "f")


def num(value: Any) -> Decimal:
    """Decimal from a wire string (or a JSON number via its shortest repr); finite only."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError(f"not a decimal: {value!r}")
    result = Decimal(value if isinstance(value, str) else str(value))
    if not result.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    return result


def whole(value: Any) -> int:
    """An integer id or time that may arrive as a JSON number or a numeric string."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"not an integer: {value!r}")
    return int(value)


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"not a boolean: {value!r}")
    return value


def rows(data: Any) -> list[dict[str, Any]]:
    """A JSON array of objects, or TypeError."""
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise TypeError(f"expected a list of objects, got {type(data).__name__}")
    return data


def side(value: Any) -> str:
    if value not in _SIDES:
        raise ValueError(f"unknown side {value!r}")
    return value


# --- POST order parameters ---------------------------------------------------------------------

def order_params(req: OrderRequest, market: str, resp_type: str) -> list[tuple[str, str]]:
    """The exact parameters of one order POST, in Binance's documented order; the HTTP layer
    appends timestamp, recvWindow and the signature. Raises ValueError before anything is sent
    when the request cannot be a valid order on `market`."""
    if req.market != market:
        raise ValueError(f"{req.client_order_id}: a {req.market} order sent to the {market} client")
    if req.side not in _SIDES:
        raise ValueError(f"{req.client_order_id}: side {req.side!r}")
    if not _CLIENT_ID.match(req.client_order_id):
        raise ValueError(f"client order id {req.client_order_id!r} must match {_CLIENT_ID.pattern}")
    if req.reduce_only and market != COINM:
        raise ValueError(f"{req.client_order_id}: reduceOnly exists on COIN-M only")
    priced = req.type in _PRICED_TYPES
    if priced != (req.price is not None):
        raise ValueError(f"{req.client_order_id}: {req.type} "
                         f"{'needs' if priced else 'takes no'} price")
    params = [("symbol", req.symbol), ("side", req.side), ("type", req.type)]
    if req.type == "LIMIT":   # mandatory for LIMIT; -1106 "not required" on MARKET / LIMIT_MAKER
        params.append(("timeInForce", req.time_in_force or "GTC"))
    params.append(("quantity", wire_decimal(req.quantity)))
    if req.price is not None:
        params.append(("price", wire_decimal(req.price)))
    if req.reduce_only:       # only when set: the default is false, and hedge mode refuses it
        params.append(("reduceOnly", "true"))
    params += [("newClientOrderId", req.client_order_id), ("newOrderRespType", resp_type)]
    return params


# --- spot --------------------------------------------------------------------------------------

def _spot_time(data: dict[str, Any]) -> int:
    # GET has updateTime; POST and DELETE answers carry only transactTime
    for key in ("updateTime", "transactTime", "workingTime", "time"):
        if key in data:
            return whole(data[key])
    raise KeyError("updateTime/transactTime")


def parse_spot_order(data: dict[str, Any]) -> OrderState:
    """A spot order object (POST FULL/RESULT, GET, DELETE, openOrders row)."""
    executed = num(data["executedQty"])
    cum_quote = num(data["cummulativeQuoteQty"])   # sic: Binance's spelling
    order_id = whole(data["orderId"])
    # a DELETE answer's clientOrderId names the cancel request; the order's own id is "orig..."
    client_id = data.get("origClientOrderId", data["clientOrderId"])
    order_side = side(data["side"])
    update_ms = _spot_time(data)
    fill_ms = whole(data["transactTime"]) if "transactTime" in data else update_ms
    fills = tuple(parse_spot_fill(f, data["symbol"], order_id, order_side, fill_ms)
                  for f in rows(data.get("fills", [])))
    return OrderState(
        market=SPOT, symbol=data["symbol"], order_id=order_id, client_order_id=client_id,
        side=order_side, type=data["type"], status=data["status"], orig_qty=num(data["origQty"]),
        executed_qty=executed, cum_quote=cum_quote,
        # the VWAP to 8 decimals (the quote precision); the exact flows stay in cum_quote/executed
        avg_price=(cum_quote / executed).quantize(_VWAP_DP) if executed > 0 else None,
        price=num(data["price"]), reduce_only=False, update_ms=update_ms, fills=fills)


def parse_spot_fill(row: dict[str, Any], symbol: str, order_id: int, order_side: str,
                    time_ms: int) -> Fill:
    """One entry of a FULL answer's `fills`: matched while the order was placed, so a taker fill."""
    price, qty = num(row["price"]), num(row["qty"])
    return Fill(
        market=SPOT, symbol=symbol, order_id=order_id, trade_id=whole(row["tradeId"]),
        side=order_side, price=price, qty=qty, quote_qty=price * qty,
        commission=num(row["commission"]), commission_asset=row["commissionAsset"],
        realized_pnl=_ZERO, time_ms=time_ms, maker=False)


def parse_spot_trade(row: dict[str, Any]) -> Fill:
    """One row of GET /api/v3/myTrades."""
    return Fill(
        market=SPOT, symbol=row["symbol"], order_id=whole(row["orderId"]),
        trade_id=whole(row["id"]), side=BUY if flag(row["isBuyer"]) else SELL,
        price=num(row["price"]), qty=num(row["qty"]), quote_qty=num(row["quoteQty"]),
        commission=num(row["commission"]), commission_asset=row["commissionAsset"],
        realized_pnl=_ZERO, time_ms=whole(row["time"]), maker=flag(row["isMaker"]))


# --- COIN-M ------------------------------------------------------------------------------------

def parse_coinm_order(data: dict[str, Any]) -> OrderState:
    """A COIN-M order object (POST RESULT, GET, DELETE, openOrders row)."""
    # GET has no cumQty; POST/DELETE carry both (equal). avgPrice/cumBase may be absent (§15.7).
    executed = num(data["executedQty"] if "executedQty" in data else data["cumQty"])
    avg = num(data["avgPrice"]) if "avgPrice" in data else None
    return OrderState(
        market=COINM, symbol=data["symbol"], order_id=whole(data["orderId"]),
        client_order_id=data["clientOrderId"], side=side(data["side"]), type=data["type"],
        status=data["status"], orig_qty=num(data["origQty"]), executed_qty=executed,
        cum_quote=num(data["cumBase"]) if "cumBase" in data else _ZERO,
        avg_price=avg if executed > 0 and avg else None,   # "0.0" until something fills
        price=num(data["price"]), reduce_only=flag(data.get("reduceOnly", False)),
        update_ms=whole(data["updateTime"]))


def parse_coinm_trade(row: dict[str, Any]) -> Fill:
    """One row of GET /dapi/v1/userTrades: qty in contracts, baseQty the BTC value."""
    row_side = side(row["side"])
    if "buyer" in row and flag(row["buyer"]) != (row_side == BUY):
        raise ValueError(f"side {row_side} disagrees with buyer={row['buyer']}")
    return Fill(
        market=COINM, symbol=row["symbol"], order_id=whole(row["orderId"]),
        trade_id=whole(row["id"]), side=row_side, price=num(row["price"]), qty=num(row["qty"]),
        quote_qty=num(row["baseQty"]), commission=num(row["commission"]),
        commission_asset=row["commissionAsset"], realized_pnl=num(row["realizedPnl"]),
        time_ms=whole(row["time"]), maker=flag(row["maker"]))
