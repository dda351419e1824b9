"""Decoding Binance's depth messages: json, orjson, msgspec, on the recorded captures.

The bot needs, per depthUpdate, its ids and every level as floats. Timed per message over every
depth message of the captures (the synthetic stream's when they are absent), the candidates take
turns pass by pass so they see the same machine:
- `json.loads` and `orjson.loads`: a dict only, the level strings still to convert;
- `msgspec` untyped: likewise;
- `orjson + float()`: what the bot did before msgspec (dict, then a float() per string);
- `msgspec typed`: the bot's decoder now (arbitrage/exchanges/depth_wire.py): the envelope
  decoded into a typed struct, the level strings converted to floats in C, a DepthDiff built.
"""
from __future__ import annotations

import gc
import json
import statistics
import time
from dataclasses import dataclass

import msgspec
import orjson

from arbitrage.exchanges.depth_wire import decode_depth


def _orjson_floats(raw: str) -> tuple[list, list]:
    d = orjson.loads(raw)["data"]
    return ([(float(p), float(q)) for p, q in d["b"]], [(float(p), float(q)) for p, q in d["a"]])


CANDIDATES = {
    "json.loads": json.loads,
    "orjson.loads": orjson.loads,
    "msgspec untyped": msgspec.json.Decoder().decode,
    "orjson + float() (the bot before)": _orjson_floats,
    "msgspec typed, float levels (the bot now)": lambda raw: decode_depth(raw, 0),
}


@dataclass
class Decoding:
    messages: int
    us: dict[str, list[float]]       # candidate -> µs per message, one value per pass

    def median_us(self, name: str) -> float:
        return statistics.median(self.us[name])

    def ratio(self, name: str) -> float:
        return self.median_us(name) / self.median_us("json.loads")


CHUNKS = 60     # the candidates take turns chunk by chunk: a neighbour's burst hits them all


def measure(depth_lines: list[str], passes: int = 5) -> Decoding:
    us: dict[str, list[float]] = {name: [] for name in CANDIDATES}
    size = max(1, len(depth_lines) // CHUNKS)
    chunks = [depth_lines[i:i + size] for i in range(0, len(depth_lines), size)]
    clock = time.perf_counter
    gc.collect()
    for _ in range(passes):
        spent = dict.fromkeys(CANDIDATES, 0.0)
        for chunk in chunks:
            for name, decode in CANDIDATES.items():
                t0 = clock()
                for raw in chunk:
                    decode(raw)
                spent[name] += clock() - t0
        for name, seconds in spent.items():
            us[name].append(seconds / len(depth_lines) * 1e6)
    return Decoding(len(depth_lines), us)


def depth_lines(stream) -> list[str]:
    return [line.raw for line in stream.lines
            if line.snapshot_of is None and '"depthUpdate"' in line.raw[:90]]


if __name__ == "__main__":
    import argparse
    from pathlib import Path

    from bench import replay

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    stream = replay.load_captures(ap.parse_args().data) or replay.synthetic()
    result = measure(depth_lines(stream))
    print(f"{result.messages:,} depth messages of {stream.source}")
    for name in CANDIDATES:
        print(f"  {name:45s} {result.median_us(name):6.2f} us  {result.ratio(name):.2f}x json.loads")
