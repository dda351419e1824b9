"""Spot WebSocket API methods (`/ws-api/v3`, binance-ws-api.md §4): each runs the REST endpoint
of the same name through the same function; weights from §4. The user data subscription lives on
the connection: events arrive as `{"subscriptionId":N,"event":{…}}` until unsubscribed or closed."""
from __future__ import annotations

from arbitrage.sim.api_spot import SpotApi
from arbitrage.sim.api_spot_amend import SpotAmendApi
from arbitrage.sim.market import wall_ms
from arbitrage.sim.rest import ApiError, Request
from arbitrage.sim.user_stream import UserStreams
from arbitrage.sim.ws_api import Method, Session


def spot_methods(api: SpotApi, amend: SpotAmendApi, streams: UserStreams) -> dict[str, Method]:
    def subscribe(req: Request, session: Session) -> dict:
        api.t.auth.check(req, spot=True)
        if session.subscriptions:       # one subscription per account and connection
            raise ApiError(-2035, "User Data Stream subscription already active.")
        sub_id = session.next_subscription
        session.next_subscription += 1
        session.subscriptions[sub_id] = streams.add_spot_sink(
            lambda event: session.send({"subscriptionId": sub_id, "event": event}))
        return {"subscriptionId": sub_id}

    def unsubscribe(req: Request, session: Session) -> dict:
        raw = req.params.get("subscriptionId", "")
        if raw and (not raw.isdigit() or int(raw) not in session.subscriptions):
            raise ApiError(-2036, "User Data Stream subscription not active.")
        for sub_id in ([int(raw)] if raw else list(session.subscriptions)):
            streams.remove_spot_sink(session.subscriptions.pop(sub_id))
            session.send({"subscriptionId": sub_id, "event": {"e": "eventStreamTerminated", "E": wall_ms()}})
        return {}

    def session_status(req: Request, session: Session) -> dict:
        return {"apiKey": None, "authorizedSince": None, "connectedSince": session.connected_ms,
                "returnRateLimits": session.return_rate_limits, "serverTime": api.t.auth.clock_ms(),
                "userDataStream": bool(session.subscriptions)}

    return {
        "ping": Method(lambda r, s: {}, 1),
        "time": Method(lambda r, s: {"serverTime": api.t.auth.clock_ms()}, 1),
        "order.place": Method(lambda r, s: api.new_order(r), 1, places_order=True),
        "order.cancel": Method(lambda r, s: api.cancel_order(r), 1),
        "order.status": Method(lambda r, s: api.get_order(r), 4),
        "order.cancelReplace": Method(lambda r, s: amend.cancel_replace(r), 1, places_order=True),
        "order.amend.keepPriority": Method(lambda r, s: amend.amend_keep_priority(r), 4),
        "openOrders.status": Method(lambda r, s: api.open_orders(r),
                                    lambda r: 6 if r.params.get("symbol") else 80),
        "account.status": Method(lambda r, s: api.account(r), 20),
        "account.commission": Method(lambda r, s: api.commission(r), 20),
        "session.status": Method(session_status, 2),
        "userDataStream.subscribe.signature": Method(subscribe, 2),
        "userDataStream.unsubscribe": Method(unsubscribe, 2),
    }


def forget_subscriptions(streams: UserStreams, session: Session) -> None:
    """A closed connection's subscriptions end with it."""
    for token in session.subscriptions.values():
        streams.remove_spot_sink(token)
    session.subscriptions.clear()
