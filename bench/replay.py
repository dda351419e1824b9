"""Replay throughput: the recorded Binance streams through the bot's own hot path, without network.

Per message, exactly what the bot does between the socket and a decision: `parse_message` (the
stream thread), the hand-off through the engine's queue, then on the engine thread the sequence
check and book update (`MarketData`, with the bookTicker check that VERIFY_BOOKS turns on, since
the captures carry Binance's tickers) and, after every event that changed a book or the mark, the
full entry evaluation (`arbitrage.engine.evaluation.evaluate`: market gates, frontier both directions,
spread). The REST snapshot lines play the snapshot the book asks for. The captures carry no mark
stream, so one `markPriceUpdate` per second (what `@markPrice@1s` sends) is derived from the perp's
own bookTicker mid and inserted, already as raw JSON, before timing starts.

The same lines go through plain `json.loads` in the same run, interleaved with the hot-path
passes, so the ratio compares like with like on whatever the machine is doing at the time.
"""
from __future__ import annotations

import gc
import heapq
import json
import time
from bisect import bisect_left, insort
from dataclasses import dataclass
from pathlib import Path

import orjson

from arbitrage.marketdata.capture import iter_capture
from arbitrage.exchanges.streams import parse_message, parse_snapshot
from arbitrage.models import DepthDiff, MarkPrice, SnapshotResult

SPOT, PERP = "BTCUSDT", "BTCUSD_PERP"
CAPTURES = ("spot_btcusdt_20240808.gz", "cm_btcusd_perp_20240808.gz")


@dataclass(frozen=True, slots=True)
class Line:
    recv_ns: int
    raw: str
    snapshot_of: str | None = None      # a REST depth body: the symbol it belongs to


@dataclass
class Stream:
    lines: list[Line]
    source: str                          # what was replayed, for the table

    @property
    def span_s(self) -> float:
        return (self.lines[-1].recv_ns - self.lines[0].recv_ns) / 1e9 if self.lines else 0.0


# -- inputs -------------------------------------------------------------------------------------
def load_captures(data_dir: Path) -> Stream | None:
    paths = [data_dir / name for name in CAPTURES]
    if not all(p.exists() for p in paths):
        return None
    tagged = [_tagged(path, symbol) for path, symbol in zip(paths, (SPOT, PERP))]
    lines = list(heapq.merge(*tagged, key=lambda line: line.recv_ns))
    return Stream(with_marks(lines), f"real captures ({', '.join(CAPTURES)})")


def default_streams(stream: Stream) -> Stream:
    """Only what the bot subscribes to without VERIFY_BOOKS: depth diffs, the mark, snapshots."""
    keep = [line for line in stream.lines if line.snapshot_of is not None
            or "@depth" in line.raw[:40] or "@markPrice" in line.raw[:45]]
    return Stream(keep, stream.source)


def _tagged(path: Path, symbol: str) -> list[Line]:
    """Each file holds one REST snapshot body, which names no symbol on spot: tag it here."""
    return [Line(ns, raw, symbol if raw.startswith('{"lastUpdateId"') else None)
            for ns, raw in iter_capture(path)]


def with_marks(lines: list[Line]) -> list[Line]:
    """Insert one markPriceUpdate per second of the recording, priced at the perp ticker's mid."""
    out: list[Line] = []
    next_ns, mid = 0, None
    for line in lines:
        if '"btcusd_perp@bookTicker"' in line.raw[:40]:
            d = json.loads(line.raw)["data"]
            mid = (float(d["b"]) + float(d["a"])) / 2
        if mid is not None and line.recv_ns >= next_ns:
            next_ns = line.recv_ns + 1_000_000_000
            e_ms = line.recv_ns // 1_000_000
            data = {"e": "markPriceUpdate", "E": e_ms, "s": PERP, "p": f"{mid:.8f}",
                    "P": f"{mid:.8f}", "i": f"{mid:.8f}", "r": "0.00010000",
                    "T": (e_ms // 28_800_000 + 1) * 28_800_000}
            out.append(Line(line.recv_ns, json.dumps({"stream": "btcusd_perp@markPrice@1s",
                                                      "data": data}, separators=(",", ":"))))
        out.append(line)
    return out


def synthetic(seconds: float = 300.0, seed: int = 7) -> Stream:
    """The local exchange's market model, stepped in simulated time (no sockets, no sleeping),
    serialised exactly as its WebSocket server sends it."""
    from arbitrage.sim.market import Market
    from arbitrage.sim.synthetic import TICK_SEC, SyntheticSource
    from arbitrage.sim.symbols import resolve

    market = Market()
    now = [1_700_000_000_000]
    market.clock_ms = lambda: now[0]
    source = SyntheticSource(resolve([SPOT, PERP]), seed=seed)
    source.prepare(market)
    lines: list[Line] = []
    names = {"depth": "@depth@100ms", "ticker": "@bookTicker", "mark": "@markPrice@1s"}

    def listen(symbol: str, channel: str, payload: dict) -> None:
        suffix = names.get(channel, f"@{channel}")
        if channel == "depth" and symbol == PERP:
            suffix = "@depth@0ms"
        raw = json.dumps(payload, separators=(",", ":"))
        lines.append(Line(now[0] * 1_000_000, f'{{"stream":"{symbol.lower()}{suffix}","data":{raw}}}'))

    market.add_listener(listen)
    for symbol in (SPOT, PERP):
        last_id, bids, asks, e_ms, _ = market.depth(symbol, 1000)
        body = {"lastUpdateId": last_id, "bids": bids, "asks": asks}
        lines.append(Line(now[0] * 1_000_000, json.dumps(body, separators=(",", ":")), symbol))
    for _ in range(int(seconds / TICK_SEC)):
        now[0] += int(TICK_SEC * 1000)
        source.tick(market, now[0])
    return Stream(lines, f"synthetic ({seconds:.0f} s of the local exchange's market model, seed {seed})")


# -- the hot path ---------------------------------------------------------------------------------
class HotPath:
    """The bot's own per-message code, driven by hand in one thread: the stream thread's
    `on_message` (parse + enqueue), then the engine's `_handle` and `_evaluate` with the event's
    receive time as "now" (the gates judge staleness on the recording's clock). The bot is
    connected to a local exchange for its symbol rules and fees, but never started: no socket
    is read and nothing is sent while it is fed."""

    def __init__(self, bot) -> None:
        self.bot = bot
        # snapshots come from the capture's own REST line, not from the network
        bot.market._request = lambda symbol: None
        self.on_message = bot._on_message_for("replay")

    def feed(self, line: Line) -> None:
        bot = self.bot
        if line.snapshot_of is not None:
            snap = parse_snapshot(json.loads(line.raw), line.snapshot_of, line.recv_ns)
            if bot._handle(SnapshotResult(line.snapshot_of, snap, None, line.recv_ns), line.recv_ns):
                bot._evaluate(line.recv_ns)
            return
        self.on_message(line.raw, line.recv_ns)
        events = bot.events
        if events.empty():
            return                      # a message the bot does not use (a trade)
        changed = bot._handle(events.get_nowait(), line.recv_ns)
        if changed and events.empty():
            bot._evaluate(line.recv_ns)


class FloorBook:
    """A lower bound for any pure-Python hot path, for scale: orjson.loads of every line, and for
    each depth diff the bare minimum of a book update (float() of price and quantity, one dict
    write or delete, one bisect into a sorted key list), with no sequencing, no objects, no
    evaluation. Its loop repeats `OrderBook.apply`'s on purpose: it is the same work stripped of
    everything around it, so the two can be compared."""

    def __init__(self) -> None:
        self.books: dict[str, tuple[dict, list, dict, list]] = {}

    def feed(self, lines: list[Line]) -> None:
        loads, books = orjson.loads, self.books
        for line in lines:
            msg = loads(line.raw)
            data = msg.get("data") if type(msg) is dict else None
            if type(data) is not dict or data.get("e") != "depthUpdate":
                continue
            bids, bid_keys, asks, ask_keys = books.setdefault(data["s"], ({}, [], {}, []))
            for rows, levels, keys, sign in ((data["b"], bids, bid_keys, 1.0),
                                             (data["a"], asks, ask_keys, -1.0)):
                for p, q in rows:
                    price, qty = float(p), float(q)
                    if qty <= 0.0:
                        if levels.pop(price, None) is not None:
                            del keys[bisect_left(keys, sign * price)]
                    elif price in levels:
                        levels[price] = qty
                    else:
                        insort(keys, sign * price)
                        levels[price] = qty


@dataclass
class Throughput:
    source: str
    messages: int
    level_updates: int
    span_s: float
    hot_s: list[float]           # one per pass
    json_s: list[float]
    orjson_s: list[float]
    floor_s: list[float]
    evaluations: int
    opportunities: int
    resyncs: int
    ticker_checks: int
    ticker_mismatches: int


def level_updates(stream: Stream) -> int:
    n = 0
    for line in stream.lines:
        if line.snapshot_of is None and '"depthUpdate"' in line.raw[:80]:
            event = parse_message(line.raw, line.recv_ns)
            n += len(event.bids) + len(event.asks)
    return n


CHUNKS = 60     # the four measurements take turns chunk by chunk: they see the same machine


def throughput(stream: Stream, make_bot, passes: int = 3) -> Throughput:
    """Per pass: the lines in CHUNKS consecutive chunks; each chunk goes through json.loads,
    orjson.loads, the floor and the bot's hot path in turn, each timed, and the four totals are
    compared. Interleaving this finely keeps a neighbour's burst of CPU from landing on one of
    the four only (the hot path and the floor keep their state from chunk to chunk)."""
    lines = stream.lines
    size = max(1, len(lines) // CHUNKS)
    chunks = [lines[i:i + size] for i in range(0, len(lines), size)]
    raw_chunks = [[line.raw for line in chunk] for chunk in chunks]
    loads, fast_loads, clock = json.loads, orjson.loads, time.perf_counter
    hot_s, json_s, orjson_s, floor_s = [], [], [], []
    last: HotPath | None = None
    for _ in range(passes):
        path, floor = HotPath(make_bot()), FloorBook()
        feed = path.feed
        t_json = t_fast = t_floor = t_hot = 0.0
        gc.collect()
        for chunk, raws in zip(chunks, raw_chunks):
            t0 = clock()
            for raw in raws:
                loads(raw)
            t1 = clock()
            for raw in raws:
                fast_loads(raw)
            t2 = clock()
            floor.feed(chunk)
            t3 = clock()
            for line in chunk:
                feed(line)
            t4 = clock()
            t_json, t_fast, t_floor, t_hot = (t_json + t1 - t0, t_fast + t2 - t1,
                                              t_floor + t3 - t2, t_hot + t4 - t3)
        json_s.append(t_json)
        orjson_s.append(t_fast)
        floor_s.append(t_floor)
        hot_s.append(t_hot)
        last = path
    assert last is not None
    md, st = last.bot.market, last.bot.stats
    checks = [c.counts for c in md.checks.values()]
    return Throughput(stream.source, len(lines), level_updates(stream), stream.span_s, hot_s,
                      json_s, orjson_s, floor_s, st.evaluations, sum(st.opportunities.values()),
                      md.resyncs, sum(c.compared for c in checks), sum(c.mismatches for c in checks))


# -- per event ------------------------------------------------------------------------------------
@dataclass
class PerEvent:
    parse_us: list[float]            # parse_message of a depth diff
    book_us: list[float]             # sequence check + book update of one diff
    evaluate_us: list[float]         # one full entry evaluation


def per_event(stream: Stream, bot) -> PerEvent:
    """The same replay with a clock around each part (a clock read costs ~0.1 µs, which is why
    the throughput above is measured without them)."""
    path = HotPath(bot)
    clock = time.perf_counter_ns
    parse_us, book_us, eval_us = [], [], []
    gc.collect()
    for line in stream.lines:
        if line.snapshot_of is not None:
            path.feed(line)
            continue
        t0 = clock()
        event = parse_message(line.raw, line.recv_ns)
        t1 = clock()
        if type(event) is DepthDiff:
            changed = bot._handle(event, line.recv_ns)
            t2 = clock()
            parse_us.append((t1 - t0) / 1e3)
            book_us.append((t2 - t1) / 1e3)
        elif type(event) is MarkPrice:
            changed = bot._handle(event, line.recv_ns)
        else:
            if event is not None:
                bot._handle(event, line.recv_ns)
            continue
        if changed:
            t3 = clock()
            bot._evaluate(line.recv_ns)
            eval_us.append((clock() - t3) / 1e3)
    return PerEvent(parse_us, book_us, eval_us)
