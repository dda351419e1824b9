"""LocalExchange: market source + REST server + WebSocket server + trading, started and stopped as one.

Trading (orders, fills, accounts) needs the demo API key pair `api_key` / `api_secret` — a fixed,
obviously-demo pair derived from the seed, also served by `GET /sim/info` (a loopback demo exchange
has nothing to protect). The fault hooks below are thread-safe and meant for tests.
"""
from __future__ import annotations

import logging
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Sequence

from arbitrage.sim.auth import ApiKeys
from arbitrage.sim.api_market import MarketApi
from arbitrage.sim.chaos import ChaosRunner, FaultPlan
from arbitrage.sim.faults import DEFAULT_REJECT_MSG
from arbitrage.sim.market import Market
from arbitrage.sim.queue import NONE
from arbitrage.sim.replay import ReplaySource
from arbitrage.sim.fast_lanes import COINM_PATH, COINM_PING, SPOT_PATH, SPOT_PING, FastLanes
from arbitrage.sim.rest import RestServer, Route, WeightMeter
from arbitrage.sim.symbols import SYMBOLS, resolve
from arbitrage.sim.synthetic import SyntheticSource
from arbitrage.sim.tape import PriceTape
from arbitrage.sim.trading import (
    DEFAULT_COINM_RATES, DEFAULT_LEVERAGE, DEFAULT_SPOT_RATES, Trading,
)
from arbitrage.sim.wire_faults import HttpFaults, ServerClock, StreamFaults
from arbitrage.sim.ws import StreamHub

log = logging.getLogger("arbitrage.sim")


class LocalExchange:
    """A Binance-compatible exchange on loopback. `start()` returns once both servers listen and
    the market runs; `stop()` joins every thread it started and is safe to call twice."""

    def __init__(self, source: str = "synthetic", seed: int = 7, speed: float = 1.0,
                 symbols: Sequence[str] | None = None, replay_files: Sequence[str | Path] = (),
                 host: str = "127.0.0.1", rest_port: int = 0, ws_port: int = 0,
                 funding_interval_sec: float = 8 * 3600, weight_limit: int = 6000,
                 ws_ping_interval: float = 20.0,
                 spot_balances: dict[str, Decimal] | None = None,
                 coinm_balances: dict[str, Decimal] | None = None,
                 spot_rates: tuple[Decimal, Decimal] = DEFAULT_SPOT_RATES,
                 coinm_rates: tuple[Decimal, Decimal] = DEFAULT_COINM_RATES,
                 leverage: int = DEFAULT_LEVERAGE, faults: str | FaultPlan | None = None,
                 funding_regime: str = "normal", listen_key_ttl: float = 3600.0,
                 ws_api_pings: tuple[tuple[float, float], ...] = (SPOT_PING, COINM_PING),
                 queue_model: str = NONE) -> None:
        """`faults`: a chaos plan (spec string, see `arbitrage.sim.chaos`) applied while running;
        a bad spec raises ValueError here, before anything starts.
        `spot_balances` default {"USDT": 100000, "BTC": 1, "ETH": 30}, `coinm_balances`
        {"BTC": 1, "ETH": 30};
        rates are (maker, taker): spot 0.001/0.001, COIN-M 0.0002/0.0005.
        `symbols` default: CORE_SYMBOLS (BTC and ETH); `ALL_SYMBOLS` lists every coin.
        `funding_regime`: normal | positive | negative | flipping | hot (arbitrage/sim/funding.py);
        a wrong name raises ValueError here.
        `listen_key_ttl`: seconds a COIN-M listenKey lives without keep-alive (Binance: 60 min);
        `ws_api_pings`: (ping interval, pong deadline) of the spot and COIN-M WebSocket APIs.
        `queue_model`: none | risk_averse, where resting orders stand in their price level's
        queue (arbitrage/sim/queue.py); a wrong name raises ValueError here."""
        if source not in ("synthetic", "replay"):
            raise ValueError(f"source must be 'synthetic' or 'replay', not {source!r}")
        self.source_name = source
        self.specs = resolve(list(symbols) if symbols is not None else None)
        if source == "synthetic":
            self.source: SyntheticSource | ReplaySource = SyntheticSource(
                self.specs, seed=seed, speed=speed, funding_interval_sec=funding_interval_sec,
                funding_regime=funding_regime)
        else:
            self.source = ReplaySource(replay_files, speed=speed, symbols=symbols,
                                       funding_interval_sec=funding_interval_sec)
        self.host, self._rest_port, self._ws_port = host, rest_port, ws_port
        self.weight_limit = weight_limit
        self.ws_ping_interval = ws_ping_interval
        self.market = Market()
        self.fault_plan = FaultPlan.parse(faults) if isinstance(faults, str) else faults
        self.clock = ServerClock()
        seed_base = self.fault_plan.seed if self.fault_plan is not None else seed
        self.http_faults = HttpFaults(self.market.fault_counts, seed=seed_base + 11)
        self.stream_faults = StreamFaults(self.market.fault_counts, seed=seed_base + 13)
        self.market.set_drop_rate(0.0, seed=seed_base + 17)
        # endpoints beyond market data; more can be added here before start()
        self.routes: dict[tuple[str, str], Route] = {}
        self._keys = ApiKeys.demo(seed)
        # a replayed book's update ids belong to the recording: fills change it without a diff
        self.trading = Trading(self.market, self._keys, publish_impact=source == "synthetic", seed=seed,
                               spot_balances=spot_balances, coinm_balances=coinm_balances,
                               spot_rates=spot_rates, coinm_rates=coinm_rates, leverage=leverage,
                               queue_model=queue_model)
        self.trading.auth.clock_ms = self.clock.now_ms     # signed requests see the server clock
        self.meter = WeightMeter(weight_limit)      # one pool per IP: REST and the WebSocket API
        self.lanes = FastLanes(self.trading, self.market.fault_counts, self.meter, self.http_faults, seed,
                               listen_key_ttl, *ws_api_pings)
        self.routes.update(self.lanes.routes())
        self.routes[("GET", "/sim/weight")] = Route(lambda r: self.weight_spent(), 0)
        self.tape = PriceTape(self.market, self.trading.fills)
        self._hub: StreamHub | None = None
        self._rest: RestServer | None = None
        self._market_thread: threading.Thread | None = None
        self._chaos: ChaosRunner | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._started = self._stopped = False

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "LocalExchange":
        with self._lock:
            if self._started:
                return self
            self._started = True
        try:
            self.source.prepare(self.market)
            self._hub = StreamHub(self.host, self._ws_port, ping_interval=self.ws_ping_interval,
                                  faults=self.stream_faults, ws_apis=self.lanes.ws_apis(),
                                  tick=self.lanes.streams.tick)
            self.lanes.attach(self._hub)
            self.market.add_listener(self._hub.on_event)
            if isinstance(self.source, SyntheticSource):
                self._hub.on_subscribe = self.source.warm
            self._hub.start()
            api = MarketApi(self.market, SYMBOLS, self.weight_limit, self.info, clock_ms=self.clock.now_ms,
                            tape=self.tape)
            self._rest = RestServer(self.host, self._rest_port, {**api.routes(), **self.routes},
                                    self.weight_limit, faults=self.http_faults, meter=self.meter)
            self._rest.start()
            self._market_thread = threading.Thread(target=self.source.run, args=(self.market, self._stop),
                                                   name="sim-market", daemon=True)
            self._market_thread.start()
            if self.fault_plan is not None and self.fault_plan.active:
                self._chaos = ChaosRunner(self, self.fault_plan)
                self._chaos.start()
        except BaseException:
            self.stop()
            raise
        log.info("local exchange up: REST %s  WS %s  (%s, %s)", self.rest_url, self.ws_url,
                 self.source_name, ", ".join(self.market.symbols))
        return self

    def stop(self) -> None:
        with self._lock:
            if self._stopped or not self._started:
                self._stopped = self._started
                return
            self._stopped = True
        self._stop.set()
        if self._chaos is not None:
            self._chaos.stop()
        if self._market_thread is not None:
            self._market_thread.join()
        if self._rest is not None:
            self._rest.stop()
        if self._hub is not None:
            self._hub.stop()
        log.info("local exchange stopped")

    def __enter__(self) -> "LocalExchange":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def rest_url(self) -> str:
        if self._rest is None:
            raise RuntimeError("the local exchange is not started")
        return self._rest.url

    @property
    def ws_url(self) -> str:
        if self._hub is None:
            raise RuntimeError("the local exchange is not started")
        return self._hub.url

    @property
    def ws_api_url(self) -> str:
        """The spot WebSocket API (`order.place`, user data subscription, …)."""
        return self.ws_url + SPOT_PATH

    @property
    def ws_dapi_url(self) -> str:
        """The COIN-M WebSocket API; its user stream is `ws_url + "/ws/" + listenKey`."""
        return self.ws_url + COINM_PATH

    def info(self) -> dict:
        """The non-Binance `/sim/info` body: how a client that knows only REST finds the rest."""
        body = {"rest": self.rest_url, "ws": self.ws_url, "ws_api": self.ws_api_url,
                "ws_dapi": self.ws_dapi_url, "source": self.source_name,
                "symbols": self.market.symbols, "api_key": self.api_key, "api_secret": self.api_secret}
        if isinstance(self.source, ReplaySource):   # lets a watcher know the recording has ended
            body["replay_finished"] = self.source.finished.is_set()
            body["replay_ended_ms"] = self.recording_ended_ms()
        return body

    def weight_spent(self) -> dict:
        """The non-Binance `/sim/weight` body: request weight and requests per endpoint since
        start, over every IP (REST `REST <METHOD> <path>`, WebSocket API `WS <path> <method>`)."""
        with self.meter._lock:
            return {"weight": dict(self.meter.spent), "requests": dict(self.meter.calls)}

    def recording_ended_ms(self) -> int | None:
        """The recording's exchange time (ms) once a replay has played its last record (or broke
        off): the streams are silent from then on, the books stay, REST keeps answering. None
        while it plays, and always for the synthetic market, which never ends."""
        if isinstance(self.source, ReplaySource) and self.source.ended.is_set():
            return self.source.ended_ms
        return None

    @property
    def api_key(self) -> str:
        return self._keys.api_key

    @property
    def api_secret(self) -> str:
        return self._keys.api_secret

    # -- test hooks (thread-safe) ------------------------------------------------------------
    def drop_next_diff(self, symbol: str) -> None:
        self.market.drop_next_diff(symbol)

    def disconnect_all(self) -> None:
        if self._hub is not None:
            self.market.fault_counts.add("disconnect")
            self._hub.disconnect_all()

    def drop_rate(self, p: float) -> None:
        """Every depth diff of every symbol is dropped with probability `p` from now on."""
        self.market.set_drop_rate(p, seed=(self.fault_plan.seed if self.fault_plan else 0) + 17)

    def http_errors_next(self, n: int = 1, status: int = 503, html: bool = True) -> None:
        """The next `n` REST requests (any endpoint but /sim/) get `status` — an nginx-style HTML
        page, or Binance's JSON -1001 when `html` is False — and are not executed."""
        self.http_faults.errors_next(n, status, html)

    def http_error_rate(self, p: float) -> None:
        """Each REST request gets a 5xx (not executed) with probability `p`."""
        self.http_faults.error_rate(p)

    def rate_limit_next(self, seconds: float) -> None:
        """For `seconds`: 429 + Retry-After to every request; an IP that asks again before its
        Retry-After is over gets 418 + Retry-After (banned for twice the remaining window)."""
        self.http_faults.rate_limit(seconds)

    def slow_next(self, n: int, seconds: float, path: str | None = None) -> None:
        """The next `n` REST requests (to `path` only, when given) wait `seconds` first."""
        self.http_faults.slow_next(n, seconds, path)

    def slow_rate(self, p: float, seconds: float) -> None:
        self.http_faults.slow_rate(p, seconds)

    def shift_clock(self, ms: int, seconds: float | None = None) -> None:
        """The server clock runs `ms` ahead (negative: behind) for `seconds` (None: until shifted
        back with `shift_clock(0)`); signed requests and /time follow it."""
        self.clock.shift(ms, seconds)
        if ms:
            self.market.fault_counts.add("clock")
            log.info("[FAULT] server clock shifted %+d ms%s", ms,
                     "" if seconds is None else f" for {seconds:.1f} s")

    def malformed_next(self, symbol: str, kind: str, n: int = 1) -> None:
        """The next `n` stream events of `symbol` (any channel) are replaced: kind "truncated",
        "html", "missing" (a field removed) or "extra" (an unexpected field added)."""
        self.market._check(symbol)
        self.stream_faults.malformed_next(symbol, kind, n)

    def malformed_rate(self, p: float) -> None:
        self.stream_faults.malformed_rate(p)

    def reduce_position(self, symbol: str, contracts: int | Decimal, adl: bool = False):
        """Force-reduce the COIN-M position on `symbol` by up to `contracts` at the mark, as a
        liquidation (or ADL) would; returns the SimTrade, or None when the position is flat."""
        self.market._check(symbol)
        if self.market.books[symbol].spec.is_spot:
            raise ValueError(f"{symbol} is not a COIN-M symbol")
        trade = self.trading.force_reduce(symbol, Decimal(contracts), adl=adl)
        if trade is not None:
            self.market.fault_counts.add("reduce")
        return trade

    def calm(self) -> None:
        """End the fault plan: no new fault from now on, rates back to zero (counts are kept)."""
        if self._chaos is not None:
            self._chaos.stop()
            self._chaos = None
        self.drop_rate(0)
        self.http_error_rate(0)
        self.slow_rate(0, 0)
        self.malformed_rate(0)
        self.shift_clock(0)

    def fault_counts(self) -> dict[str, int]:
        """How many times each fault kind was injected (see wire_faults.KINDS)."""
        return self.market.fault_counts.snapshot()

    def silence(self, symbol: str | None, seconds: float) -> None:
        self.market.silence(symbol, seconds)

    def hold_still(self, seconds: float) -> None:
        """The synthetic market stands still for `seconds`: books and marks do not move, so what
        rests fills only if a test fills it (orders sent meanwhile still match what rests)."""
        self.market.still_until = time.monotonic() + seconds

    def serve_stale_snapshot(self, symbol: str, n: int = 1) -> None:
        self.market.serve_stale_snapshot(symbol, n)

    def reject_next_orders(self, market: str, n: int = 1, code: int = -2010,
                           msg: str = DEFAULT_REJECT_MSG) -> None:
        """The next `n` orders on `market` ("spot"/"coinm") are refused with HTTP 400 code/msg."""
        self.trading.faults.reject_next_orders(market, n, code, msg)

    def fill_next_orders_partially(self, market: str, fraction: float | Decimal, n: int = 1) -> None:
        """The next `n` orders fill only `fraction` of their quantity (rounded down to the grid);
        a MARKET's rest expires, a LIMIT's rest stays open and never fills."""
        self.trading.faults.fill_next_orders_partially(market, Decimal(str(fraction)), n)

    def answer_503_after_executing(self, market: str, n: int = 1) -> None:
        """The next `n` accepted orders execute, but the answer is a 503 "status unknown"."""
        self.trading.faults.answer_503_after_executing(market, n)

    def delay_next_orders(self, market: str, seconds: float, n: int = 1) -> None:
        """The next `n` order POSTs on `market` wait `seconds` before they execute and answer."""
        self.trading.faults.delay_next_orders(market, seconds, n)

    def lose_next_ws_answers(self, market: str, n: int = 1) -> None:
        """The next `n` orders placed over `market`'s WebSocket API execute; no answer comes."""
        self.lanes.faults.lose_next_answers(market, n)

    def delay_next_ws_answers(self, market: str, seconds: float, n: int = 1) -> None:
        """The next `n` WebSocket API orders execute at once; their answers come `seconds` late."""
        self.lanes.faults.delay_next_answers(market, seconds, n)

    def lose_next_user_events(self, market: str, n: int = 1) -> None:
        """The next `n` order events of `market`'s user stream are never sent."""
        self.lanes.faults.lose_next_events(market, n)

    def drop_user_streams(self) -> int:
        """Close every connection carrying user data (spot subscriptions, listenKey streams)."""
        return self.lanes.drop_user_streams()

    def expire_listen_keys(self) -> int:
        """Every live listenKey lapses now: listenKeyExpired, then silence until a new one."""
        return self.lanes.expire_listen_keys()

    def fill_resting(self, symbol: str, client_order_id: str, qty: Decimal | None = None):
        """The resting order fills now (whole, or `qty` of it) at its own price: a test's chosen
        moment, e.g. a race settled by the test. The SimTrade."""
        self.market._check(symbol)
        book = self.market.books[symbol]
        desk = self.trading.spot if book.spec.is_spot else self.trading.coinm
        return desk.fill_resting(symbol, client_order_id, qty)

    def settle_funding_now(self, rate: float | Decimal | None = None) -> list:
        """Settle funding on every perpetual now (at `rate`, else each mark's rate); income rows."""
        return self.trading.settle_funding_now(None if rate is None else Decimal(str(rate)))

    def orders_received(self, market: str) -> int:
        """Every order POST that reached this exchange on `market`, whatever became of it."""
        return self.trading.faults.orders_received(market)

    def book_top(self, symbol: str) -> tuple[float | None, float | None, int]:
        return self.market.top(symbol)

    def stats(self) -> dict:
        out = self.market.stats()
        out["source"] = self.source_name
        out["connections"] = self._hub.connections if self._hub else 0
        out["connections_total"] = self._hub.connections_total if self._hub else 0
        out["ws_messages_sent"] = self._hub.messages_sent if self._hub else 0
        out["requests"] = self._rest.requests if self._rest else 0
        return out
