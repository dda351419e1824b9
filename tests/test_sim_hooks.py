"""The local exchange's fault hooks and its own view, seen from a real client over loopback."""
from __future__ import annotations

import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests
from websockets.exceptions import ConnectionClosed

from arbitrage.sim import LocalExchange
from tests.conftest import wait_for
from tests.test_sim_support import data_of, depth_snapshot, read, sync_coinm, sync_spot, ws_connect


@pytest.fixture(scope="module")
def ex():
    with LocalExchange(seed=9, speed=4.0) as exchange:
        yield exchange


def test_drop_next_diff_makes_a_spot_gap(ex):
    with ws_connect(ex.ws_url + "/ws/btcusdt@depth@100ms") as ws:
        prev = read(ws)[0]
        dropped_before = ex.stats()["diffs_dropped"].get("BTCUSDT", 0)
        ex.drop_next_diff("BTCUSDT")
        gaps = []
        for ev in read(ws, count=6):
            if ev["U"] != prev["u"] + 1:
                gaps.append((prev["u"], ev["U"]))
            prev = ev
    assert len(gaps) == 1 and gaps[0][1] > gaps[0][0] + 1
    assert ex.stats()["diffs_dropped"]["BTCUSDT"] == dropped_before + 1


def test_drop_next_diff_breaks_the_coinm_pu_chain(ex):
    with ws_connect(ex.ws_url + "/ws/ethusd_perp@depth@100ms") as ws:
        prev = read(ws)[0]
        ex.drop_next_diff("ETHUSD_PERP")
        breaks = 0
        for ev in read(ws, count=6):
            breaks += ev["pu"] != prev["u"]
            prev = ev
    assert breaks == 1


def test_disconnect_all_closes_every_socket_and_reconnecting_works(ex):
    with ws_connect(ex.ws_url + "/ws/btcusdt@bookTicker") as a, \
            ws_connect(ex.ws_url + "/stream?streams=ethusdt@depth") as b:
        read(a), read(b)
        ex.disconnect_all()
        for ws in (a, b):
            with pytest.raises(ConnectionClosed):
                _drain(ws)
    wait_for(lambda: ex.stats()["connections"] == 0, what="the server to forget closed sockets")
    with ws_connect(ex.ws_url + "/ws/btcusdt@bookTicker") as again:
        assert read(again)[0]["s"] == "BTCUSDT"


def _drain(ws) -> None:
    """Read until the connection closes (raises ConnectionClosed) or 20 s pass."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            ws.recv(timeout=1)
        except TimeoutError:
            pass


def test_silence_stops_one_symbol_and_keeps_the_connection(ex):
    streams = "btcusdt@depth@100ms/ethusdt@depth@100ms"
    with ws_connect(f"{ex.ws_url}/stream?streams={streams}") as ws:
        read(ws, data_of("btcusdt@depth@100ms"))
        called_ms = time.time_ns() // 1_000_000
        ex.silence("BTCUSDT", 1.5)
        # events stamped during the silence never reach the client; ETH keeps flowing
        btc_during, eth = [], 0
        while eth < 10:
            msg = read(ws)[0]
            if msg["data"]["s"] == "ETHUSDT":
                eth += 1
            elif called_ms <= msg["data"]["E"] < called_ms + 1000:
                btc_during.append(msg["data"])
        assert btc_during == []
        # afterwards BTC resumes on the same connection, after a sequence gap
        back = read(ws, lambda m: m["data"]["s"] == "BTCUSDT" and m["data"]["E"] >= called_ms + 1500)
        assert back
    assert ex.stats()["events_silenced"]["BTCUSDT"] > 0


def test_silence_all_symbols(ex):
    with ws_connect(ex.ws_url + "/ws/ethusd_perp@bookTicker") as ws:
        read(ws)
        before = sum(ex.stats()["events_silenced"].values())
        ex.silence(None, 0.5)
        wait_for(lambda: sum(ex.stats()["events_silenced"].values()) > before, what="silenced events")
        assert read(ws)[0]["s"] == "ETHUSD_PERP"       # the stream comes back by itself


@pytest.mark.parametrize("symbol", ["BTCUSDT", "BTCUSD_PERP"])
def test_stale_snapshot_is_detected_by_the_documented_procedure(ex, symbol):
    stream = symbol.lower() + "@depth@100ms"
    market = "spot" if symbol == "BTCUSDT" else "coinm"
    sync = sync_spot if market == "spot" else sync_coinm
    with ws_connect(f"{ex.ws_url}/stream?streams={stream}") as ws:
        events = [m["data"] for m in read(ws, count=3)]
        ex.serve_stale_snapshot(symbol)
        stale = depth_snapshot(ex.rest_url, market, symbol, 100)
        assert stale["lastUpdateId"] < events[0]["U"]
        assert sync(events, stale) is None                    # "fetch the snapshot again"
        fresh = depth_snapshot(ex.rest_url, market, symbol, 100)
        assert fresh["lastUpdateId"] >= events[-1]["u"]
        while events[-1]["u"] < fresh["lastUpdateId"] + (1 if market == "spot" else 0):
            events += [m["data"] for m in read(ws)]
        assert sync(events, fresh) is not None


def test_book_top_is_the_exchange_view(ex):
    def matches():
        bid, ask, last_id = ex.book_top("ETHUSD_PERP")
        snap = depth_snapshot(ex.rest_url, "coinm", "ETHUSD_PERP", 5)
        return snap["lastUpdateId"] == last_id and (bid, ask) == (float(snap["bids"][0][0]),
                                                                 float(snap["asks"][0][0]))
    wait_for(matches, what="book_top and REST depth at the same update id")
    bid, ask, last_id = ex.book_top("BTCUSDT")
    assert isinstance(bid, float) and isinstance(ask, float) and 0 < ask - bid < 0.02 + 1e-9
    wait_for(lambda: ex.book_top("BTCUSDT")[2] > last_id, what="the book to move on")


def test_stats_and_unknown_symbols(ex):
    stats = ex.stats()
    assert stats["source"] == "synthetic" and stats["requests"] >= 0
    assert set(stats["diffs_sent"]) == {"BTCUSDT", "ETHUSDT", "BTCUSD_PERP", "ETHUSD_PERP"}
    for hook in (ex.drop_next_diff, ex.serve_stale_snapshot, ex.book_top):
        with pytest.raises(KeyError):
            hook("DOGEUSDT")
    with pytest.raises(KeyError):
        ex.silence("DOGEUSDT", 1)


def test_stop_is_clean_and_idempotent():
    before = set(threading.enumerate())
    ex = LocalExchange(seed=2, symbols=["BTCUSDT", "BTCUSD_PERP"])
    ex.start()
    def server_threads() -> set[str]:
        return {t.name for t in set(threading.enumerate()) - before
                if t.name.startswith("sim-") or "process_request" in t.name}

    assert server_threads() >= {"sim-market", "sim-rest", "sim-ws"}
    with requests.Session() as session, ws_connect(ex.ws_url + "/ws/btcusdt@depth") as ws:
        # an idle keep-alive HTTP connection and an open WebSocket must not hold stop() up
        assert session.get(ex.rest_url + "/api/v3/ping", timeout=20).status_code == 200
        read(ws)
        ex.stop()
        ex.stop()
        assert server_threads() == set()
        with pytest.raises(ConnectionClosed):
            _drain(ws)
    for url in (ex.rest_url, ex.ws_url):
        parts = urlsplit(url)
        with pytest.raises(OSError):
            socket.create_connection((parts.hostname, parts.port), timeout=5).close()
    wait_for(lambda: set(threading.enumerate()) <= before, what="every thread to end")
