"""The local exchange's fast lanes, assembled: the WebSocket API of both products, the user data
streams and their faults (binance-ws-api.md). `LocalExchange` owns one and delegates to it."""
from __future__ import annotations

import logging

from arbitrage.models import COINM, SPOT
from arbitrage.sim.api_coinm import CoinmApi
from arbitrage.sim.api_coinm_user import CoinmUserApi
from arbitrage.sim.api_spot import SpotApi
from arbitrage.sim.api_spot_amend import SpotAmendApi
from arbitrage.sim.channel_faults import ChannelFaults
from arbitrage.sim.rest import Route, WeightMeter
from arbitrage.sim.trading import Trading
from arbitrage.sim.user_stream import LISTEN_KEY_TTL, UserStreams
from arbitrage.sim.wire_faults import FaultCounts, HttpFaults
from arbitrage.sim.ws_api import WsApi
from arbitrage.sim.ws_api_coinm import coinm_methods
from arbitrage.sim.ws_api_spot import forget_subscriptions, spot_methods

log = logging.getLogger("arbitrage.sim")

SPOT_PATH, COINM_PATH = "/ws-api/v3", "/ws-dapi/v1"
# (ping every, pong deadline) in seconds: binance-ws-api.md §1.2
SPOT_PING, COINM_PING = (20.0, 60.0), (180.0, 600.0)
# the ORDERS limits of exchangeInfo (info.py), by order-count header suffix
SPOT_ORDER_LIMITS, COINM_ORDER_LIMITS = {"10S": 100, "1D": 200000}, {"1M": 1200}


class FastLanes:
    def __init__(self, trading: Trading, counts: FaultCounts, meter: WeightMeter, http_faults: HttpFaults,
                 seed: int, listen_key_ttl: float = LISTEN_KEY_TTL,
                 spot_ping: tuple[float, float] = SPOT_PING, coinm_ping: tuple[float, float] = COINM_PING) -> None:
        self.counts = counts
        self.faults = ChannelFaults(counts)
        self.streams = UserStreams(trading, self.faults, seed, listen_key_ttl)
        self.spot_api, self.coinm_api = SpotApi(trading), CoinmApi(trading)
        self.spot_amend = SpotAmendApi(self.spot_api)
        self.coinm_user = CoinmUserApi(self.coinm_api, self.streams)
        self.spot = WsApi(SPOT_PATH, SPOT, spot_methods(self.spot_api, self.spot_amend, self.streams), meter,
                          SPOT_ORDER_LIMITS, http_faults, self.faults,
                          on_close=lambda session: forget_subscriptions(self.streams, session))
        self.coinm = WsApi(COINM_PATH, COINM, coinm_methods(self.coinm_api, self.coinm_user), meter,
                           COINM_ORDER_LIMITS, http_faults, self.faults)
        self.pings = {SPOT_PATH: spot_ping, COINM_PATH: coinm_ping}
        self.hub = None

    def routes(self) -> dict[tuple[str, str], Route]:
        return {**self.spot_api.routes(), **self.spot_amend.routes(), **self.coinm_api.routes(),
                **self.coinm_user.routes()}

    def ws_apis(self) -> dict[str, tuple[WsApi, float, float]]:
        return {path: (api, *self.pings[path]) for path, api in ((SPOT_PATH, self.spot), (COINM_PATH, self.coinm))}

    def attach(self, hub) -> None:
        """The stream hub that serves the listenKey streams."""
        self.hub = hub
        self.streams.publish = hub.publish

    # -- faults (thread-safe) ------------------------------------------------------------------
    def drop_user_streams(self) -> int:
        """Close every connection that carries user data: spot WebSocket API connections with a
        subscription, COIN-M listenKey streams. How many were closed."""
        closed = self.spot.close_subscribed()
        if self.hub is not None:
            closed += sum(self.hub.close_stream(key) for key in self.streams.live_keys())
        if closed:
            self.counts.add("uds_drop")
            log.info("[FAULT] %d user data stream connection(s) dropped", closed)
        return closed

    def expire_listen_keys(self) -> int:
        expired = self.streams.expire_keys_now()
        if expired:
            self.counts.add("listenkey_expired")
            log.info("[FAULT] %d listenKey(s) expired early", expired)
        return expired
