"""The local exchange's WebSocket streams: shapes, sequencing, control messages, consistency with REST."""
from __future__ import annotations

import json
import re

import pytest
from websockets.exceptions import InvalidStatus

from arbitrage.sim import LocalExchange
from tests.test_sim_support import (continue_coinm, continue_spot, data_of, read, sync_from_stream,
                                    ws_connect)

SPOT_NUM = re.compile(r"^\d+\.\d{8}$")
CM_BTC_PRICE = re.compile(r"^\d+\.\d$")
INT_STR = re.compile(r"^\d+$")


@pytest.fixture(scope="module")
def ex():
    # speed 4: a diff every 25 ms per symbol, so a few seconds of stream take about a second
    with LocalExchange(seed=5, speed=4.0) as exchange:
        yield exchange


def test_spot_depth_raw_stream_shape_and_continuity(ex):
    with ws_connect(ex.ws_url + "/ws/btcusdt@depth@100ms") as ws:
        events = read(ws, count=40)
    prev_u = None
    for ev in events:
        assert list(ev) == ["e", "E", "s", "U", "u", "b", "a"]
        assert ev["e"] == "depthUpdate" and ev["s"] == "BTCUSDT"
        assert all(isinstance(ev[k], int) for k in ("E", "U", "u")) and ev["U"] <= ev["u"]
        for price, qty in ev["b"] + ev["a"]:
            assert SPOT_NUM.match(price) and SPOT_NUM.match(qty)
        if prev_u is not None:
            assert ev["U"] == prev_u + 1
        prev_u = ev["u"]
    assert any(float(q) == 0 for e in events for _, q in e["b"] + e["a"])   # removals are listed


def test_coinm_depth_shape_and_pu_chain(ex):
    with ws_connect(ex.ws_url + "/ws/btcusd_perp@depth@100ms") as ws:
        events = read(ws, count=40)
    jumped = False
    for prev, ev in zip(events, events[1:]):
        assert list(ev) == ["e", "E", "T", "s", "ps", "U", "u", "pu", "b", "a"]
        assert ev["s"] == "BTCUSD_PERP" and ev["ps"] == "BTCUSD" and ev["T"] <= ev["E"]
        assert ev["pu"] == prev["u"]
        jumped |= ev["U"] > ev["pu"] + 1
        for price, qty in ev["b"] + ev["a"]:
            assert CM_BTC_PRICE.match(price) and INT_STR.match(qty)
    assert jumped, "COIN-M update ids should jump now and then, as on Binance"


def test_depth_aliases_carry_the_same_events(ex):
    names = ["ethusd_perp@depth", "ethusd_perp@depth@0ms", "ethusd_perp@depth@100ms"]
    with ws_connect(ex.ws_url + "/stream?streams=" + "/".join(names)) as ws:
        msgs = read(ws, count=9)
    by_u: dict[int, set[str]] = {}
    for m in msgs:
        assert set(m) == {"stream", "data"}
        by_u.setdefault(m["data"]["u"], set()).add(m["stream"])
    assert any(streams == set(names) for streams in by_u.values())


def test_mark_price_stream_shape(ex):
    with ws_connect(ex.ws_url + "/stream?streams=btcusd_perp@markPrice@1s/ethusd_perp@markPrice") as ws:
        msgs = read(ws, count=2)
    for m in msgs:
        d = m["data"]
        assert m["stream"] == d["s"].lower() + ("@markPrice@1s" if d["s"] == "BTCUSD_PERP" else "@markPrice")
        assert list(d) == ["e", "E", "s", "p", "P", "i", "r", "T"] and d["e"] == "markPriceUpdate"
        for key in ("p", "P", "i"):
            assert re.match(r"^\d+\.\d{8}$", d[key])
        assert re.match(r"^-?\d\.\d{8}$", d["r"])
        assert isinstance(d["T"], int) and d["T"] > d["E"] and d["T"] % (8 * 3600 * 1000) == 0


def test_book_ticker_shapes(ex):
    with ws_connect(ex.ws_url + "/stream?streams=btcusdt@bookTicker/btcusd_perp@bookTicker") as ws:
        spot = read(ws, data_of("btcusdt@bookTicker"))[0]["data"]
        perp = read(ws, data_of("btcusd_perp@bookTicker"))[0]["data"]
    assert list(spot) == ["u", "s", "b", "B", "a", "A"]                    # spot: no e/E
    assert all(SPOT_NUM.match(spot[k]) for k in "bBaA") and float(spot["b"]) < float(spot["a"])
    assert list(perp) == ["e", "u", "s", "ps", "b", "B", "a", "A", "T", "E"]
    assert CM_BTC_PRICE.match(perp["b"]) and INT_STR.match(perp["B"])


def test_control_messages(ex):
    with ws_connect(ex.ws_url + "/ws") as ws:
        ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@depth@100ms"], "id": 1}))
        assert read(ws, lambda m: "id" in m) == [{"result": None, "id": 1}]
        event = read(ws, lambda m: m.get("e") == "depthUpdate")[0]          # raw on /ws
        assert event["s"] == "ETHUSDT"
        ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": "abc"}))
        assert read(ws, lambda m: m.get("id") == "abc") == [{"result": ["ethusdt@depth@100ms"], "id": "abc"}]
        ws.send(json.dumps({"method": "SET_PROPERTY", "params": ["combined", True], "id": 2}))
        assert read(ws, lambda m: m.get("id") == 2) == [{"result": None, "id": 2}]
        wrapped = read(ws, lambda m: "stream" in m)[0]
        assert wrapped["stream"] == "ethusdt@depth@100ms" and wrapped["data"]["e"] == "depthUpdate"
        ws.send(json.dumps({"method": "GET_PROPERTY", "params": ["combined"], "id": 3}))
        assert read(ws, lambda m: m.get("id") == 3) == [{"result": True, "id": 3}]
        ws.send(json.dumps({"method": "UNSUBSCRIBE", "params": ["ethusdt@depth@100ms"], "id": 4}))
        assert read(ws, lambda m: m.get("id") == 4) == [{"result": None, "id": 4}]
        ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 5}))
        assert read(ws, lambda m: m.get("id") == 5) == [{"result": [], "id": 5}]


def test_garbage_gets_binance_errors_and_the_connection_survives(ex):
    with ws_connect(ex.ws_url + "/stream?streams=btcusdt@bookTicker") as ws:
        is_reply = lambda m: "code" in m or "result" in m  # noqa: E731
        ws.send("{not json")
        err = read(ws, is_reply)[0]
        assert err["code"] == 3 and err["msg"].startswith("Invalid JSON:")
        ws.send(b"\xff\xfe")
        assert read(ws, is_reply)[0]["code"] == 3
        ws.send(json.dumps({"method": "DANCE", "id": 9}))
        assert read(ws, is_reply)[0] == {"code": 2, "msg": "Invalid request: unknown method `DANCE`", "id": 9}
        ws.send(json.dumps({"params": [], "id": 10}))
        assert read(ws, is_reply)[0]["code"] == 2
        ws.send(json.dumps({"method": "SUBSCRIBE", "params": "btcusdt@depth", "id": 11}))
        assert read(ws, is_reply)[0]["code"] == 2
        ws.send(json.dumps({"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 12}))
        assert read(ws, is_reply)[0] == {"code": 1, "msg": "Invalid value type: expected Boolean", "id": 12}
        ws.send(json.dumps({"method": "GET_PROPERTY", "params": ["colour"], "id": 13}))
        assert read(ws, is_reply)[0] == {"code": 0, "msg": "Unknown property", "id": 13}
        assert read(ws, data_of("btcusdt@bookTicker"))          # still streaming
    with ws_connect(ex.ws_url + "/ws/btcusdt@bookTicker") as ws:  # and the server still serves
        assert read(ws)[0]["s"] == "BTCUSDT"


def test_unknown_path_is_refused(ex):
    with pytest.raises(InvalidStatus):
        ws_connect(ex.ws_url + "/nowhere")


@pytest.mark.parametrize("symbol", ["BTCUSDT", "BTCUSD_PERP"])
def test_documented_procedure_syncs_and_matches_book_ticker(ex, symbol):
    """Snapshot + diffs per §5.2/§5.4 give a book whose top equals every later bookTicker."""
    low = symbol.lower()
    stream = f"{low}@depth@100ms"
    with ws_connect(f"{ex.ws_url}/stream?streams={stream}/{low}@bookTicker") as ws:
        book = sync_from_stream(ws, ex.rest_url, symbol, stream)
        step = continue_spot if symbol == "BTCUSDT" else continue_coinm
        checked = 0
        for msg in read(ws, count=80):
            data = msg["data"]
            if msg["stream"] == stream:
                step(book, data)
            elif data["u"] == book.update_id:        # the ticker of the state we hold
                assert book.top() == (data["b"], data["B"], data["a"], data["A"])
                checked += 1
        assert checked >= 5
