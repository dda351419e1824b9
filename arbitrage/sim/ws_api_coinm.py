"""COIN-M WebSocket API methods (`/ws-dapi/v1`, binance-ws-api.md §5): each runs the REST endpoint
of the same name through the same function; weights from §5. There is no open-orders method (REST
`GET /dapi/v1/openOrders`), and the user stream is a listenKey stream on the stream server."""
from __future__ import annotations

from arbitrage.sim.api_coinm import CoinmApi
from arbitrage.sim.api_coinm_user import CoinmUserApi
from arbitrage.sim.ws_api import Method


def coinm_methods(api: CoinmApi, user: CoinmUserApi) -> dict[str, Method]:
    return {
        "order.place": Method(lambda r, s: api.new_order(r), 0, places_order=True),
        "order.cancel": Method(lambda r, s: api.cancel_order(r), 1),
        "order.status": Method(lambda r, s: api.get_order(r), 1),
        "order.modify": Method(lambda r, s: user.modify_order(r, both_required=True), 1),
        "account.position": Method(lambda r, s: api.position_risk(r), 5),
        "account.balance": Method(lambda r, s: user.balance(r), 5),
        "account.status": Method(lambda r, s: api.account(r), 5),
        "userDataStream.start": Method(lambda r, s: user.start_key(r), 1),
        "userDataStream.ping": Method(lambda r, s: user.ping_key(r), 1),
        "userDataStream.stop": Method(lambda r, s: user.stop_key(r), 1),
    }
