"""Market-data REST endpoints of the local exchange (reference §2.2, §3, §4, §6.1, §10.4).

Tickers and klines: shapes and weights from the official SDKs' models and docstrings
(binance-sdk-spot `ticker_book_ticker`, `ticker_price`, `klines`;
binance-sdk-derivatives-trading-coin-futures `symbol_order_book_ticker`, `symbol_price_ticker`,
`kline_candlestick_data`); prices come from arbitrage.sim.tape.
"""
from __future__ import annotations

import json
from typing import Callable

from arbitrage.sim.api_common import int_param, limit_param
from arbitrage.sim.info import coinm_exchange_info, spot_exchange_info
from arbitrage.sim.market import Market, wall_ms
from arbitrage.sim.marks import premium_index_row
from arbitrage.sim.rest import ApiError, Request, Route
from arbitrage.sim.symbols import SimSymbol
from arbitrage.sim.tape import INTERVALS_MS, PriceTape

SPOT_DEPTH_MAX = 5000
COINM_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
INT_MAX = 2**31 - 1     # Binance's INT parameters are 32-bit
_SYMBOLS_PATTERN = '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'


def _spot_depth_weight(limit: int) -> int:
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def _coinm_depth_weight(limit: int) -> int:
    return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20


def _one_or_all(one: int, every: int) -> Callable[[Request], int]:
    """A ticker's weight: `one` with a `symbol`, `every` without."""
    return lambda req: one if req.params.get("symbol") else every


def _coinm_klines_weight(limit: int) -> int:
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


class MarketApi:
    def __init__(self, market: Market, specs: dict[str, SimSymbol], weight_limit: int,
                 sim_info: Callable[[], dict], clock_ms: Callable[[], int] = wall_ms,
                 tape: PriceTape | None = None) -> None:
        self.market = market
        self.tape = tape or PriceTape(market, lambda symbol: ())
        self.clock_ms = clock_ms        # the server clock (a clock fault shifts it)
        self.spot = [s for s in specs.values() if s.is_spot and s.symbol in market.books]
        self.coinm = [s for s in specs.values() if not s.is_spot and s.symbol in market.books]
        self.weight_limit = weight_limit
        self.sim_info = sim_info

    def routes(self) -> dict[tuple[str, str], Route]:
        get = lambda fn, w: Route(fn, w)  # noqa: E731
        return {
            ("GET", "/api/v3/ping"): get(lambda r: {}, 1),
            ("GET", "/api/v3/time"): get(self.time, 1),
            ("GET", "/api/v3/exchangeInfo"): get(self.spot_info, 20),
            ("GET", "/api/v3/depth"): get(self.spot_depth, lambda r: _spot_depth_weight(self._spot_limit(r))),
            ("GET", "/dapi/v1/ping"): get(lambda r: {}, 1),
            ("GET", "/dapi/v1/time"): get(self.time, 1),
            ("GET", "/dapi/v1/exchangeInfo"): get(self.coinm_info, 1),
            ("GET", "/dapi/v1/depth"): get(self.coinm_depth,
                                           lambda r: _coinm_depth_weight(self._coinm_limit(r))),
            ("GET", "/dapi/v1/premiumIndex"): get(self.premium_index, 10),
            ("GET", "/api/v3/ticker/bookTicker"): get(self.spot_book_ticker, _one_or_all(2, 4)),
            ("GET", "/api/v3/ticker/price"): get(self.spot_price, _one_or_all(2, 4)),
            ("GET", "/api/v3/klines"): get(self.spot_klines, 2),
            ("GET", "/dapi/v1/ticker/bookTicker"): get(self.coinm_book_ticker, _one_or_all(2, 5)),
            ("GET", "/dapi/v1/ticker/price"): get(self.coinm_price, _one_or_all(1, 2)),
            ("GET", "/dapi/v1/klines"): get(self.coinm_klines,
                                            lambda r: _coinm_klines_weight(limit_param(r, 500, 1500))),
            ("GET", "/sim/info"): get(lambda r: self.sim_info(), 0),
        }

    def time(self, req: Request) -> dict:
        return {"serverTime": self.clock_ms()}

    # -- spot -------------------------------------------------------------------------------
    def spot_info(self, req: Request) -> dict:
        return spot_exchange_info(self._spot_selection(req), self.weight_limit, wall_ms())

    def _spot_selection(self, req: Request) -> list[SimSymbol]:
        """`symbol`, or `symbols` as a JSON array, or every listed symbol."""
        one, many = req.params.get("symbol"), req.params.get("symbols")
        if one and many:
            raise ApiError(-1128, "Combination of optional parameters invalid.")
        listed = {s.symbol: s for s in self.spot}
        wanted = list(listed)
        if one:
            wanted = [one]
        elif many:
            try:
                wanted = json.loads(many)
                if not isinstance(wanted, list) or not all(isinstance(w, str) for w in wanted):
                    raise ValueError
            except ValueError:
                raise ApiError(-1100, "Illegal characters found in parameter 'symbols'; "
                                      f"legal range is '{_SYMBOLS_PATTERN}'.") from None
        if any(w not in listed for w in wanted):
            raise ApiError(-1121, "Invalid symbol.")
        return [listed[w] for w in wanted]

    def spot_depth(self, req: Request) -> dict:
        spec = self._listed(req.require("symbol"), self.spot)
        last_id, bids, asks, _, _ = self.market.depth(spec.symbol, self._spot_limit(req))
        return {"lastUpdateId": last_id, "bids": bids, "asks": asks}

    @staticmethod
    def _spot_limit(req: Request) -> int:
        raw = req.params.get("limit", "")
        if not raw:
            return 100
        if not raw.isdigit() or len(raw) > 20:
            raise ApiError(-1100, "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.")
        if int(raw) > INT_MAX:
            # over 5000 is served as 5000, but over 2^31-1 is no INT at all; -1130 is Binance's
            # "Data sent for parameter '%s' is not valid."
            raise ApiError(-1130, "Data sent for parameter 'limit' is not valid.")
        return min(max(int(raw), 1), SPOT_DEPTH_MAX)

    def spot_book_ticker(self, req: Request) -> dict | list[dict]:
        rows = [{"symbol": s.symbol, **self._best(s)} for s in self._spot_selection(req)]
        return rows[0] if req.params.get("symbol") else rows

    def spot_price(self, req: Request) -> dict | list[dict]:
        rows = [{"symbol": s.symbol, "price": self._price(s)} for s in self._spot_selection(req)]
        return rows[0] if req.params.get("symbol") else rows

    def spot_klines(self, req: Request) -> list[list]:
        spec = self._listed(req.require("symbol"), self.spot)
        return self._klines(spec, req, 500, 1000)

    # -- COIN-M -----------------------------------------------------------------------------
    def coinm_info(self, req: Request) -> dict:
        return coinm_exchange_info(self.coinm, self.weight_limit, wall_ms())

    def coinm_depth(self, req: Request) -> dict:
        spec = self._listed(req.require("symbol"), self.coinm)
        limit = self._coinm_limit(req)
        last_id, bids, asks, event_ms, trans_ms = self.market.depth(spec.symbol, limit)
        return {"lastUpdateId": last_id, "symbol": spec.symbol, "pair": spec.pair,
                "E": event_ms, "T": trans_ms, "bids": bids, "asks": asks}

    @staticmethod
    def _coinm_limit(req: Request) -> int:
        raw = req.params.get("limit", "")
        if not raw:
            return 500
        if not raw.isdigit() or int(raw) not in COINM_DEPTH_LIMITS:
            raise ApiError(-4021, "Invalid depth limit.")
        return int(raw)

    def _coinm_selection(self, req: Request) -> list[SimSymbol]:
        symbol, pair = req.params.get("symbol"), req.params.get("pair")
        if symbol and pair:
            raise ApiError(-1128, "Combination of optional parameters invalid.")
        if symbol:
            return [self._listed(symbol, self.coinm)]
        return [s for s in self.coinm if pair in (None, "", s.pair)]

    def coinm_book_ticker(self, req: Request) -> list[dict]:
        """Always an array, even for one symbol (reference §4.3)."""
        rows = []
        for s in self._coinm_selection(req):
            with self.market.lock:
                last_id = self.market.books[s.symbol].last_update_id
                best = self._best(s)
            rows.append({"lastUpdateId": last_id, "symbol": s.symbol, "pair": s.pair, **best,
                         "time": self.clock_ms()})
        return rows

    def coinm_price(self, req: Request) -> list[dict]:
        return [{"symbol": s.symbol, "ps": s.pair, "price": self._price(s), "time": self.clock_ms()}
                for s in self._coinm_selection(req)]

    def coinm_klines(self, req: Request) -> list[list]:
        spec = self._listed(req.require("symbol"), self.coinm)
        return self._klines(spec, req, 500, 1500)

    # -- both ---------------------------------------------------------------------------------
    def _best(self, spec: SimSymbol) -> dict:
        with self.market.lock:
            bid, ask = self.market.books[spec.symbol].best()
        fp, fq = spec.fmt_price, spec.fmt_qty
        return {"bidPrice": fp(bid[0]) if bid else fp(0), "bidQty": fq(bid[1]) if bid else fq(0),
                "askPrice": fp(ask[0]) if ask else fp(0), "askQty": fq(ask[1]) if ask else fq(0)}

    def _price(self, spec: SimSymbol) -> str:
        """The tape's latest price; before its first sample, the book's mid on the tick."""
        price = self.tape.last_price(spec.symbol)
        if price is None:
            with self.market.lock:
                mid = self.market.books[spec.symbol].mid()
            price = spec.fmt_price(spec.round_price(spec.to_ticks(mid or 0.0)))
        return price

    def _klines(self, spec: SimSymbol, req: Request, default: int, maximum: int) -> list[list]:
        interval = req.require("interval")
        if interval not in INTERVALS_MS:
            raise ApiError(-1120, "Invalid interval.")
        start, end = int_param(req, "startTime"), int_param(req, "endTime")
        if start is not None and end is not None and start > end:
            raise ApiError(-1023, "Start time is greater than end time.")
        return self.tape.klines(spec.symbol, interval, start, end, limit_param(req, default, maximum))

    def premium_index(self, req: Request) -> list[dict]:
        symbol, pair = req.params.get("symbol"), req.params.get("pair")
        specs = self.coinm
        if symbol:
            specs = [self._listed(symbol, self.coinm)]
        if pair:
            specs = [s for s in specs if s.pair == pair]
        with self.market.lock:
            marks = [self.market.marks.get(s.symbol) for s in specs]
        return [premium_index_row(m) for m in marks if m is not None]

    @staticmethod
    def _listed(symbol: str, specs: list[SimSymbol]) -> SimSymbol:
        for spec in specs:
            if spec.symbol == symbol:
                return spec
        raise ApiError(-1121, "Invalid symbol.")
