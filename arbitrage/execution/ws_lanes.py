"""ORDER_TRANSPORT=ws: the fast lanes a bot opens at start and keeps warm — both WebSocket API
connections (orders), both user data streams (spot on the WS API connection, COIN-M by
listenKey) feeding one `OrderEventHub`, and the two gateways execution sends through.

Built once by `app.main.connect`; `start()` before the bot runs, `stop()` when it ends.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

import requests

from arbitrage.exchanges import ws_api_coinm, ws_api_spot
from arbitrage.exchanges.user_streams import CoinmUserStream, SpotUserStream
from arbitrage.exchanges.ws_api import WsApiConnection
from arbitrage.exchanges.ws_gateway import WsGateway
from arbitrage.models import UserStreamGap
from arbitrage.execution.order_events import OrderEventHub
from arbitrage.venues import VenueUrls, ws_api_urls_for

log = logging.getLogger("arbitrage.ws_lanes")


def ws_api_urls(venue: str, urls: VenueUrls, timeout: float = 5.0) -> tuple[str, str]:
    """(spot, COIN-M) WebSocket API URLs: fixed for testnet/live, asked of the local exchange."""
    if venue != "sim":
        return ws_api_urls_for(venue)
    info = requests.get(urls.spot_rest.rstrip("/") + "/sim/info", timeout=timeout).json()
    return info["ws_api"], info["ws_dapi"]


class WsLanes:
    def __init__(self, spot_client, coinm_client, api_urls: tuple[str, str], coinm_ws: str,
                 keys: tuple[str, str, str, str], timeout: float) -> None:
        spot_http, coinm_http = spot_client.http, coinm_client.http
        self.spot_api = ws_api_spot.SpotWsApi(WsApiConnection(
            api_urls[0], spot_http, keys[0], keys[1], ws_api_spot.TIME_PATH, timeout=timeout))
        self.coinm_api = ws_api_coinm.CoinmWsApi(WsApiConnection(
            api_urls[1], coinm_http, keys[2], keys[3], ws_api_coinm.TIME_PATH, timeout=timeout))
        self.spot_user = SpotUserStream(self.spot_api, self._deliver)
        self.coinm_user = CoinmUserStream(coinm_http, coinm_ws, self._deliver)
        self.hub = OrderEventHub(live=self.live)
        self.spot = WsGateway(spot_client, self.spot_api)
        self.coinm = WsGateway(coinm_client, self.coinm_api)
        self.to_engine: Callable[[object], None] | None = None   # the bot's queue (gaps)

    def live(self) -> bool:
        """Both user streams deliver now (an order's events can only then be waited for)."""
        return self.spot_user.subscribed.is_set() and self.coinm_user.connected.is_set()

    def _deliver(self, event) -> None:           # stream threads
        self.hub.deliver(event)
        if type(event) is UserStreamGap and self.to_engine is not None:
            self.to_engine(event)                # the engine asks for a REST reconciliation

    def start(self, wait: float = 10.0) -> "WsLanes":
        """Open both connections and both streams; raises when the COIN-M listenKey cannot be
        had (the caller retries). A connection still down after `wait` keeps trying: orders go
        by REST and entries wait for the streams meanwhile."""
        for conn in (self.spot_api.conn, self.coinm_api.conn):
            conn.start(wait=None)
        self.coinm_user.start(wait=wait)
        for conn in (self.spot_api.conn, self.coinm_api.conn):
            conn.start(wait=wait)
        self.spot_user.subscribed.wait(wait)
        log.info("[WSAPI] order transport ws: WebSocket API %s, user streams %s",
                 "up" if self.spot.connected and self.coinm.connected else "not yet up",
                 "live" if self.live() else "not yet live")
        return self

    def stop(self) -> None:
        for stop in (self.coinm_user.stop, self.spot_api.conn.stop, self.coinm_api.conn.stop):
            try:
                stop()
            except Exception as exc:             # noqa: BLE001 - closing: log and go on
                log.info("[WSAPI] close: %s", exc)

    def counts(self) -> dict[str, int]:
        """For the summary and the bench: orders by lane, events, gaps, reconnects."""
        return {"orders_ws": self.spot.sent_ws + self.coinm.sent_ws,
                "orders_rest_fallback": self.spot.sent_rest + self.coinm.sent_rest,
                "events": self.hub.events, "gaps": self.hub.gaps,
                "ws_api_connects": self.spot_api.conn.connects + self.coinm_api.conn.connects,
                "listenkey_renewals": self.coinm_user.renewals}
