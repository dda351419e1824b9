"""Replay of captures: a small capture written here (exact expectations) and the real ones."""
from __future__ import annotations

import gzip
import json
import logging

import pytest
import requests

from arbitrage.sim import LocalExchange
from arbitrage.sim.replay import read_records
from tests.conftest import CM_CAPTURE, SPOT_CAPTURE, needs_captures, wait_for
from tests.test_sim_support import (continue_coinm, continue_spot, depth_snapshot, read,
                                    sync_from_stream, ws_connect)

T = 1_700_000_000 * 10**9          # a whole second, so the recorded seconds are easy to follow
SEC = 10**9


def spot_depth(U: int, u: int, b: list, a: list, at: int) -> dict:
    return {"e": "depthUpdate", "E": at // 10**6 - 1270, "s": "BTCUSDT", "U": U, "u": u, "b": b, "a": a}


def cm_depth(U: int, u: int, pu: int, b: list, a: list, at: int) -> dict:
    e = at // 10**6 - 1270
    return {"e": "depthUpdate", "E": e, "T": e - 5, "s": "BTCUSD_PERP", "ps": "BTCUSD",
            "U": U, "u": u, "pu": pu, "b": b, "a": a}


def wire(ns: int, stream: str, data: dict) -> str:
    return f"{ns} {json.dumps({'stream': stream, 'data': data})}\n"


# streamed after the books are rebuilt (the CM snapshot at T+0.2 s is the replay's start)
LIVE_SPOT = [spot_depth(107, 108, [["100.01000000", "0.00000000"]], [["100.02000000", "1.50000000"]], T + 15 * SEC // 10),
             spot_depth(109, 109, [["100.00000000", "2.00000000"]], [], T + 21 * SEC // 10)]
LIVE_CM = [cm_depth(1040, 1050, 1030, [["99.9", "0"]], [["100.0", "3"]], T + 16 * SEC // 10),
           cm_depth(1051, 1060, 1050, [], [["100.0", "0"]], T + 22 * SEC // 10)]
SPOT_TICKER = {"u": 108, "s": "BTCUSDT", "b": "100.00000000", "B": "1.00000000", "a": "100.02000000",
               "A": "1.50000000"}


@pytest.fixture
def capture(tmp_path):
    spot = tmp_path / "spot.gz"
    lines = [
        wire(T, "btcusdt@depth@100ms", spot_depth(100, 102, [["100.00000000", "1.00000000"]], [], T)),
        wire(T + 5 * SEC // 100, "btcusdt@depth@100ms",
             spot_depth(103, 105, [["99.99000000", "3.00000000"]], [["100.02000000", "0.00000000"]], T)),
        "garbage that is not a capture line\n",
        f'{T + SEC // 10} {{"lastUpdateId":104,"bids":[["100.00000000","1.00000000"],["99.98000000","5.00000000"]],'
        f'"asks":[["100.02000000","2.00000000"],["100.03000000","4.00000000"]]}}\n',
        wire(T + 15 * SEC // 100, "btcusdt@depth@100ms",
             spot_depth(106, 106, [["100.01000000", "0.50000000"]], [], T + 15 * SEC // 100)),
        wire(LIVE_SPOT[0]["E"] * 10**6 + 1270 * 10**6, "btcusdt@depth@100ms", LIVE_SPOT[0]),
        wire(T + 17 * SEC // 10, "btcusdt@bookTicker", SPOT_TICKER),
        wire(T + 18 * SEC // 10, "btcusdt@depth@100ms", spot_depth(90, 95, [["1.00000000", "9.00000000"]], [], T)),
        wire(T + 21 * SEC // 10, "btcusdt@depth@100ms", LIVE_SPOT[1]),
    ]
    with gzip.open(spot, "wt") as fh:
        fh.writelines(lines)
    cm = tmp_path / "cm.txt"           # plain text works too
    snap = {"lastUpdateId": 1020, "E": 1, "T": 1, "symbol": "BTCUSD_PERP", "pair": "BTCUSD",
            "bids": [["99.9", "10"], ["99.7", "1"]], "asks": [["100.1", "20"], ["100.2", "5"]]}
    cm.write_text("".join([
        wire(T + 2 * SEC // 100, "btcusd_perp@depth@0ms", cm_depth(1000, 1010, 990, [["99.9", "10"]], [["100.1", "20"]], T)),
        wire(T + 6 * SEC // 100, "btcusd_perp@depth@0ms", cm_depth(1015, 1030, 1010, [["99.8", "7"]], [], T)),
        f"{T + 2 * SEC // 10} {json.dumps(snap)}\n",
        wire(T + 16 * SEC // 10, "btcusd_perp@depth@0ms", LIVE_CM[0]),
        wire(T + 22 * SEC // 10, "btcusd_perp@depth@0ms", LIVE_CM[1]),
    ]))
    return spot, cm


def test_read_records_skips_bad_lines_and_names_the_spot_snapshot(capture, caplog):
    with caplog.at_level(logging.WARNING, logger="arbitrage.sim.replay"):
        records = list(read_records(capture[0]))
    assert [r.kind for r in records][:4] == ["depth", "depth", "snapshot", "depth"]
    assert records[2].symbol == "BTCUSDT"
    assert any("unreadable line" in r.message and "garbage" in r.message for r in caplog.records)


def test_replay_rebuilds_books_streams_and_derives_marks(capture):
    with LocalExchange(source="replay", replay_files=capture, speed=1.0) as ex:
        rest = ex.rest_url
        # the books as a careful client rebuilds them at the replay's start
        spot = depth_snapshot(rest, "spot", "BTCUSDT", 10)
        assert spot == {"lastUpdateId": 106,
                        "bids": [["100.01000000", "0.50000000"], ["100.00000000", "1.00000000"],
                                 ["99.99000000", "3.00000000"], ["99.98000000", "5.00000000"]],
                        "asks": [["100.03000000", "4.00000000"]]}
        cm = depth_snapshot(rest, "coinm", "BTCUSD_PERP", 5)
        assert cm["lastUpdateId"] == 1030
        assert cm["bids"] == [["99.9", "10"], ["99.8", "7"], ["99.7", "1"]]
        assert cm["asks"] == [["100.1", "20"], ["100.2", "5"]]
        mark = requests.get(rest + "/dapi/v1/premiumIndex", timeout=20).json()
        assert [(m["markPrice"], m["indexPrice"]) for m in mark] == [("100.00000000", "100.02000000")]
        assert requests.get(rest + "/sim/info", timeout=20).json()["symbols"] == ["BTCUSDT", "BTCUSD_PERP"]
        assert requests.get(rest + "/api/v3/depth?symbol=ETHUSDT", timeout=20).json()["code"] == -1121

        names = ["btcusdt@depth", "btcusd_perp@depth@100ms", "btcusd_perp@markPrice@1s", "btcusdt@bookTicker"]
        with ws_connect(ex.ws_url + "/stream?streams=" + "/".join(names)) as ws:
            got: list[dict] = []
            last = lambda m: m["data"].get("u") in (109, 1060)  # noqa: E731
            while sum(map(last, got)) < 2:
                got += read(ws)
        wait_for(ex.source.finished.is_set, what="the end of the recording")

        # recorded payloads re-framed under the names this client subscribed; a stale diff is skipped
        spot_seen = [m["data"] for m in got if m["stream"] == "btcusdt@depth"]
        cm_seen = [m["data"] for m in got if m["stream"] == "btcusd_perp@depth@100ms"]
        assert spot_seen == LIVE_SPOT[-len(spot_seen):] and cm_seen == LIVE_CM[-len(cm_seen):]
        tickers = [m["data"] for m in got if m["stream"] == "btcusdt@bookTicker"]
        assert tickers in ([], [SPOT_TICKER])
        marks = [m["data"] for m in got if m["stream"] == "btcusd_perp@markPrice@1s"]
        assert marks and marks[-1]["p"] == "99.90000000" and marks[-1]["i"] == "100.01000000"
        assert marks[-1]["E"] % 1000 == 0 and marks[-1]["T"] > marks[-1]["E"]

        # the end: the streams stop, the books stay as the recording left them
        assert ex.book_top("BTCUSDT") == (100.0, 100.02, 109)
        assert ex.book_top("BTCUSD_PERP") == (99.8, 100.1, 1060)
        assert depth_snapshot(rest, "coinm", "BTCUSD_PERP", 5)["lastUpdateId"] == 1060


def test_single_file_starting_with_a_ticker(capture, tmp_path):
    path = tmp_path / "spot_only.txt"
    with gzip.open(capture[0], "rt") as fh:
        path.write_text(wire(T - SEC, "btcusdt@bookTicker", SPOT_TICKER) + fh.read())
    with LocalExchange(source="replay", replay_files=[path], speed=10.0) as ex:
        assert ex.market.symbols == ["BTCUSDT"]
        assert depth_snapshot(ex.rest_url, "spot", "BTCUSDT", 5)["lastUpdateId"] >= 105
        assert requests.get(ex.rest_url + "/dapi/v1/premiumIndex", timeout=20).json() == []
        wait_for(ex.source.finished.is_set, what="the end of the recording")
        assert ex.book_top("BTCUSDT") == (100.0, 100.02, 109)


def test_replay_without_a_snapshot_refuses_to_start(tmp_path):
    path = tmp_path / "nosnap.txt"
    path.write_text(wire(T, "btcusdt@depth@100ms", spot_depth(1, 2, [], [], T)))
    ex = LocalExchange(source="replay", replay_files=[path])
    with pytest.raises(ValueError, match="snapshot"):
        ex.start()
    ex.stop()


@needs_captures
def test_real_captures_replay_and_sync_by_the_documented_procedures():
    with LocalExchange(source="replay", replay_files=[SPOT_CAPTURE, CM_CAPTURE], speed=20.0) as ex:
        info = requests.get(ex.rest_url + "/sim/info", timeout=20).json()
        assert info["source"] == "replay" and info["symbols"] == ["BTCUSDT", "BTCUSD_PERP"]
        for symbol, step in (("BTCUSDT", continue_spot), ("BTCUSD_PERP", continue_coinm)):
            stream = symbol.lower() + "@depth@100ms"
            with ws_connect(f"{ex.ws_url}/stream?streams={stream}") as ws:
                book = sync_from_stream(ws, ex.rest_url, symbol, stream)
                for msg in read(ws, count=30):
                    step(book, msg["data"])
                bid, _, ask, _ = book.top()
                assert 55000 < float(bid) < float(ask) < 70000
        with ws_connect(ex.ws_url + "/ws/btcusd_perp@markPrice@1s") as ws:
            mark = read(ws)[0]
        assert abs(float(mark["p"]) / float(mark["i"]) - 1) < 0.01    # perp mid vs spot mid
        assert ex.stats()["diffs_sent"]["BTCUSD_PERP"] > 30
