"""LocalExchange: market source + REST server + WebSocket server + trading, started and stopped as one.

Trading (orders, fills, accounts) needs the demo API key pair `api_key` / `api_secret` — a fixed,
obviously-demo pair derived from the seed, also served by `GET /sim/info` (a loopback demo exchange
has nothing to protect). The fault hooks below are thread-safe and meant for tests.
"""
from __future__ import annotations

import logging
import threading
from decimal import Decimal
from pathlib import Path
from typing import Sequence

from arbitrage.sim.api_coinm import CoinmApi
from arbitrage.sim.api_spot import SpotApi
from arbitrage.sim.auth import ApiKeys
from arbitrage.sim.api_market import MarketApi
from arbitrage.sim.faults import DEFAULT_REJECT_MSG
from arbitrage.sim.market import Market
from arbitrage.sim.replay import ReplaySource
from arbitrage.sim.rest import RestServer, Route
from arbitrage.sim.symbols import SYMBOLS, resolve
from arbitrage.sim.synthetic import SyntheticSource
from arbitrage.sim.trading import (
    DEFAULT_COINM_RATES, DEFAULT_LEVERAGE, DEFAULT_SPOT_RATES, Trading,
)
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
                 leverage: int = DEFAULT_LEVERAGE) -> None:
        """`spot_balances` default {"USDT": 100000, "BTC": 1, "ETH": 30}, `coinm_balances`
        {"BTC": 1, "ETH": 30};
        rates are (maker, taker): spot 0.001/0.001, COIN-M 0.0002/0.0005."""
        if source not in ("synthetic", "replay"):
            raise ValueError(f"source must be 'synthetic' or 'replay', not {source!r}")
        self.source_name = source
        self.specs = resolve(list(symbols) if symbols is not None else None)
        if source == "synthetic":
            self.source: SyntheticSource | ReplaySource = SyntheticSource(
                self.specs, seed=seed, speed=speed, funding_interval_sec=funding_interval_sec)
        else:
            self.source = ReplaySource(replay_files, speed=speed, symbols=symbols,
                                       funding_interval_sec=funding_interval_sec)
        self.host, self._rest_port, self._ws_port = host, rest_port, ws_port
        self.weight_limit = weight_limit
        self.ws_ping_interval = ws_ping_interval
        self.market = Market()
        # endpoints beyond market data; more can be added here before start()
        self.routes: dict[tuple[str, str], Route] = {}
        self._keys = ApiKeys.demo(seed)
        # a replayed book's update ids belong to the recording: fills change it without a diff
        self.trading = Trading(self.market, self._keys, publish_impact=source == "synthetic", seed=seed,
                               spot_balances=spot_balances, coinm_balances=coinm_balances,
                               spot_rates=spot_rates, coinm_rates=coinm_rates, leverage=leverage)
        self.routes.update(SpotApi(self.trading).routes())
        self.routes.update(CoinmApi(self.trading).routes())
        self._hub: StreamHub | None = None
        self._rest: RestServer | None = None
        self._market_thread: threading.Thread | None = None
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
            self._hub = StreamHub(self.host, self._ws_port, ping_interval=self.ws_ping_interval)
            self.market.add_listener(self._hub.on_event)
            self._hub.start()
            api = MarketApi(self.market, SYMBOLS, self.weight_limit, self.info)
            self._rest = RestServer(self.host, self._rest_port, {**api.routes(), **self.routes},
                                    self.weight_limit)
            self._rest.start()
            self._market_thread = threading.Thread(target=self.source.run, args=(self.market, self._stop),
                                                   name="sim-market", daemon=True)
            self._market_thread.start()
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

    def info(self) -> dict:
        """The non-Binance `/sim/info` body: how a client that knows only REST finds the rest."""
        body = {"rest": self.rest_url, "ws": self.ws_url, "source": self.source_name,
                "symbols": self.market.symbols, "api_key": self.api_key, "api_secret": self.api_secret}
        if isinstance(self.source, ReplaySource):   # lets a watcher know the recording has ended
            body["replay_finished"] = self.source.finished.is_set()
        return body

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
            self._hub.disconnect_all()

    def silence(self, symbol: str | None, seconds: float) -> None:
        self.market.silence(symbol, seconds)

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
