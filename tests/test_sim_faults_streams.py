"""Stream faults seen by a plain websocket-client: a gap after a drop, a closed socket after a
disconnect, and each kind of malformed message."""
from __future__ import annotations

import json

import pytest
import websocket

from arbitrage.sim import LocalExchange
from tests.conftest import wait_for


@pytest.fixture(scope="module")
def ex():
    with LocalExchange(seed=23, speed=4.0, symbols=["BTCUSDT", "BTCUSD_PERP"]) as exchange:
        yield exchange


def connect(ex: LocalExchange, path: str) -> websocket.WebSocket:
    return websocket.create_connection(ex.ws_url + path, timeout=20)


def test_drop_rate_makes_sequence_gaps_and_counts_them(ex):
    ws = connect(ex, "/ws/btcusdt@depth@100ms")
    try:
        prev = json.loads(ws.recv())
        before = ex.fault_counts()["drop"]
        ex.drop_rate(1.0)
        wait_for(lambda: ex.fault_counts()["drop"] >= before + 2, what="two dropped diffs")
        ex.drop_rate(0.0)
        gap = False
        for _ in range(50):
            ev = json.loads(ws.recv())
            if ev["U"] != prev["u"] + 1:
                gap = True
                break
            prev = ev
        assert gap
    finally:
        ws.close()


def test_disconnect_closes_the_socket(ex):
    ws = connect(ex, "/ws/btcusd_perp@depth@100ms")
    ws.recv()
    before = ex.fault_counts()["disconnect"]
    ex.disconnect_all()
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        for _ in range(10_000):
            ws.recv()
    assert ex.fault_counts()["disconnect"] == before + 1


def _parsed(raw: str):
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _is_bad(kind: str, raw: str, combined: bool) -> bool:
    """Is `raw` the injected message? (normal diffs already in flight arrive first)"""
    msg = _parsed(raw)
    if kind in ("truncated", "html"):
        return msg is None
    if msg is None:
        return False
    data = msg["data"] if combined else msg
    return ("u" not in data) if kind == "missing" else ("zUnexpected" in data)


def next_bad(ws: websocket.WebSocket, kind: str, combined: bool) -> str:
    for _ in range(500):
        raw = ws.recv()
        if _is_bad(kind, raw, combined):
            return raw
        assert _parsed(raw) is not None, f"an unexpected malformed message: {raw[:80]!r}"
    pytest.fail(f"no {kind} message arrived")


@pytest.mark.parametrize("combined", [False, True])
def test_each_malformed_kind(ex, combined):
    path = "/stream?streams=btcusdt@depth@100ms" if combined else "/ws/btcusdt@depth@100ms"
    ws = connect(ex, path)
    try:
        json.loads(ws.recv())
        before = ex.fault_counts()["malformed"]
        for kind in ("truncated", "html", "missing", "extra"):
            ex.malformed_next("BTCUSDT", kind)
            raw = next_bad(ws, kind, combined)
            if kind == "truncated":
                with pytest.raises(ValueError):
                    json.loads(raw)
                assert raw.startswith("{")
            elif kind == "html":
                assert raw.lstrip().startswith("<html>")
            else:
                msg = json.loads(raw)
                data = msg["data"] if combined else msg
                if combined:
                    assert msg["stream"] == "btcusdt@depth@100ms"
                if kind == "missing":
                    assert "u" not in data and "U" in data
                else:
                    assert "zUnexpected" in data and {"U", "u", "b", "a"} <= set(data)
            json.loads(ws.recv())       # and the stream goes on
        assert ex.fault_counts()["malformed"] == before + 4
    finally:
        ws.close()


def test_malformed_kind_is_checked(ex):
    with pytest.raises(ValueError, match="malformed kind"):
        ex.malformed_next("BTCUSDT", "garbage")
    with pytest.raises(KeyError):
        ex.malformed_next("NOPE", "html")


def test_silence_stops_the_stream_and_counts(ex):
    ws = connect(ex, "/ws/btcusdt@depth@100ms")
    try:
        ws.recv()
        before = ex.fault_counts()["silence"]
        ex.silence("BTCUSDT", 1.0)
        wait_for(lambda: ex.stats()["events_silenced"].get("BTCUSDT", 0) > 0, what="a silenced event")
        json.loads(ws.recv())           # speaks again afterwards
        assert ex.fault_counts()["silence"] == before + 1
    finally:
        ws.close()
