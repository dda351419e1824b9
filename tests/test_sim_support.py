"""Client-side helpers for the local-exchange tests: read a stream, keep a book per the docs.

The book procedures are written out here with plain dicts (not the bot's own book code) so the
exchange is checked against Binance's documented client algorithm itself (reference §5.2, §5.4).
"""
from __future__ import annotations

import json
import time
from typing import Callable

import pytest
import requests
from websockets.sync.client import ClientConnection, connect

TIMEOUT = 20.0


def ws_connect(url: str) -> ClientConnection:
    return connect(url, open_timeout=TIMEOUT, close_timeout=2, max_size=None)


def read(ws: ClientConnection, pred: Callable[[dict], bool] = lambda m: True, count: int = 1,
         timeout: float = TIMEOUT) -> list[dict]:
    """The next `count` messages for which pred holds (others are skipped); fails on timeout."""
    out: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(out) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            pytest.fail(f"timed out: {len(out)}/{count} messages after {timeout:.0f} s")
        try:
            msg = json.loads(ws.recv(timeout=left))
        except TimeoutError:
            continue
        if pred(msg):
            out.append(msg)
    return out


def data_of(stream: str) -> Callable[[dict], bool]:
    return lambda m: m.get("stream") == stream


def depth_snapshot(rest: str, market: str, symbol: str, limit: int) -> dict:
    path = "/api/v3/depth" if market == "spot" else "/dapi/v1/depth"
    resp = requests.get(rest + path, params={"symbol": symbol, "limit": limit}, timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text
    return resp.json()


class LocalBook:
    """A client's book: dict levels keyed by the wire price string, plus its update id."""

    def __init__(self, snapshot: dict) -> None:
        self.bids = {p: q for p, q in snapshot["bids"]}
        self.asks = {p: q for p, q in snapshot["asks"]}
        self.update_id = snapshot["lastUpdateId"]
        self.prev_u: int | None = None

    def apply(self, event: dict) -> None:
        for side, changes in ((self.bids, event["b"]), (self.asks, event["a"])):
            for price, qty in changes:
                if float(qty) == 0:
                    side.pop(price, None)
                else:
                    side[price] = qty
        self.update_id = event["u"]
        self.prev_u = event["u"]

    def top(self) -> tuple[str, str, str, str]:
        bid = max(self.bids, key=float)
        ask = min(self.asks, key=float)
        return bid, self.bids[bid], ask, self.asks[ask]


def sync_spot(buffered: list[dict], snapshot: dict) -> LocalBook | None:
    """§5.2 steps 3-6 on buffered events. None = the snapshot is too old: fetch again."""
    last = snapshot["lastUpdateId"]
    if last < buffered[0]["U"]:
        return None
    book = LocalBook(snapshot)
    pending = [e for e in buffered if e["u"] > last]
    assert pending, "read until an event newer than the snapshot first"
    assert pending[0]["U"] <= last + 1 <= pending[0]["u"], (pending[0], last)
    for event in pending:
        continue_spot(book, event)
    return book


def continue_spot(book: LocalBook, event: dict) -> None:
    if event["u"] <= book.update_id:
        return
    assert event["U"] == book.update_id + 1, f"gap: U={event['U']} after u={book.update_id}"
    book.apply(event)


def sync_coinm(buffered: list[dict], snapshot: dict) -> LocalBook | None:
    """§5.4: drop u < lastUpdateId; the first must hold lastUpdateId; then `pu` chains.
    None = no buffered event holds the snapshot's id (too old): fetch again."""
    last = snapshot["lastUpdateId"]
    pending = [e for e in buffered if e["u"] >= last]
    assert pending, "read until an event at or after the snapshot first"
    if not pending[0]["U"] <= last <= pending[0]["u"]:
        return None
    book = LocalBook(snapshot)
    book.apply(pending[0])
    for event in pending[1:]:
        continue_coinm(book, event)
    return book


def continue_coinm(book: LocalBook, event: dict) -> None:
    assert event["pu"] == book.prev_u, f"pu={event['pu']} but previous u={book.prev_u}"
    book.apply(event)


def sync_from_stream(ws: ClientConnection, rest: str, symbol: str, stream: str,
                     limit: int = 1000) -> LocalBook:
    """The whole documented procedure: buffer, snapshot (again if too old), apply."""
    spot = not symbol.endswith("_PERP")
    events = [m["data"] for m in read(ws, data_of(stream), count=2)]
    for _ in range(10):
        snap = depth_snapshot(rest, "spot" if spot else "coinm", symbol, limit)
        need = snap["lastUpdateId"] + (1 if spot else 0)
        while events[-1]["u"] < need:
            events += [m["data"] for m in read(ws, data_of(stream))]
        book = (sync_spot if spot else sync_coinm)(events, snap)
        if book is not None:
            return book
    pytest.fail(f"{symbol}: no usable snapshot after 10 tries")
