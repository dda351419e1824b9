"""Faults of the fast lanes (arbitrage.sim.channel_faults, the chaos plan): a WebSocket API answer
lost or late while the order executes, a user stream dropped, a listenKey expired early, an
execution event lost. Each is observed on the wire and counted."""
from __future__ import annotations

import time

import pytest
import websocket

from arbitrage.sim import LocalExchange
from arbitrage.sim.chaos import FaultPlan
from tests.sim_clients import PERP, SPOT, cm, ex, spot  # noqa: F401 (fixtures by name)
from tests.ws_api_client import StreamClient, WsApiClient, rest


SELL_SPOT = {"symbol": SPOT, "side": "SELL", "type": "MARKET", "quantity": "0.00100"}
BUY_PERP = {"symbol": PERP, "side": "BUY", "type": "MARKET", "quantity": "1"}


def test_a_lost_answer_leaves_an_executed_order_without_a_reply(ex, spot, cm):
    ex.lose_next_ws_answers("spot")
    ex.lose_next_ws_answers("coinm")
    lost = spot.send("order.place", dict(SELL_SPOT, newClientOrderId="lost-1"))
    cm_lost = cm.send("order.place", dict(BUY_PERP, newClientOrderId="lost-2"))
    with pytest.raises(TimeoutError):
        spot.answer(lost, timeout=1.0)
    with pytest.raises(TimeoutError):
        cm.answer(cm_lost, timeout=0.5)
    assert spot.call("order.status", {"symbol": SPOT, "origClientOrderId": "lost-1"})["result"]["status"] == "FILLED"
    assert cm.call("order.status", {"symbol": PERP, "origClientOrderId": "lost-2"})["result"]["status"] == "FILLED"
    assert spot.call("order.place", SELL_SPOT)["status"] == 200          # the next one is answered
    assert ex.fault_counts()["wsapi_lost"] == 2


def test_a_late_answer_comes_after_the_order_executed(ex, spot):
    assert spot.call("userDataStream.subscribe.signature")["status"] == 200
    ex.delay_next_ws_answers("spot", 1.0)
    sent = time.monotonic()
    req = spot.send("order.place", dict(SELL_SPOT, newClientOrderId="late-1"))
    report = spot.event(lambda e: e["e"] == "executionReport" and e["X"] == "FILLED", timeout=5)
    assert report["c"] == "late-1" and time.monotonic() - sent < 1.0      # executed at once
    answer = spot.answer(req, timeout=5)
    assert answer["result"]["status"] == "FILLED" and time.monotonic() - sent >= 1.0
    assert ex.fault_counts()["wsapi_late"] == 1


def test_a_dropped_user_stream_closes_the_connections_that_carry_user_data(ex, spot):
    assert spot.call("userDataStream.subscribe.signature")["status"] == 200
    other = WsApiClient(ex.ws_api_url, ex.api_key, ex.api_secret)      # no subscription: kept
    key = rest(ex.rest_url, ex.api_key, "", "POST", "/dapi/v1/listenKey", signed=False).json()["listenKey"]
    stream = StreamClient(f"{ex.ws_url}/ws/{key}")
    try:
        time.sleep(0.2)     # the stream's subscription is registered on connect
        assert ex.drop_user_streams() == 2
        with pytest.raises(websocket.WebSocketConnectionClosedException):
            for _ in range(50):
                spot.pump(0.1)
        with pytest.raises(websocket.WebSocketConnectionClosedException):
            stream.next(timeout=5)
        assert other.call("ping", signed=False)["status"] == 200
        assert ex.fault_counts()["uds_drop"] == 1
    finally:
        other.close()
        stream.close()


def test_a_listen_key_expired_early_says_so_and_a_new_start_gives_another(ex):
    key = rest(ex.rest_url, ex.api_key, "", "POST", "/dapi/v1/listenKey", signed=False).json()["listenKey"]
    stream = StreamClient(f"{ex.ws_url}/ws/{key}")
    try:
        time.sleep(0.2)
        assert ex.expire_listen_keys() == 1
        assert stream.next(timeout=5)["e"] == "listenKeyExpired"
        renewed = rest(ex.rest_url, ex.api_key, "", "POST", "/dapi/v1/listenKey", signed=False).json()["listenKey"]
        assert renewed != key
        assert ex.fault_counts()["listenkey_expired"] == 1
    finally:
        stream.close()


def test_a_lost_event_is_missing_and_the_next_one_still_comes(ex, spot, cm):
    assert spot.call("userDataStream.subscribe.signature")["status"] == 200
    ex.lose_next_user_events("spot")
    spot.call("order.place", dict(SELL_SPOT, newClientOrderId="gap-1"))
    reports = []
    while not reports or reports[-1]["X"] != "FILLED":
        reports.append(spot.event(lambda e: e["e"] == "executionReport"))
    assert reports[0]["x"] == "TRADE"                       # its NEW never came
    key = cm.call("userDataStream.start", signed=False, key_only=True)["result"]["listenKey"]
    stream = StreamClient(f"{ex.ws_url}/ws/{key}")
    try:
        time.sleep(0.2)
        ex.lose_next_user_events("coinm", 2)
        cm.call("order.place", BUY_PERP)
        assert stream.next(timeout=5)["e"] == "ACCOUNT_UPDATE"      # NEW and TRADE lost
    finally:
        stream.close()
    assert ex.fault_counts()["event_lost"] == 3


def test_the_chaos_plan_fires_the_fast_lane_faults():
    plan = FaultPlan.parse("wslost=0.3,wslate=0.3:0.1,udsdrop=0.5,lkexpire=0.5,eventlost=0.3,seed=3")
    assert plan.active and plan.wslate == (0.3, 0.1)
    with pytest.raises(ValueError, match="wslate"):
        FaultPlan.parse("wslate=5")
    kinds = ("wsapi_lost", "wsapi_late", "uds_drop", "listenkey_expired", "event_lost")
    with LocalExchange(seed=5, speed=0.001, faults=plan) as ex:
        clients: dict[str, WsApiClient] = {}
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not all(ex.fault_counts()[k] for k in kinds):
                if not ex.lanes.streams.live_keys():
                    rest(ex.rest_url, ex.api_key, "", "POST", "/dapi/v1/listenKey", signed=False)
                for market, url, order in (("spot", ex.ws_api_url, SELL_SPOT), ("coinm", ex.ws_dapi_url, BUY_PERP)):
                    try:
                        if market not in clients:
                            clients[market] = WsApiClient(url, ex.api_key, ex.api_secret)
                            if market == "spot":
                                clients[market].send("userDataStream.subscribe.signature")
                        clients[market].send("order.place", order)      # answered or not
                    except (websocket.WebSocketException, OSError):
                        clients.pop(market).close()
                time.sleep(0.1)
        finally:
            for client in clients.values():
                client.close()
        counts = ex.fault_counts()
        assert all(counts[k] >= 1 for k in kinds), counts
