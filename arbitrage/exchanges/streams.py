"""Parse one raw market-stream message (spot or COIN-M) into a domain event.

This runs on the WebSocket threads for every message, so it stays lean: a depthUpdate (nearly every
message) is decoded by msgspec straight into float levels (depth_wire.py); the rest takes one
`orjson.loads` (about half the time of `json.loads` on these messages, bench/), direct key access,
no helper calls per field, and no objects beyond the result. Shapes follow binance-reference §1.2 (combined
envelope), §5.1/§5.3 (depthUpdate), §5.6 (bookTicker) and §6.2 (markPriceUpdate).

A message that is not valid JSON or lacks a field we need raises `StreamParseError` (one type, with
the first bytes of the message) so the caller can log it once and carry on. Unknown extra fields are
tolerated: Binance adds fields over time (e.g. `st` on COIN-M depth).
"""
from __future__ import annotations

import logging

import orjson

from arbitrage.exchanges.depth_wire import decode_depth
from arbitrage.models import BookTicker, DepthDiff, DepthSnapshot, Level, MarkPrice

log = logging.getLogger("arbitrage.streams")

_HEAD = 120  # bytes of a bad message quoted in the error: enough to recognise it, short for logs


class StreamParseError(ValueError):
    """A stream message we could not understand (bad JSON or a wrong shape)."""


def _head(raw: str | bytes) -> str:
    if isinstance(raw, (bytes, bytearray)):
        return bytes(raw[:_HEAD]).decode("utf-8", errors="replace")
    return raw[:_HEAD]


def _levels(rows: list) -> list[Level]:
    # float() of Binance's decimal strings: the book and the frontier work in floats; every
    # number that reaches an order is re-derived in Decimal from the exchange's filters
    return [(float(p), float(q)) for p, q in rows]


def _int(value: object) -> int:
    # bool is an int subclass; a bool id or time is a wrong shape, not a number
    if type(value) is not int:
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _str(value: object) -> str:
    if type(value) is not str:
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _depth(d: dict, recv_ns: int) -> DepthDiff:
    symbol, first, final, pu, e_ms = d["s"], d["U"], d["u"], d.get("pu"), d["E"]
    # the ids drive the sequencing rules: anything but an int (a bool, a string) is a wrong shape
    if (type(symbol) is not str or type(first) is not int or type(final) is not int
            or type(e_ms) is not int or (pu is not None and type(pu) is not int)):
        raise TypeError(f"depthUpdate field of the wrong type: s={symbol!r} U={first!r} "
                        f"u={final!r} pu={pu!r} E={e_ms!r}")
    return DepthDiff(symbol, first, final, pu, _levels(d["b"]), _levels(d["a"]), e_ms, recv_ns)


def _ticker(d: dict, recv_ns: int) -> BookTicker:
    symbol, update_id, e_ms = d["s"], d["u"], d.get("E")   # spot bookTicker carries no `E`
    if (type(symbol) is not str or type(update_id) is not int
            or (e_ms is not None and type(e_ms) is not int)):
        raise TypeError(f"bookTicker field of the wrong type: s={symbol!r} u={update_id!r} E={e_ms!r}")
    bid, bid_qty, ask, ask_qty = d["b"], d["B"], d["a"], d["A"]
    if type(bid) is not str or type(bid_qty) is not str or type(ask) is not str or type(ask_qty) is not str:
        raise TypeError(f"bookTicker price/qty not strings: {bid!r} {bid_qty!r} {ask!r} {ask_qty!r}")
    return BookTicker(symbol, update_id, float(bid), float(bid_qty), float(ask), float(ask_qty),
                      e_ms, recv_ns)


def _mark(d: dict, recv_ns: int) -> MarkPrice:
    index = d.get("i")
    rate = _str(d["r"])  # "" on delivery contracts
    return MarkPrice(
        symbol=_str(d["s"]),
        mark=float(_str(d["p"])),
        index=float(index) if index else None,
        funding_rate=float(rate) if rate else None,
        next_funding_ms=_int(d["T"]),
        event_ms=_int(d["E"]),
        recv_ns=recv_ns,
    )


def parse_message(raw: str | bytes, recv_ns: int) -> DepthDiff | MarkPrice | BookTicker | None:
    """One raw stream message -> a domain event, or None for messages the bot does not use
    (trades, subscription replies, partial-depth snapshots, server notices)."""
    diff = decode_depth(raw, recv_ns)      # nearly every message: decoded in C (depth_wire.py)
    if diff is not None:
        return diff
    try:
        msg = orjson.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:  # orjson.JSONDecodeError is a ValueError
        raise StreamParseError(f"not JSON ({exc}): {_head(raw)!r}") from None
    try:
        data = msg["data"] if "stream" in msg and "data" in msg else msg
        kind = data.get("e")
        if kind == "depthUpdate":
            return _depth(data, recv_ns)
        if kind == "bookTicker" or (kind is None and "u" in data and "B" in data):
            return _ticker(data, recv_ns)
        if kind == "markPriceUpdate":
            return _mark(data, recv_ns)
        if kind is None and "code" in data and "msg" in data:
            # a control-request error reply ({"code":2,"msg":"Invalid request..."}): rare, worth a line
            log.warning("stream error reply: %s", _head(raw))
        return None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StreamParseError(f"bad shape ({type(exc).__name__}: {exc}): {_head(raw)!r}") from None


def _price(level: tuple[float, float]) -> float:
    return level[0]


def parse_snapshot(body: dict, symbol: str, recv_ns: int) -> DepthSnapshot:
    """A REST depth body (spot §4.1 or COIN-M §4.2) -> DepthSnapshot. Spot bodies name no symbol,
    so the caller passes the one it asked for. Raises StreamParseError on a wrong shape."""
    try:
        e_ms = body.get("E")
        bids, asks = _levels(body["bids"]), _levels(body["asks"])
        # best first is the contract; Binance sends it so, and timsort checks that in one pass
        bids.sort(key=_price, reverse=True)
        asks.sort(key=_price)
        return DepthSnapshot(
            symbol=symbol,
            last_update_id=_int(body["lastUpdateId"]),
            bids=bids,
            asks=asks,
            event_ms=None if e_ms is None else _int(e_ms),
            recv_ns=recv_ns,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StreamParseError(f"bad depth snapshot ({type(exc).__name__}: {exc}): "
                               f"{str(body)[:_HEAD]!r}") from None
