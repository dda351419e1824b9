"""A recorded latency profile for a backtest (`--latency-profile FILE`): measured delays the
Latency model draws from instead of its constants (arbitrage/backtest/venue.py).

Two forms, whichever is simpler to write from a measurement:
- text: one number per line, an order's round trip in ms (request sent -> answer received);
  blank lines and lines starting with # are skipped;
- JSON: {"order_ack_ms": [...], "event_to_bot_ms": [...]} — the round trips, and the delays
  from a market event at the exchange to the bot's receipt of it (either list may be absent,
  not both; without event_to_bot_ms the feed keeps --latency-feed-ms).
Every delay is a finite number >= 0.
"""
from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

FLAG = "--latency-profile"


class LatencyProfileError(ValueError):
    pass


@dataclass(frozen=True)
class LatencyProfile:
    path: str
    order_ack_ms: tuple[float, ...]
    event_to_bot_ms: tuple[float, ...] = ()

    def describe(self, seed: int) -> str:
        parts = [f"profile {Path(self.path).name} (seed {seed}):"]
        for name, xs in (("order->ack", self.order_ack_ms), ("event->bot", self.event_to_bot_ms)):
            if xs:
                parts.append(f"{name} {len(xs)} samples, median {statistics.median(xs):g} ms, "
                             f"max {max(xs):g} ms;")
        return " ".join(parts).rstrip(";")


def load_profile(path: str | Path) -> LatencyProfile:
    where = f"{FLAG}: {path}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise LatencyProfileError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise LatencyProfileError(f"{where}: not valid JSON ({exc})") from None
        unknown = sorted(set(doc) - {"order_ack_ms", "event_to_bot_ms"})
        if unknown:
            raise LatencyProfileError(f"{where}: unknown key(s) {', '.join(unknown)} (expected "
                                      f"order_ack_ms, event_to_bot_ms)")
        lists = {k: doc.get(k) or [] for k in ("order_ack_ms", "event_to_bot_ms")}
    else:
        lists = {"order_ack_ms": [line.strip() for line in text.splitlines()
                                  if line.strip() and not line.lstrip().startswith("#")],
                 "event_to_bot_ms": []}
    out = {}
    for key, values in lists.items():
        if not isinstance(values, list):
            raise LatencyProfileError(f"{where}: {key} is not a list of ms")
        nums = []
        for i, v in enumerate(values, 1):
            try:
                x = float(v)
            except (TypeError, ValueError):
                x = math.nan
            if not math.isfinite(x) or x < 0 or isinstance(v, bool):
                raise LatencyProfileError(f"{where}: {key} value {i} is {v!r} (expected a "
                                          f"number of ms >= 0)")
            nums.append(x)
        out[key] = tuple(nums)
    if not out["order_ack_ms"] and not out["event_to_bot_ms"]:
        raise LatencyProfileError(f"{where}: no delays (expected one order round trip in ms per "
                                  f"line, or JSON with order_ack_ms / event_to_bot_ms lists)")
    return LatencyProfile(str(path), out["order_ack_ms"], out["event_to_bot_ms"])
