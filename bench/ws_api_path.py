"""Order entry's own cost on each lane: call -> request on the wire, WebSocket API vs REST.

Against a local exchange in its own process (as `latency.py`), a few hundred LIMIT_MAKER buys far
below the bid, each placed and cancelled, alternating lanes. Two clocks, both `time.time_ns()`:
just before `place()` is called, and just before the request's bytes are handed to the socket -
REST: `http.client.HTTPConnection.send` of the request line (latency.SocketClock); WebSocket API:
websocket-client's socket `send` of the frame (observation only, the first data frame of the call).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal

import websocket._core as ws_core

from arbitrage.exchanges import ws_api_spot
from arbitrage.exchanges.binance_spot import SpotClient
from arbitrage.exchanges.http import BinanceHttp
from arbitrage.exchanges.ws_api import WsApiConnection
from arbitrage.models import BUY, SPOT, OrderRequest
from bench.latency import SocketClock, start_exchange

SYMBOL = "BTCUSDT"


@dataclass
class Lanes:
    orders: int
    ws_us: list[float] = field(default_factory=list)
    rest_us: list[float] = field(default_factory=list)


class FrameClock:
    """Wraps websocket-client's socket send: when each frame reaches the socket."""

    def __init__(self) -> None:
        self.sent_ns: list[int] = []
        self._original = ws_core.send

    def __enter__(self) -> "FrameClock":
        original, sent = self._original, self.sent_ns

        def send(sock, data):
            if len(data) > 64:                      # a request, not a pong
                sent.append(time.time_ns())
            return original(sock, data)
        ws_core.send = send
        return self

    def __exit__(self, *exc) -> None:
        ws_core.send = self._original


def measure(orders: int = 300) -> Lanes:
    proc, info = start_exchange(seed=21)
    out = Lanes(orders)
    try:
        key, secret = info["api_key"], info["api_secret"]
        rest = SpotClient(BinanceHttp(info["rest"], key, secret))
        ws = ws_api_spot.SpotWsApi(WsApiConnection(info["ws_api"], BinanceHttp(info["rest"], key, secret),
                                                   key, secret, ws_api_spot.TIME_PATH))
        ws.conn.start()
        bid = Decimal(str(rest.depth(SYMBOL, 5).bids[0][0]))
        price = (bid * Decimal("0.8")).quantize(Decimal("0.01"))
        with SocketClock() as sockets, FrameClock() as frames:
            for i in range(orders):
                for lane in ("ws", "rest"):
                    cid = f"bench-{lane}-{i}"
                    req = OrderRequest(SPOT, SYMBOL, BUY, "LIMIT_MAKER", Decimal("0.0002"), cid, price=price)
                    if lane == "ws":
                        frames.sent_ns.clear()
                        began = time.time_ns()
                        ws.place(req)
                        out.ws_us.append((frames.sent_ns[0] - began) / 1e3)
                        ws.cancel(SYMBOL, cid)
                    else:
                        began = time.time_ns()
                        rest.new_order(req)
                        out.rest_us.append((sockets.sent_ns[cid] - began) / 1e3)
                        rest.cancel_order(SYMBOL, cid)
        ws.conn.stop()
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except Exception:
            proc.kill()


if __name__ == "__main__":
    import statistics
    lanes = measure(200)
    for name, values in (("ws", lanes.ws_us), ("rest", lanes.rest_us)):
        values.sort()
        print(name, f"median {statistics.median(values):.1f} us",
              f"p99 {values[int(len(values) * .99) - 1]:.1f} us")
