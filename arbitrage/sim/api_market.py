"""Market-data REST endpoints of the local exchange (reference §2.2, §3, §4, §6.1, §10.4)."""
from __future__ import annotations

import json
from typing import Callable

from arbitrage.sim.info import coinm_exchange_info, spot_exchange_info
from arbitrage.sim.market import Market, wall_ms
from arbitrage.sim.marks import premium_index_row
from arbitrage.sim.rest import ApiError, Request, Route
from arbitrage.sim.symbols import SimSymbol

SPOT_DEPTH_MAX = 5000
COINM_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
_SYMBOLS_PATTERN = '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'


def _spot_depth_weight(limit: int) -> int:
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def _coinm_depth_weight(limit: int) -> int:
    return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20


class MarketApi:
    def __init__(self, market: Market, specs: dict[str, SimSymbol], weight_limit: int,
                 sim_info: Callable[[], dict], clock_ms: Callable[[], int] = wall_ms) -> None:
        self.market = market
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
            ("GET", "/sim/info"): get(lambda r: self.sim_info(), 0),
        }

    def time(self, req: Request) -> dict:
        return {"serverTime": self.clock_ms()}

    # -- spot -------------------------------------------------------------------------------
    def spot_info(self, req: Request) -> dict:
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
        return spot_exchange_info([listed[w] for w in wanted], self.weight_limit, wall_ms())

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
        return min(max(int(raw), 1), SPOT_DEPTH_MAX)

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
