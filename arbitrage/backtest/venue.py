"""The venue of a backtest: the bot's own REST clients (SpotClient, CoinmClient) whose transport
calls the local exchange's endpoints in-process instead of sending HTTP, with the latency model
applied in simulated time.

Everything above the transport is the live code: request signing, the exchange's authentication,
its matching, accounts, fees and funding, the JSON shapes and the clients' parsing and error
mapping. Only the socket is gone.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from arbitrage.backtest.clock import SimClock
from arbitrage.backtest.latency_profile import LatencyProfile
from arbitrage.exchanges.http import BinanceHttp
from arbitrage.sim.rest import ApiError, Reply, Request, Route

# the calls the pair protocol waits on (orders, their fills): these cross the network in
# simulated time; account and income reads run off the engine thread live, and are instant here
_DELAYED_SUFFIXES = ("/order", "/myTrades", "/userTrades")


@dataclass
class Latency:
    """One-way delays in ms: an order to the exchange, its answer back, market data to the bot.
    `jitter_ms` > 0 adds an exponential delay of that mean to each order and answer, drawn from
    a generator seeded with `seed` (the same seed, the same run). A recorded `profile`
    (arbitrage/backtest/latency_profile.py) replaces the constants with its measured delays,
    drawn with the same seed: each order's round trip is one measured order -> ack delay, half
    on the way there and half back (a round trip does not say how it split), and each market
    event waits one measured event -> bot delay when the profile has them."""
    order_ms: float = 5.0
    answer_ms: float = 5.0
    feed_ms: float = 5.0
    jitter_ms: float = 0.0
    seed: int = 0
    profile: LatencyProfile | None = None

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._feed_rng = random.Random(f"feed:{self.seed}")    # its own: orders do not shift it
        self._back_s = 0.0

    def _draw(self, base_ms: float) -> float:
        extra = self._rng.expovariate(1.0 / self.jitter_ms) if self.jitter_ms > 0 else 0.0
        return (base_ms + extra) / 1000.0

    def to_exchange_s(self) -> float:
        if self.profile is not None and self.profile.order_ack_ms:
            round_trip = self._rng.choice(self.profile.order_ack_ms) / 1000.0
            self._back_s = round_trip / 2
            return round_trip / 2
        return self._draw(self.order_ms)

    def to_bot_s(self) -> float:
        if self.profile is not None and self.profile.order_ack_ms:
            return self._back_s
        return self._draw(self.answer_ms)

    @property
    def feed_ns(self) -> int:
        return int(self.feed_ms * 1_000_000)

    def feed_sampler(self) -> Callable[[], int] | None:
        """Draws one market event's delay in ns, when the profile has measured ones."""
        if self.profile is None or not self.profile.event_to_bot_ms:
            return None
        samples = [int(ms * 1_000_000) for ms in self.profile.event_to_bot_ms]
        choice = self._feed_rng.choice
        return lambda: choice(samples)

    def describe(self) -> str:
        if self.profile is not None:
            return self.profile.describe(self.seed) + (
                "" if self.profile.event_to_bot_ms else f", feed {self.feed_ms:g} ms")
        text = f"order {self.order_ms:g} ms, answer {self.answer_ms:g} ms, feed {self.feed_ms:g} ms"
        return text + (f", jitter exp(mean {self.jitter_ms:g} ms, seed {self.seed})"
                       if self.jitter_ms > 0 else "")


class InProcessHttp(BinanceHttp):
    """BinanceHttp whose `_send` dispatches to the local exchange's route handlers."""

    def __init__(self, routes: dict[tuple[str, str], Route], clock: SimClock, latency: Latency,
                 api_key: str, api_secret: str, recv_window: int = 5000) -> None:
        super().__init__("http://backtest.invalid", api_key, api_secret, recv_window=recv_window,
                         clock=clock.time, sleep=clock.sleep, monotonic=clock.monotonic,
                         rng=random.Random(0))
        self.routes = routes
        self.sim_clock = clock
        self.latency = latency
        self.requests = 0

    def _send(self, method: str, path: str, url: str, body: str | None,
              headers: dict[str, str]) -> Any:
        self.requests += 1
        delayed = path.endswith(_DELAYED_SUFFIXES)
        if delayed:
            self.sim_clock.sleep(self.latency.to_exchange_s())
        parts = urlsplit(url)
        params = dict(parse_qsl(body or "", keep_blank_values=True))
        params.update(parse_qsl(parts.query, keep_blank_values=True))
        req = Request(method, parts.path, params, parts.query, (body or "").encode(),
                      {k.lower(): v for k, v in headers.items()}, "127.0.0.1")
        route = self.routes.get((method, parts.path))
        status, extra = 200, {}
        if route is None:
            status, payload = 404, {"code": -1000, "msg": f"Unknown endpoint {method} {parts.path}."}
        else:
            try:
                payload = route.handler(req)
                if isinstance(payload, Reply):
                    status, extra, payload = payload.status, payload.headers, payload.payload
            except ApiError as err:
                status, payload, extra = err.status, {"code": err.code, "msg": err.msg}, err.headers
        content = json.dumps(payload, separators=(",", ":")).encode()   # the wire's types
        if delayed:
            self.sim_clock.sleep(self.latency.to_bot_s())
        if status >= 400:
            raise self._error(status, payload, content, extra, method, path)
        return json.loads(content)
