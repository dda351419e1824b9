"""The two order transports side by side (ORDER_TRANSPORT=rest vs ws), for `make bench`.

Per transport, the real bot in-process (as `app.main` builds it) trades for `seconds` against a
local exchange in its own process whose fault plan refuses the next order on a market picked at
random every `reject_period` s (arbitrage/sim/chaos.py `reject`): an entry leg refused while the
other fills is a lone fill, and the bot rescues it. Measured, all with `time.time_ns()`:

- event -> each entry leg on the wire: from the receive time of the market message that decided
  the entry (`PairSpec.trigger_ns`) to the leg's request handed to the socket - REST: the request
  line written by `http.client` (latency.SocketClock); ws: the frame written by websocket-client
  (`FrameClock` below), both by client order id; and the skew between the two legs;
- fill known -> rescue on the wire: from the moment the executor knew both legs' outcomes
  (`PairResult.settled_ns`: answers in, or the pushed events that made them final, applied) to
  the rescue order (`<trade>-<s|p>-r1`) handed to the socket;
- request weight per round trip: the exchange's own tally of the weight it charged (the same
  function that fills X-MBX-USED-WEIGHT-1M; `GET /sim/weight`) from the first to the last second
  of the run (start-up excluded), REST and WebSocket API requests apart (Binance counts WebSocket
  API requests against the same per-IP REQUEST_WEIGHT limits), divided by the trades closed.
"""
from __future__ import annotations

import json
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
import websocket
import websocket._core as ws_core

from app.main import connect
from arbitrage.config import load_settings
from arbitrage.venues import VenueUrls
from bench.latency import SocketClock, start_exchange

# thresholds that trade often and small, trades held 0.5 s: more round trips a run
FLAGS = ("--enter-bps", "0.5", "--exit-bps", "0.3", "--stop-bps", "40", "--min-v-usd", "100",
         "--max-q-btc-frontier", "0.05", "--flatten-on-exit", "--log-level", "WARNING",
         "--max-hold-sec", "0.5", "--reopen-cooldown-sec", "0.2")

_CLIENT_ID = re.compile(r'"newClientOrderId":\s*"([^"]+)"')


class FrameClock:
    """When each order.place frame reaches the socket, by client order id: WebSocket.send notes
    the id of the frame it is about to write (same thread), websocket-client's socket send stamps
    it just before the (masked) bytes are written. Observation only."""

    def __init__(self) -> None:
        self.sent_ns: dict[str, int] = {}
        self._send, self._text = ws_core.send, websocket.WebSocket.send
        self._local = threading.local()

    def __enter__(self) -> "FrameClock":
        local, sent, raw_send, text_send = self._local, self.sent_ns, self._send, self._text

        def send_text(ws, payload, *args, **kwargs):
            found = _CLIENT_ID.search(payload) if isinstance(payload, str) else None
            local.cid = found.group(1) if found else None
            try:
                return text_send(ws, payload, *args, **kwargs)
            finally:
                local.cid = None

        def send_bytes(sock, data):
            cid = getattr(local, "cid", None)
            if cid is not None:
                sent.setdefault(cid, time.time_ns())
                local.cid = None
            return raw_send(sock, data)

        websocket.WebSocket.send = send_text
        ws_core.send = send_bytes
        return self

    def __exit__(self, *exc) -> None:
        websocket.WebSocket.send, ws_core.send = self._text, self._send


@dataclass
class Lane:
    transport: str
    seconds: float
    legs_ms: list[float] = field(default_factory=list)      # event -> each entry leg on the wire
    skew_ms: list[float] = field(default_factory=list)      # between the two legs of an entry
    rescue_ms: list[float] = field(default_factory=list)    # outcomes known -> rescue on the wire
    round_trips: int = 0
    rest_weight: int = 0
    ws_weight: int = 0
    rest_by_endpoint: dict[str, int] = field(default_factory=dict)
    ws_by_method: dict[str, int] = field(default_factory=dict)
    halted: str | None = None

    def per_trip(self, weight: int) -> float:
        return weight / self.round_trips if self.round_trips else float("nan")


def _spent(rest_url: str) -> dict:
    return requests.get(f"{rest_url}/sim/weight", timeout=10).json()


def _diff(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def measure(transport: str, seconds: float = 45.0, reject_period: float = 3.0,
            seed: int = 15) -> Lane:
    proc, info = start_exchange(seed, "--faults", f"reject={reject_period:g},seed={seed}")
    work = Path(tempfile.mkdtemp(prefix=f"bench-lanes-{transport}-"))
    out = Lane(transport, seconds)
    results = []
    try:
        env = {"SPOT_KEY": info["api_key"], "SPOT_SECRET": info["api_secret"],
               "DAPI_KEY": info["api_key"], "DAPI_SECRET": info["api_secret"]}
        settings = load_settings(["--venue", "sim", "--sim-url", info["rest"], *FLAGS,
                                  "--order-transport", transport,
                                  "--trades-log", str(work / "trades_log.csv"),
                                  "--state-path", str(work / "state.json")], env, dotenv_path=None)
        with SocketClock() as sockets, FrameClock() as frames:
            stop = threading.Event()
            bot = connect(settings, VenueUrls(info["rest"], info["ws"], info["rest"], info["ws"]), stop)
            done = bot.executor.on_done

            def on_done(result):
                results.append(result)
                done(result)
            bot.executor.on_done = on_done
            before = _spent(info["rest"])
            bot.run(stop, seconds)
            after = _spent(info["rest"])
        out.halted = bot.trader.halt_reason
        out.round_trips = len(bot.trader.closed)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    weight = _diff(after["weight"], before["weight"])
    out.rest_by_endpoint = {k[5:]: v for k, v in weight.items() if k.startswith("REST ")}
    out.ws_by_method = {k[3:]: v for k, v in weight.items() if k.startswith("WS ")}
    out.rest_weight, out.ws_weight = sum(out.rest_by_endpoint.values()), sum(out.ws_by_method.values())
    wire = {**sockets.sent_ns, **frames.sent_ns}
    for result in results:
        spec = result.spec
        if spec.kind == "entry" and spec.trigger_ns:
            legs = [wire.get(spec.spot.client_order_id), wire.get(spec.perp.client_order_id)]
            if None not in legs:
                out.legs_ms += [(ns - spec.trigger_ns) / 1e6 for ns in legs]
                out.skew_ms.append(abs(legs[0] - legs[1]) / 1e6)
        if result.rescues and result.settled_ns:
            first = wire.get(result.rescues[0].request.client_order_id)
            if first is not None:
                out.rescue_ms.append((first - result.settled_ns) / 1e6)
    return out


if __name__ == "__main__":
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    for name in ("rest", "ws"):
        lane = measure(name, secs)
        print(json.dumps({"transport": name, "entries": len(lane.skew_ms),
                          "rescues": len(lane.rescue_ms), "round_trips": lane.round_trips,
                          "rest_weight": lane.rest_by_endpoint, "ws_weight": lane.ws_by_method,
                          "halted": lane.halted}, indent=1), flush=True)
