"""The user-data events Binance sends for a change on the account, as pure functions of the
order, its trades and the account (binance-ws-api.md §6; reference §12).

`order_events` turns one desk notification into the ordered list of order events (a placement
that takes liquidity is NEW, then one TRADE per fill, then EXPIRED for a leftover that does not
rest); the account event that follows a fill is built separately by the caller.
"""
from __future__ import annotations

from decimal import Decimal

from arbitrage.sim.orders import SimOrder, SimTrade
from arbitrage.sim.symbols import SimSymbol

ZERO = Decimal(0)
Z8 = "0.00000000"


def d8(value: Decimal) -> str:
    return f"{value:.8f}"


# -- steps: (execution type, status after it, the trade or None, cumulative qty, quote) ------
def order_steps(what: str, order: SimOrder, trades: list[SimTrade]) -> list[tuple]:
    done_qty = order.executed - sum((t.qty for t in trades), ZERO)
    done_quote = order.cum_quote - sum((t.quote_qty for t in trades), ZERO)
    steps: list[tuple] = []
    if what in ("placed", "forced"):
        steps.append(("NEW", "NEW", None, ZERO, ZERO))
    if what in ("canceled", "expired", "amended"):
        kind = {"canceled": "CANCELED", "expired": "EXPIRED", "amended": "AMENDED"}[what]
        return [(kind, order.status, None, order.executed, order.cum_quote)]
    for trade in trades:
        done_qty += trade.qty
        done_quote += trade.quote_qty
        status = "FILLED" if done_qty >= order.orig_qty else "PARTIALLY_FILLED"
        steps.append(("TRADE", status, trade, done_qty, done_quote))
    if order.status == "EXPIRED":
        steps.append(("EXPIRED", "EXPIRED", None, order.executed, order.cum_quote))
    return steps


# -- spot -------------------------------------------------------------------------------------
def execution_report(order: SimOrder, step: tuple, now_ms: int, execution_id: int,
                     cancel_id: str | None = None) -> dict:
    x, status, trade, cum_qty, cum_quote = step
    if x == "AMENDED":
        x = "REPLACED"
    canceled = x == "CANCELED"
    resting = order.type != "MARKET" and order.time_in_force not in ("IOC", "FOK")
    event = {"e": "executionReport", "E": now_ms, "s": order.symbol,
             "c": cancel_id if canceled and cancel_id else order.client_order_id,
             "S": order.side, "o": order.type, "f": order.time_in_force, "q": d8(order.orig_qty),
             "p": d8(order.price), "P": Z8, "F": Z8, "g": -1,
             "C": order.client_order_id if canceled else "", "x": x, "X": status, "r": "NONE",
             "i": order.order_id, "l": d8(trade.qty) if trade else Z8, "z": d8(cum_qty),
             "L": d8(trade.price) if trade else Z8,
             "n": d8(trade.commission) if trade else "0", "N": trade.commission_asset if trade else None,
             "T": trade.time_ms if trade else (order.update_ms if x != "NEW" else order.time_ms),
             "t": trade.trade_id if trade else -1, "I": execution_id,
             "w": resting and status in ("NEW", "PARTIALLY_FILLED"),
             "m": bool(trade.maker) if trade else False, "M": bool(trade) and trade.maker,
             "O": order.time_ms, "Z": d8(cum_quote), "Y": d8(trade.quote_qty) if trade else Z8,
             "Q": Z8, "V": "NONE"}
    if resting:
        event["W"] = order.time_ms
    if x == "EXPIRED":
        event["eR"] = ("UNFILLED_FOK_ORDER_EXPIRED" if order.time_in_force == "FOK"
                       else "INSUFFICIENT_LIQUIDITY" if order.type == "MARKET"
                       else "UNFILLED_IOC_QUANTITY_EXPIRED")
    return event


def account_position(rows: list[tuple[str, Decimal, Decimal]], assets: tuple[str, ...], now_ms: int,
                     updated_ms: int) -> dict:
    return {"e": "outboundAccountPosition", "E": now_ms, "u": updated_ms,
            "B": [{"a": a, "f": d8(free), "l": d8(locked)} for a, free, locked in rows if a in assets]}


# -- COIN-M -----------------------------------------------------------------------------------
def _price(value: Decimal, spec: SimSymbol) -> str:
    return f"{value:.{spec.price_decimals}f}"


def _qty(value: Decimal, spec: SimSymbol) -> str:
    return format(value.quantize(spec.step_size), "f")


def _average(order: SimOrder, spec: SimSymbol, upto: SimTrade | None) -> str:
    """Harmonic mean of the fills up to `upto` (contracts·S / Σ contracts·S/price), as avgPrice."""
    trades = [] if upto is None else order.trades[:order.trades.index(upto) + 1]
    if not trades:
        return _price(ZERO, spec)
    size = Decimal(spec.contract_size)
    qty = sum((t.qty for t in trades), ZERO)
    avg = (qty * size / sum((t.qty * size / t.price for t in trades), ZERO)).quantize(Decimal("0.00000001"))
    return _price(avg, spec) if avg == avg.quantize(spec.tick_size) else format(avg.normalize(), "f")


def order_trade_update(order: SimOrder, spec: SimSymbol, step: tuple, now_ms: int, alias: str) -> dict:
    x, status, trade, cum_qty, _ = step
    kind = order.type
    if order.client_order_id.startswith("autoclose-"):
        kind = "LIQUIDATION"
        x = "CALCULATED" if x == "TRADE" else x     # the liquidation engine's execution
    if x == "AMENDED":
        x = "AMENDMENT"
    last = order.trades[-1] if x in ("CANCELED", "EXPIRED", "AMENDMENT") and order.trades else None
    o = {"s": order.symbol, "c": order.client_order_id, "S": order.side, "o": kind,
         "f": order.time_in_force, "q": _qty(order.orig_qty, spec),
         "p": "0" if order.type == "MARKET" else _price(order.price, spec),
         "ap": _average(order, spec, trade or last), "sp": "0", "x": x, "X": status,
         "i": order.order_id, "l": _qty(trade.qty if trade else ZERO, spec), "z": _qty(cum_qty, spec),
         "L": _price(trade.price, spec) if trade else "0", "ma": spec.base_asset}
    if trade is not None and trade.commission:     # left out when there is no commission
        o["N"], o["n"] = trade.commission_asset, d8(trade.commission)
    o.update({"T": trade.time_ms if trade else order.update_ms, "t": trade.trade_id if trade else 0,
              "rp": d8(trade.realized_pnl) if trade else Z8, "b": "0", "a": "0",
              "m": bool(trade.maker) if trade else False, "R": order.reduce_only,
              "wt": "CONTRACT_PRICE", "ot": kind, "ps": "BOTH", "cp": False, "pP": False,
              "V": "NONE", "pm": "NONE"})
    return {"e": "ORDER_TRADE_UPDATE", "E": now_ms, "T": trade.time_ms if trade else now_ms, "i": alias,
            "o": o}


def account_update(reason: str, now_ms: int, alias: str, balances: list[tuple[str, Decimal, Decimal]],
                   positions: list[dict], tx_ms: int) -> dict:
    """`balances`: (asset, wallet balance, balance change excluding PnL and commission)."""
    return {"e": "ACCOUNT_UPDATE", "E": now_ms, "T": tx_ms, "i": alias,
            "a": {"m": reason,
                  "B": [{"a": a, "wb": d8(wb), "cw": d8(wb), "bc": format(bc, "f") if bc else "0"}
                        for a, wb, bc in balances],
                  "P": positions}}


def position_row(spec: SimSymbol, amount: Decimal, entry: Decimal, realized: Decimal,
                 unrealized: Decimal) -> dict:
    ep = "0.0" if entry == 0 else d8(entry)
    return {"s": spec.symbol, "pa": _qty(amount, spec), "ep": ep, "bep": ep, "cr": d8(realized),
            "up": d8(unrealized), "mt": "cross", "iw": "0", "ps": "BOTH"}


def listen_key_expired(key: str, now_ms: int) -> dict:
    return {"e": "listenKeyExpired", "E": now_ms, "listenKey": key}
