"""User data streams of both products, delivered as domain events to one callback.

- Spot: `userDataStream.subscribe.signature` on the WebSocket API connection; the subscription
  lives as long as the connection, so every (re)connect subscribes again (binance-ws-api.md §6.1).
- COIN-M: a listenKey from REST `POST /dapi/v1/listenKey` and the stream `<ws base>/ws/<key>`,
  kept alive with `PUT` every `keepalive_s` (the key lapses after 60 min); on `listenKeyExpired`,
  a lost connection or a refused keep-alive, `POST` again (same key if it still lives, else a new
  one) and follow it (§6.2, reference §12).

Any time the stream was not delivering (a disconnect, a terminated subscription, an expired key)
is reported once delivery is back, as `UserStreamGap(since, until)`: events may be lost in it, so
the engine reconciles by REST before any new entry.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from arbitrage.exchanges.errors import BinanceError
from arbitrage.exchanges.http import BinanceHttp
from arbitrage.exchanges.user_events import parse_coinm_event, parse_spot_event
from arbitrage.exchanges.ws import StreamRunner
from arbitrage.exchanges.ws_api import WsApiConnection
from arbitrage.exchanges.ws_api_spot import SpotWsApi
from arbitrage.models import COINM, SPOT, UserStreamGap

log = logging.getLogger(__name__)

Deliver = Callable[[Any], None]
LISTEN_KEY_PATH = "/dapi/v1/listenKey"
KEEPALIVE_S = 30 * 60.0            # Binance: keys live 60 min; a PUT every 30 leaves room for a miss


class _Gaps:
    """When delivery stopped; reported once, when it is back."""

    def __init__(self, market: str, deliver: Deliver) -> None:
        self.market, self._deliver = market, deliver
        self._since: int | None = None
        self._reason = ""
        self._lock = threading.Lock()

    def opened(self, reason: str) -> None:
        with self._lock:
            if self._since is None:
                self._since, self._reason = time.time_ns(), reason

    def closed(self) -> None:
        with self._lock:
            since, reason, self._since = self._since, self._reason, None
        if since is not None:
            log.warning("[USER] %s stream gap of %.1fs (%s): reconcile by REST", self.market,
                        (time.time_ns() - since) / 1e9, reason)
            self._deliver(UserStreamGap(self.market, since, time.time_ns(), reason))


def _parsed(parse, market: str, payload: dict, recv_ns: int, deliver: Deliver) -> None:
    try:
        events = parse(payload, recv_ns)
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        log.warning("[USER] %s unreadable event (%s): %r", market, exc, str(payload)[:160])
        return
    for event in events:
        deliver(event)


class SpotUserStream:
    """The spot subscription on a WebSocket API connection (which it hooks; start it after)."""

    def __init__(self, api: SpotWsApi, deliver: Deliver) -> None:
        self.api, self._deliver = api, deliver
        self.gaps = _Gaps(SPOT, deliver)
        self.subscribed = threading.Event()
        self.subscriptions = 0
        conn: WsApiConnection = api.conn
        conn.on_open, conn.on_close, conn.on_event = self._subscribe, self._lost, self._frame

    def _subscribe(self) -> None:
        try:
            self.api.subscribe_user_data()
        except BinanceError as exc:
            log.warning("[USER] spot subscribe failed (%s): reconnecting", exc)
            self.api.conn.reconnect()
            return
        self.subscriptions += 1
        self.subscribed.set()
        self.gaps.closed()

    def _lost(self, reason: str) -> None:
        if self.subscribed.is_set() or self.subscriptions:
            self.gaps.opened(reason)
        self.subscribed.clear()

    def _frame(self, msg: dict, recv_ns: int) -> None:
        event = msg.get("event")
        if "subscriptionId" not in msg or not isinstance(event, dict):
            return
        if event.get("e") == "eventStreamTerminated":
            self._lost("subscription terminated")
            threading.Thread(target=self._subscribe, daemon=True).start()
            return
        _parsed(parse_spot_event, SPOT, event, recv_ns, self._deliver)


class CoinmUserStream:
    """The COIN-M listenKey stream, its keep-alive and its renewals, in its own threads."""

    def __init__(self, http: BinanceHttp, ws_base: str, deliver: Deliver,
                 keepalive_s: float = KEEPALIVE_S, backoff_max: float = 5.0) -> None:
        self.http, self._ws_base, self._deliver = http, ws_base.rstrip("/"), deliver
        self.keepalive_s, self._backoff_max = keepalive_s, backoff_max
        self.gaps = _Gaps(COINM, deliver)
        self.connected = threading.Event()
        self.renewals = self.keepalives = 0
        self._key = ""
        self._runner: StreamRunner | None = None
        self._renew = threading.Event()
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None

    def start(self, wait: float | None = 10.0) -> "CoinmUserStream":
        self._follow(self._new_key())
        self._keeper = threading.Thread(target=self._keep, name="coinm-listenkey", daemon=True)
        self._keeper.start()
        if wait:
            self.connected.wait(wait)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._renew.set()
        if self._runner is not None:
            self._runner.stop()
        if self._keeper is not None:
            self._keeper.join(2.0)
        try:
            self.http.request("DELETE", LISTEN_KEY_PATH, api_key_only=True)
        except BinanceError as exc:
            log.info("[USER] listenKey close failed: %s", exc)

    # --- keeper thread ------------------------------------------------------------------------
    def _keep(self) -> None:
        while not self._stop.is_set():
            renew = self._renew.wait(self.keepalive_s)
            if self._stop.is_set():
                return
            self._renew.clear()
            try:
                if renew:
                    key = self._new_key()
                    if key != self._key:
                        self._follow(key)
                else:
                    self.http.request("PUT", LISTEN_KEY_PATH, api_key_only=True)
                    self.keepalives += 1
            except BinanceError as exc:   # -1125 (key gone) or the venue unreachable: renew soon
                log.warning("[USER] listenKey %s failed: %s", "renewal" if renew else "keep-alive",
                            exc)
                self._stop.wait(min(self._backoff_max, 1.0))
                self._renew.set()

    def _new_key(self) -> str:
        data = self.http.request("POST", LISTEN_KEY_PATH, api_key_only=True)
        return str(data["listenKey"])

    def _follow(self, key: str) -> None:
        old, self._key = self._runner, key
        if old is not None:
            self.renewals += 1
            old.stop()
        # the URL carries the key: StreamRunner logs only its host
        self._runner = StreamRunner("coinm-user", f"{self._ws_base}/ws/{key}", self._message,
                                    self._status, silence_timeout=None,
                                    backoff_max=self._backoff_max)
        self._runner.start()

    # --- runner thread ------------------------------------------------------------------------
    def _status(self, up: bool, reason: str) -> None:
        if up:
            self.connected.set()
            self.gaps.closed()
            return
        self.connected.clear()
        if not self._stop.is_set():
            self.gaps.opened(reason)
            self._renew.set()     # the key may have lapsed meanwhile: ask (same key if alive)

    def _message(self, text: str, recv_ns: int) -> None:
        payload = json.loads(text)
        if isinstance(payload, dict) and "data" in payload and "stream" in payload:
            payload = payload["data"]
        if not isinstance(payload, dict):
            return
        if payload.get("e") == "listenKeyExpired":
            log.warning("[USER] COIN-M listenKey expired: renewing")
            self.gaps.opened("listenKey expired")
            self._renew.set()
            return
        _parsed(parse_coinm_event, COINM, payload, recv_ns, self._deliver)
