"""The local exchange's scripted trading faults, the order counter, and funding on its schedule."""
from __future__ import annotations

import pytest

from arbitrage.sim import LocalExchange
from arbitrage.sim.book import SimBook
from arbitrage.sim.market import Market
from arbitrage.sim.matching import consume, plan_take
from arbitrage.sim.symbols import SYMBOLS
from tests.conftest import wait_for
from tests.test_sim_trading_client import client, ex  # noqa: F401 (fixtures)
from tests.test_sim_trading_client import D, Client, levels, step, top




def test_reject_next_orders_then_normal_again(ex, client):
    ex.reject_next_orders("spot", n=2, code=-2010, msg="Market is closed.")
    for _ in range(2):
        client.error("POST", "/api/v3/order", 400, -2010, "Market is closed.", symbol="BTCUSDT",
                     side="BUY", type="MARKET", quantity="0.001")
    assert client.spot_order(side="BUY", type="MARKET", quantity="0.001")["status"] == "FILLED"
    ex.reject_next_orders("coinm")
    client.error("POST", "/dapi/v1/order", 400, -2010,
                 "Account has insufficient balance for requested action.", symbol="BTCUSD_PERP",
                 side="SELL", type="MARKET", quantity="1")
    assert client.ok("GET", "/dapi/v1/openOrders") == [] and client.position()["positionAmt"] == "0"
    assert ex.orders_received("spot") == 3 and ex.orders_received("coinm") == 1
    assert len(ex.trading.spot.orders) == 1                      # rejected orders never existed


def test_partial_market_fills_the_fraction_and_expires_the_rest(ex, client):
    ex.fill_next_orders_partially("spot", 0.5)
    order = client.spot_order(side="BUY", type="MARKET", quantity="0.01237")
    assert order["status"] == "EXPIRED" and order["executedQty"] == "0.00618000"   # rounded down
    assert client.spot_order(side="BUY", type="MARKET", quantity="0.001")["status"] == "FILLED"
    ex.fill_next_orders_partially("coinm", 0.4, n=1)
    cm = client.cm_order(side="SELL", type="MARKET", quantity="10", newOrderRespType="RESULT")
    assert (cm["status"], cm["executedQty"]) == ("EXPIRED", "4")
    assert client.position()["positionAmt"] == "-4"


def test_partial_limit_stays_open_and_never_fills_beyond_the_fraction(ex, client):
    _, ask = top(ex, "BTCUSDT")
    ex.fill_next_orders_partially("spot", 0.3)
    order = client.spot_order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price=f"{ask + 5}")
    assert order["status"] == "PARTIALLY_FILLED" and order["executedQty"] == "0.00300000"
    step(ex, "BTCUSDT", asks={ask: D("5")})                      # plenty at a price it would take
    still = client.ok("GET", "/api/v3/order", symbol="BTCUSDT", orderId=order["orderId"])
    assert still["status"] == "PARTIALLY_FILLED" and still["executedQty"] == "0.00300000"
    assert client.balances()["USDT"][1] == D("0.007") * (ask + 5)
    canceled = client.ok("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=order["orderId"])
    assert canceled["status"] == "CANCELED" and client.balances()["USDT"][1] == 0


@pytest.mark.parametrize("market, path, symbol, qty, code, msg", [
    ("spot", "/api/v3/order", "BTCUSDT", "0.002", -1007,
     "Timeout waiting for response from backend server. Send status unknown; execution status unknown."),
    ("coinm", "/dapi/v1/order", "BTCUSD_PERP", "2", -1000,
     "Unknown error, please check your request or try again later."),
])
def test_503_after_executing(ex, client, market, path, symbol, qty, code, msg):
    ex.answer_503_after_executing(market)
    resp = client.send("POST", path, {"symbol": symbol, "side": "SELL", "type": "MARKET", "quantity": qty,
                                      "newClientOrderId": "unknown-1"})
    assert resp.status_code == 503 and resp.json() == {"code": code, "msg": msg}
    found = client.ok("GET", path, symbol=symbol, origClientOrderId="unknown-1")
    assert found["status"] == "FILLED" and found["executedQty"].startswith(qty.rstrip("0"))
    assert ex.orders_received(market) == 1
    again = client.send("POST", path, {"symbol": symbol, "side": "SELL", "type": "MARKET", "quantity": qty})
    assert again.status_code == 200 and ex.orders_received(market) == 2


def test_settle_funding_now_pays_the_short_with_a_unique_tran_id(ex, client):
    client.cm_order(side="SELL", type="MARKET", quantity="300")
    mark = ex.trading.coinm.mark("BTCUSD_PERP")
    wallet = D(client.btc_asset()["walletBalance"])
    ex.settle_funding_now(rate=0.0001)
    ex.settle_funding_now(rate=-0.0002)
    rows = client.ok("GET", "/dapi/v1/income", incomeType="FUNDING_FEE")
    first = (D(300) * 100 / mark * D("0.0001")).quantize(D("0.00000001"))
    second = -(D(300) * 100 / mark * D("0.0002")).quantize(D("0.00000001"))
    assert [D(r["income"]) for r in rows] == [first, second]
    assert rows[0]["tranId"] != rows[1]["tranId"] and rows[0]["asset"] == "BTC"
    assert D(client.btc_asset()["walletBalance"]) == wallet + first + second


def test_funding_settles_on_its_interval():
    with LocalExchange(seed=5, speed=2.0, funding_interval_sec=1.0) as live:
        client = Client(live)
        client.cm_order(side="BUY", type="MARKET", quantity="50")
        rows = wait_for(lambda: client.ok("GET", "/dapi/v1/income", incomeType="FUNDING_FEE"),
                        what="a funding settlement")
        assert rows[0]["symbol"] == "BTCUSD_PERP" and D(rows[0]["income"]) != 0


def test_replayed_books_absorb_fills_without_an_event():
    """Replay: the recording owns the update ids, so our fills change levels silently."""
    market = Market()
    book = SimBook(SYMBOLS["BTCUSDT"], last_update_id=100)
    book.load([(59999.0, 1.0)], [(60000.0, 0.5), (60001.0, 2.0)], 100)
    market.add_book(book)
    events = []
    market.add_listener(lambda s, c, p: events.append(p))
    takes = plan_take(book, "BUY", D("0.7"), None)
    consume(market, book, "BUY", takes, 1, publish=False)
    assert book.asks == {60001.0: 1.8} and book.last_update_id == 100 and events == []
    consume(market, book, "BUY", plan_take(book, "BUY", D("0.3"), None), 2, publish=True)
    assert book.asks == {60001.0: 1.5} and events[0]["a"] == [["60001.00000000", "1.50000000"]]


def test_fills_only_touch_the_book_they_trade_on(ex, client):
    eth_before = levels(ex, "ETHUSDT", "asks")
    client.spot_order(side="BUY", type="MARKET", quantity="0.01")
    assert levels(ex, "ETHUSDT", "asks") == eth_before
