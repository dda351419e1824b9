"""Event-to-order latency on the local exchange.

The local exchange runs in its own process (`python -m arbitrage.sim`), like a venue across a
network, so it does not share this process's interpreter lock with the bot. The bot runs here,
built by `app.main.connect` and started with `Bot.run`, with thresholds low enough to enter often.

Two clocks per entry leg, both `time.time_ns()`:
- the receive time of the WebSocket message that made the entry decision true (stamped by the
  stream runner right after the frame was read; carried on the event, then on the pair);
- the moment that leg's HTTP request is handed to the socket: `http.client.HTTPConnection.send`
  is wrapped (observation only) to note the time just before the request line and headers are
  written; the body that follows names the client order id, which ties it to the entry.
The product also stamps each leg just before its client is called (`PairResult.sent_ns`); the
difference between that and the socket is the cost of building, signing and handing over the
request, reported separately.
"""
from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from arbitrage.exchanges.http import BinanceHttp
from bench.botkit import build_bot

REPO = Path(__file__).resolve().parent.parent
# Often enough for ≥100 entries in well under a minute, small so the book absorbs them. The
# cool-down after an exit (default 5 s) is cut to 0.1 s: long enough that an entry never waits
# behind the previous pair's ledger rows (fsynced on the engine thread), as with the default.
FLAGS = ("--enter-bps", "0.5", "--exit-bps", "0.3", "--stop-bps", "40", "--min-v-usd", "100",
         "--max-q-btc-frontier", "0.02", "--reopen-cooldown-sec", "0.1", "--max-hold-sec", "0.05",
         "--pair-poll-interval", "0.05",
         "--status-interval", "3600")
_ORDER_LINE = re.compile(rb"^POST (/api/v3/order|/dapi/v1/order) ")
_CLIENT_ID = re.compile(rb"newClientOrderId=([A-Za-z0-9_.:/-]+)")


class AckClock:
    """Wraps BinanceHttp._send (the bot's transport) to time each order POST from the call to its
    answer: the order -> ack round trips of a recorded latency profile (`--latency-profile-out`,
    read by `python -m app.backtest --latency-profile`)."""

    def __init__(self) -> None:
        self.round_trips_ms: list[float] = []
        self._original = BinanceHttp._send

    def __enter__(self) -> "AckClock":
        original, trips = self._original, self.round_trips_ms

        def _send(http, method, path, url, body, headers):
            if method != "POST" or not path.endswith("/order"):
                return original(http, method, path, url, body, headers)
            began = time.perf_counter_ns()
            try:
                return original(http, method, path, url, body, headers)
            finally:
                trips.append((time.perf_counter_ns() - began) / 1e6)   # list.append: atomic

        BinanceHttp._send = _send
        return self

    def __exit__(self, *exc) -> None:
        BinanceHttp._send = self._original


def write_profile(path: Path, round_trips_ms: list[float]) -> None:
    """The backtest's latency profile format (arbitrage/backtest/latency_profile.py)."""
    path.write_text(json.dumps({"order_ack_ms": [round(x, 3) for x in round_trips_ms]}) + "\n")


class SocketClock:
    """Wraps http.client.HTTPConnection.send (which urllib3's connections use) to record when each
    order request reaches the socket, by client order id."""

    def __init__(self) -> None:
        self.sent_ns: dict[str, int] = {}
        self._original = http.client.HTTPConnection.send
        self._lock = threading.Lock()

    def __enter__(self) -> "SocketClock":
        original, sent, lock = self._original, self.sent_ns, self._lock

        def send(conn, data):
            now = time.time_ns()
            head = bytes(data[:64]) if isinstance(data, (bytes, bytearray, memoryview)) else b""
            if _ORDER_LINE.match(head):
                conn._bench_order_ns = now                 # headers first, the body follows
            else:
                started = getattr(conn, "_bench_order_ns", None)
                if started is not None and isinstance(data, (bytes, bytearray)):
                    found = _CLIENT_ID.search(data)
                    if found:
                        with lock:
                            sent[found.group(1).decode()] = started
                        conn._bench_order_ns = None
            return original(conn, data)

        http.client.HTTPConnection.send = send
        return self

    def __exit__(self, *exc) -> None:
        http.client.HTTPConnection.send = self._original


@dataclass
class Latency:
    entries: int
    e2o_us: list[float] = field(default_factory=list)       # per leg: event -> socket
    skew_us: list[float] = field(default_factory=list)      # per entry: |spot - perp| at the socket
    decide_us: list[float] = field(default_factory=list)    # per leg: event -> the bot's send stamp
    build_us: list[float] = field(default_factory=list)     # per leg: send stamp -> socket
    ack_ms: list[float] = field(default_factory=list)       # per order POST: call -> answer
    seconds: float = 0.0
    halted: str | None = None


def start_exchange(seed: int = 15, *extra: str) -> tuple[subprocess.Popen, dict]:
    # a weight limit far above Binance's: 100 entries a minute is not a rate the bot trades at, and
    # a 429 would measure the back-off instead of the path to the socket
    proc = subprocess.Popen([sys.executable, "-m", "arbitrage.sim", "--seed", str(seed),
                             "--weight-limit", "1000000", "--log-level", "WARNING", *extra], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    rest = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("REST"):
            rest = line.split()[1]
            break
    if rest is None:
        proc.kill()
        raise RuntimeError("the local exchange did not start")
    return proc, requests.get(f"{rest}/sim/info", timeout=10).json()


class _Venue:
    def __init__(self, info: dict) -> None:
        self.rest_url, self.ws_url = info["rest"], info["ws"]
        self.api_key, self.api_secret = info["api_key"], info["api_secret"]


def measure(entries: int = 120, timeout_s: float = 75.0) -> Latency:
    proc, info = start_exchange()
    try:
        with SocketClock() as sockets, AckClock() as acks:
            bot, stop = build_bot(_Venue(info), *FLAGS)
            runner = threading.Thread(target=bot.run, args=(stop,), daemon=True)
            t0 = time.monotonic()
            runner.start()
            deadline = t0 + timeout_s
            while (len(bot.stats.entry_latency) < entries and time.monotonic() < deadline
                   and not bot.trader.halt_reason):
                time.sleep(0.1)
            stop.set()
            runner.join(timeout=60)
            seconds = time.monotonic() - t0
        out = Latency(len(bot.stats.entry_latency), seconds=seconds, halted=bot.trader.halt_reason,
                      ack_ms=list(acks.round_trips_ms))
        for trade_id, trigger_ns, spot_sent, perp_sent in bot.stats.entry_latency:
            at_socket = [sockets.sent_ns.get(f"{trade_id}-{leg}-e1") for leg in ("s", "p")]
            if None in at_socket:
                continue
            for stamp, socket_ns in zip((spot_sent, perp_sent), at_socket):
                out.e2o_us.append((socket_ns - trigger_ns) / 1e3)
                out.decide_us.append((stamp - trigger_ns) / 1e3)
                out.build_us.append((socket_ns - stamp) / 1e3)
            out.skew_us.append(abs(at_socket[0] - at_socket[1]) / 1e3)
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
