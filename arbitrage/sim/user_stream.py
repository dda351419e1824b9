"""User data streams of the local exchange (binance-ws-api.md §6, reference §12).

Every change the desks announce (orders from REST and the WebSocket API alike, forced reductions)
and every funding settlement becomes the events Binance would send, built under the market lock
and handed on in that order:
  - spot: to each `userDataStream.subscribe.signature` subscription (a sink the WebSocket API
    session registered; it wraps the event in `{"subscriptionId":N,"event":…}`);
  - COIN-M: to the stream named by the account's live listenKey (`/ws/<listenKey>`, or SUBSCRIBE
    on `/stream`), which the stream hub serves like any market stream.
A listenKey lives `listen_key_ttl` seconds (60 min on Binance) unless kept alive; when it lapses,
its stream gets `listenKeyExpired` and nothing more.
"""
from __future__ import annotations

import itertools
import logging
import random
import string
import threading
import time
from decimal import Decimal
from typing import Callable

from arbitrage.sim import user_events as ev
from arbitrage.sim.channel_faults import ChannelFaults
from arbitrage.sim.market import wall_ms
from arbitrage.sim.orders import SimOrder, SimTrade
from arbitrage.sim.rest import ApiError
from arbitrage.sim.trading import Trading

log = logging.getLogger("arbitrage.sim.user_stream")

ACCOUNT_ALIAS = "sImAcct0"
LISTEN_KEY_TTL = 3600.0
EXPIRED_KEY = ApiError(-1125, "This listenKey does not exist.")
Sink = Callable[[dict], None]


class UserStreams:
    def __init__(self, trading: Trading, faults: ChannelFaults, seed: int,
                 listen_key_ttl: float = LISTEN_KEY_TTL) -> None:
        self.t = trading
        self.faults = faults
        self.listen_key_ttl = listen_key_ttl
        self.publish: Callable[[str, dict], None] | None = None    # (stream name, event): the hub
        self._spot_sinks: dict[int, Sink] = {}
        self._tokens = itertools.count(1)
        self._exec_ids = itertools.count(1)
        self._keys: dict[str, float] = {}           # listenKey -> monotonic expiry
        self._lock = threading.Lock()
        self._rng = random.Random(seed + 29)
        self._income_seen = len(trading.account.income)
        trading.spot.listeners.append(self._on_spot)
        trading.coinm.listeners.append(self._on_coinm)
        trading.after_change.append(self.poll_funding)

    # -- spot subscriptions ------------------------------------------------------------------
    def add_spot_sink(self, sink: Sink) -> int:
        with self._lock:
            token = next(self._tokens)
            self._spot_sinks[token] = sink
            return token

    def remove_spot_sink(self, token: int) -> None:
        with self._lock:
            self._spot_sinks.pop(token, None)

    def _to_spot(self, event: dict) -> None:
        with self._lock:
            sinks = list(self._spot_sinks.values())
        for sink in sinks:
            sink(event)

    def _on_spot(self, what: str, order: SimOrder, trades: list[SimTrade], cancel_id: str | None) -> None:
        now = wall_ms()
        for step in ev.order_steps(what, order, trades):
            if self.faults.take_lost_event("spot"):
                log.info("[FAULT] executionReport %s %s of order %s not sent", step[0], step[1], order.order_id)
                continue
            self._to_spot(ev.execution_report(order, step, now, next(self._exec_ids), cancel_id))
        if what == "placed" and not trades and not order.is_open:
            return                                   # nothing was locked or moved
        spec = self.t.market.books[order.symbol].spec
        self._to_spot(ev.account_position(self.t.wallet.rows(), (spec.base_asset, spec.quote_asset), now,
                                          self.t.wallet.update_ms or now))

    # -- COIN-M listenKeys -------------------------------------------------------------------
    def start_key(self) -> str:
        """The account's live key, extended; a new one when none lives (POST listenKey,
        userDataStream.start)."""
        self.tick()
        with self._lock:
            key = next(iter(self._keys), None)
            if key is None:
                key = "".join(self._rng.choice(string.ascii_letters + string.digits) for _ in range(64))
            self._keys[key] = time.monotonic() + self.listen_key_ttl
            return key

    def ping_key(self) -> str:
        self.tick()
        with self._lock:
            key = next(iter(self._keys), None)
            if key is None:
                raise EXPIRED_KEY
            self._keys[key] = time.monotonic() + self.listen_key_ttl
            return key

    def stop_key(self) -> None:
        with self._lock:
            self._keys.clear()

    def live_keys(self) -> list[str]:
        with self._lock:
            return list(self._keys)

    def expire_keys_now(self) -> int:
        """Fault: every live key lapses now, long before its time."""
        with self._lock:
            keys = list(self._keys)
            for key in keys:
                self._keys[key] = 0.0
        self.tick()
        return len(keys)

    def tick(self) -> None:
        """Lapse the keys whose time is up: their streams get listenKeyExpired, then silence."""
        now = time.monotonic()
        with self._lock:
            lapsed = [k for k, until in self._keys.items() if until <= now]
            for key in lapsed:
                del self._keys[key]
        for key in lapsed:
            log.info("listenKey %s… expired", key[:8])
            if self.publish is not None:
                self.publish(key, ev.listen_key_expired(key, wall_ms()))

    def _to_coinm(self, event: dict) -> None:
        if self.publish is None:
            return
        for key in self.live_keys():
            self.publish(key, event)

    def _on_coinm(self, what: str, order: SimOrder, trades: list[SimTrade], _cancel_id: str | None) -> None:
        now = wall_ms()
        spec = self.t.market.books[order.symbol].spec
        for step in ev.order_steps(what, order, trades):
            if self.faults.take_lost_event("coinm"):
                log.info("[FAULT] ORDER_TRADE_UPDATE %s %s of order %s not sent", step[0], step[1], order.order_id)
                continue
            self._to_coinm(ev.order_trade_update(order, spec, step, now, ACCOUNT_ALIAS))
        if trades:
            acct = self.t.account
            pos = acct.position(order.symbol)
            realized = sum((t.realized_pnl for t in self.t.coinm.trades if t.symbol == order.symbol), Decimal(0))
            row = ev.position_row(spec, pos.amount, pos.entry, realized,
                                  acct.unrealized(spec, self.t.coinm.mark(order.symbol)))
            self._to_coinm(ev.account_update("ORDER", now, ACCOUNT_ALIAS,
                                             [(spec.base_asset, acct.balance(spec.base_asset), Decimal(0))],
                                             [row], trades[-1].time_ms))

    def poll_funding(self) -> None:
        """After a market step or a forced settlement: one ACCOUNT_UPDATE (FUNDING_FEE) per
        funding income row booked since the last look. Called under the market lock."""
        income = self.t.account.income
        rows, self._income_seen = income[self._income_seen:], len(income)
        for row in rows:
            if row.income_type != "FUNDING_FEE":
                continue
            self._to_coinm(ev.account_update("FUNDING_FEE", wall_ms(), ACCOUNT_ALIAS,
                                             [(row.asset, self.t.account.balance(row.asset), Decimal(0))],
                                             [], row.time_ms))
