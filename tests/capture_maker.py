"""Small capture files in the recorded format (data/SOURCES.md), written by the tests themselves.

`make_captures` writes a spot and a COIN-M capture of a calm market: every level a fixed number of
ticks from a fixed centre (so the book never crosses), quantities changing at random, one REST
snapshot early in each file (after the first diffs, as a recorder fetches it), and a bookTicker
after most diffs carrying that diff's `u` and the true top. `split_capture` cuts one capture in two
at an update id, the way the next day's file continues the previous one: no snapshot of its own.
"""
from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass
from pathlib import Path

T0_NS = 1_723_161_254_000_000_000
CLOCK_AHEAD_MS = 1270          # the recorder's clock ran ahead of the exchange's event times
LEVELS = 12


@dataclass
class Capture:
    path: Path
    lines: list[str]               # as written, each ending with a newline
    last_event_ms: int             # the largest `E` in the file
    diff_ids: list[int]            # every diff's `u`, in order


class _Book:
    def __init__(self, rng: random.Random, centre: float, tick: float, qty) -> None:
        self.rng, self.qty = rng, qty
        self.bids = {round(centre - k * tick, 8): qty() for k in range(1, LEVELS + 1)}
        self.asks = {round(centre + k * tick, 8): qty() for k in range(1, LEVELS + 1)}
        self.all_bids, self.all_asks = list(self.bids), list(self.asks)

    def change(self) -> tuple[list, list]:
        bids, asks = [], []
        for _ in range(self.rng.randint(1, 3)):
            side, levels, out = ((self.bids, self.all_bids, bids) if self.rng.random() < 0.5
                                 else (self.asks, self.all_asks, asks))
            price = self.rng.choice(levels[:4])                     # near the top: the top moves
            qty = 0 if self.rng.random() < 0.3 else self.qty()
            if qty:
                side[price] = qty
            else:
                side.pop(price, None)
            out.append((price, qty))
        return bids, asks

    def top(self):
        bid = max(self.bids) if self.bids else None
        ask = min(self.asks) if self.asks else None
        return ((bid, self.bids[bid]) if bid is not None else None,
                (ask, self.asks[ask]) if ask is not None else None)


def _line(ns: int, message: dict) -> str:
    return f"{ns} {json.dumps(message, separators=(',', ':'))}\n"


def _write(path: Path, lines: list[str]) -> None:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as fh:
        fh.writelines(lines)


def make_captures(folder: Path, seconds: float = 20.0, step_ms: int = 100, seed: int = 3,
                  snapshot_after: int = 5) -> tuple[Capture, Capture]:
    """spot_btcusdt.gz and cm_btcusd_perp.txt in `folder`: `seconds` of market, one diff per
    symbol every `step_ms`."""
    rng = random.Random(seed)
    spot_fmt = lambda p, q: [f"{p:.8f}", f"{q:.8f}"]                  # noqa: E731
    cm_fmt = lambda p, q: [f"{p:.1f}", str(q)]                         # noqa: E731
    spot = _Book(rng, 60_000.00, 0.01, lambda: round(rng.uniform(0.001, 2.0), 5))
    perp = _Book(rng, 60_030.0, 0.1, lambda: rng.randint(1, 500))
    spot_lines: list[str] = []
    cm_lines: list[str] = []
    spot_ids: list[int] = []
    cm_ids: list[int] = []
    spot_u, cm_u = 50_093_239_000, 1_007_198_635_000
    spot_snap = cm_snap = None
    steps = int(seconds * 1000 / step_ms)
    event_ms = 0
    for i in range(steps):
        ns = T0_NS + i * step_ms * 1_000_000
        event_ms = ns // 1_000_000 - CLOCK_AHEAD_MS
        # spot
        bids, asks = spot.change()
        first, spot_u = spot_u + 1, spot_u + rng.randint(1, 4)
        spot_lines.append(_line(ns, {"stream": "btcusdt@depth@100ms", "data": {
            "e": "depthUpdate", "E": event_ms, "s": "BTCUSDT", "U": first, "u": spot_u,
            "b": [spot_fmt(p, q) for p, q in bids], "a": [spot_fmt(p, q) for p, q in asks]}}))
        spot_ids.append(spot_u)
        if i == snapshot_after:                            # the book as of this diff, fetched later
            spot_snap = (spot_u, [spot_fmt(p, q) for p, q in sorted(spot.bids.items(), reverse=True)],
                         [spot_fmt(p, q) for p, q in sorted(spot.asks.items())])
        if i == snapshot_after + 1:
            u, b, a = spot_snap
            spot_lines.append(_line(ns + 10_000, {"lastUpdateId": u, "bids": b, "asks": a}))
        (bp, bq), (ap, aq) = spot.top()
        if rng.random() < 0.8:
            spot_lines.append(_line(ns + 20_000, {"stream": "btcusdt@bookTicker", "data": {
                "u": spot_u, "s": "BTCUSDT", "b": f"{bp:.8f}", "B": f"{bq:.8f}",
                "a": f"{ap:.8f}", "A": f"{aq:.8f}"}}))
        # COIN-M, a little later in the same step
        cm_ns = ns + 30_000_000
        bids, asks = perp.change()
        prev, first, cm_u = cm_u, cm_u + 1, cm_u + rng.randint(1, 6)
        cm_event = cm_ns // 1_000_000 - CLOCK_AHEAD_MS
        cm_lines.append(_line(cm_ns, {"stream": "btcusd_perp@depth@0ms", "data": {
            "e": "depthUpdate", "E": cm_event, "T": cm_event - 3, "s": "BTCUSD_PERP", "ps": "BTCUSD",
            "U": first, "u": cm_u, "pu": prev,
            "b": [cm_fmt(p, q) for p, q in bids], "a": [cm_fmt(p, q) for p, q in asks]}}))
        cm_ids.append(cm_u)
        if i == snapshot_after:
            cm_snap = (cm_u, cm_event, [cm_fmt(p, q) for p, q in sorted(perp.bids.items(), reverse=True)],
                       [cm_fmt(p, q) for p, q in sorted(perp.asks.items())])
        if i == snapshot_after + 1:
            u, e, b, a = cm_snap
            cm_lines.append(_line(cm_ns + 10_000, {"lastUpdateId": u, "E": e, "T": e - 3,
                                                   "symbol": "BTCUSD_PERP", "pair": "BTCUSD",
                                                   "bids": b, "asks": a}))
        (bp, bq), (ap, aq) = perp.top()
        if rng.random() < 0.8:
            cm_lines.append(_line(cm_ns + 20_000, {"stream": "btcusd_perp@bookTicker", "data": {
                "e": "bookTicker", "u": cm_u, "s": "BTCUSD_PERP", "ps": "BTCUSD",
                "b": f"{bp:.1f}", "B": str(bq), "a": f"{ap:.1f}", "A": str(aq),
                "T": cm_event, "E": cm_event}}))
    spot_path, cm_path = folder / "spot_btcusdt.gz", folder / "cm_btcusd_perp.txt"
    _write(spot_path, spot_lines)
    _write(cm_path, cm_lines)
    return (Capture(spot_path, spot_lines, event_ms, spot_ids),
            Capture(cm_path, cm_lines, event_ms + 30, cm_ids))


def split_capture(capture: Capture, after_u: int, first: Path, second: Path) -> None:
    """Everything up to the diff whose `u` is `after_u` (and the tickers recorded with it) into
    `first`, the rest into `second`: the next day's file, no snapshot, ids going on."""
    cut = next(i for i, line in enumerate(capture.lines)
               if '"depthUpdate"' in line and f'"u":{after_u},' in line)
    while cut + 1 < len(capture.lines) and "bookTicker" in capture.lines[cut + 1]:
        cut += 1
    head, tail = capture.lines[:cut + 1], capture.lines[cut + 1:]
    assert not any('"lastUpdateId"' in line for line in tail), "the split must come after the snapshot"
    _write(first, head)
    _write(second, tail)
