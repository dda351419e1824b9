"""The bot's WebSocket API clients and user streams wired to a local exchange, for tests."""
from __future__ import annotations

from decimal import Decimal

from arbitrage.exchanges import ws_api_coinm, ws_api_spot
from arbitrage.exchanges.http import BinanceHttp
from arbitrage.exchanges.ws_api import WsApiConnection
from arbitrage.models import BUY, COINM, SPOT, OrderRequest
from arbitrage.sim import LocalExchange
from tests.sim_clients import PERP, best

SPOT_SYMBOL = "BTCUSDT"


def http(ex: LocalExchange) -> BinanceHttp:
    return BinanceHttp(ex.rest_url, ex.api_key, ex.api_secret)


def spot_api(ex: LocalExchange, timeout: float = 5.0, rest: BinanceHttp | None = None):
    conn = WsApiConnection(ex.ws_api_url, rest or http(ex), ex.api_key, ex.api_secret,
                           ws_api_spot.TIME_PATH, timeout=timeout, backoff_max=0.5)
    return ws_api_spot.SpotWsApi(conn)


def coinm_api(ex: LocalExchange, timeout: float = 5.0, rest: BinanceHttp | None = None):
    conn = WsApiConnection(ex.ws_dapi_url, rest or http(ex), ex.api_key, ex.api_secret,
                           ws_api_coinm.TIME_PATH, timeout=timeout, backoff_max=0.5)
    return ws_api_coinm.CoinmWsApi(conn)


def far_spot_buy(ex: LocalExchange, client_id: str) -> OrderRequest:
    bid = best(ex, SPOT_SYMBOL)[0]
    price = (bid * Decimal("0.9")).quantize(Decimal("0.01"))
    return OrderRequest(SPOT, SPOT_SYMBOL, BUY, "LIMIT_MAKER", Decimal("0.001"), client_id, price=price)


def far_perp_buy(ex: LocalExchange, client_id: str) -> OrderRequest:
    bid = best(ex, PERP)[0]
    price = (bid * Decimal("0.97")).quantize(Decimal("0.1"))
    return OrderRequest(COINM, PERP, BUY, "LIMIT", Decimal("1"), client_id, price=price,
                        time_in_force="GTX")
