"""User-data events (binance-ws-api.md §6) parsed into domain types: spot `executionReport`,
`outboundAccountPosition`, `balanceUpdate`; COIN-M `ORDER_TRADE_UPDATE`, `ACCOUNT_UPDATE`.

Pure functions. `parse_spot_event` / `parse_coinm_event` return the domain events of one payload
(an ACCOUNT_UPDATE gives a BalanceEvent and one PositionEvent per position), [] for an event the
bot does not use; a malformed known event raises KeyError/TypeError/ValueError.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from arbitrage.exchanges.orders_wire import flag, num, rows, side, whole
from arbitrage.models import (
    COINM, SPOT, BalanceEvent, ExecutionEvent, PositionEvent,
)

UserEvent = ExecutionEvent | BalanceEvent | PositionEvent
_ZERO = Decimal(0)


def parse_spot_event(event: dict[str, Any], recv_ns: int) -> list[UserEvent]:
    kind = event.get("e")
    if kind == "executionReport":
        return [parse_execution_report(event, recv_ns)]
    if kind == "outboundAccountPosition":
        return [BalanceEvent(SPOT, "POSITION", {b["a"]: (num(b["f"]), num(b["l"]))
                                                for b in rows(event["B"])},
                             whole(event["E"]), recv_ns)]
    if kind == "balanceUpdate":
        return [BalanceEvent(SPOT, "DELTA", {event["a"]: (num(event["d"]), _ZERO)},
                             whole(event["T"]), recv_ns)]
    return []


def parse_execution_report(e: dict[str, Any], recv_ns: int) -> ExecutionEvent:
    trade_id = whole(e["t"])
    # on a cancel `c` is the cancel request's id and `C` the order's own (§6.1)
    client_id = e["C"] if e.get("C") else e["c"]
    return ExecutionEvent(
        market=SPOT, symbol=e["s"], client_order_id=client_id, order_id=whole(e["i"]),
        side=side(e["S"]), execution_type=e["x"], status=e["X"], last_qty=num(e["l"]),
        last_price=num(e["L"]), cum_qty=num(e["z"]), commission=num(e["n"]),
        commission_asset=e.get("N"), trade_id=trade_id if trade_id >= 0 else None,
        maker=flag(e["m"]), realized_pnl=_ZERO, exchange_time=whole(e["T"]), recv_time=recv_ns)


def parse_coinm_event(event: dict[str, Any], recv_ns: int) -> list[UserEvent]:
    kind = event.get("e")
    if kind == "ORDER_TRADE_UPDATE":
        return [parse_order_trade_update(event, recv_ns)]
    if kind == "ACCOUNT_UPDATE":
        return parse_account_update(event, recv_ns)
    return []


def parse_order_trade_update(event: dict[str, Any], recv_ns: int) -> ExecutionEvent:
    o = event["o"]
    trade_id = whole(o["t"])
    filled = num(o["l"]) > 0
    return ExecutionEvent(
        market=COINM, symbol=o["s"], client_order_id=o["c"], order_id=whole(o["i"]),
        side=side(o["S"]), execution_type=o["x"], status=o["X"], last_qty=num(o["l"]),
        last_price=num(o["L"]), cum_qty=num(o["z"]),
        commission=num(o.get("n", "0")),          # left out when there is none (§6.2)
        commission_asset=o.get("N"), trade_id=trade_id if filled else None,
        maker=flag(o["m"]), realized_pnl=num(o.get("rp", "0")),
        exchange_time=whole(o["T"]), recv_time=recv_ns)


def parse_account_update(event: dict[str, Any], recv_ns: int) -> list[UserEvent]:
    a, tx_ms = event["a"], whole(event["T"])
    reason = a["m"]
    out: list[UserEvent] = [BalanceEvent(COINM, reason, {b["a"]: (num(b["wb"]), num(b["cw"]))
                                                         for b in rows(a["B"])}, tx_ms, recv_ns)]
    out += [PositionEvent(p["s"], reason, num(p["pa"]), num(p["ep"]), tx_ms, recv_ns)
            for p in rows(a.get("P", []))]
    return out
