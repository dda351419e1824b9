"""Order rejections on the local exchange, with Binance's codes and messages: filters, duplicate
client ids, unknown orders, balance, margin and reduce-only."""
from __future__ import annotations

from decimal import Decimal

import pytest

from arbitrage.sim.filters import check_coinm
from arbitrage.sim.rest import ApiError
from arbitrage.sim.symbols import SYMBOLS
from tests.test_sim_trading_client import D, Client, frozen_exchange, top

SPOT_ORDER, CM_ORDER = "/api/v3/order", "/dapi/v1/order"


@pytest.fixture(scope="module")
def ex():
    with frozen_exchange() as exchange:
        yield exchange


@pytest.fixture
def client(ex):
    return Client(ex)


@pytest.mark.parametrize("params, code, msg", [
    ({"quantity": "0.000000001", "price": "60000"}, -1111, "Parameter 'quantity' has too much precision."),
    ({"quantity": "0.01", "price": "60000.000000001"}, -1111, "Parameter 'price' has too much precision."),
    ({"quantity": "0.000015", "price": "60000"}, -1013, "Filter failure: LOT_SIZE"),
    ({"quantity": "0.000001", "price": "60000"}, -1013, "Filter failure: LOT_SIZE"),
    ({"quantity": "0.01", "price": "60000.001"}, -1013, "Filter failure: PRICE_FILTER"),
    ({"quantity": "0.00001", "price": "60000"}, -1013, "Filter failure: NOTIONAL"),
    ({"quantity": "abc", "price": "60000"}, -1100, None),
])
def test_spot_filters(client, params, code, msg):
    client.error("POST", SPOT_ORDER, 400, code, msg, symbol="BTCUSDT", side="SELL", type="LIMIT",
                 timeInForce="GTC", **params)


def test_spot_market_filters_and_missing_parameters(client):
    client.error("POST", SPOT_ORDER, 400, -1013, "Filter failure: MARKET_LOT_SIZE", symbol="BTCUSDT",
                 side="BUY", type="MARKET", quantity="200")
    client.error("POST", SPOT_ORDER, 400, -1102, None, symbol="BTCUSDT", side="BUY", type="LIMIT",
                 quantity="0.01", price="60000")                          # no timeInForce
    client.error("POST", SPOT_ORDER, 400, -1117, "Invalid side.", symbol="BTCUSDT", side="HOLD",
                 type="MARKET", quantity="0.01")
    client.error("POST", SPOT_ORDER, 400, -1121, "Invalid symbol.", symbol="BTCUSD_PERP", side="BUY",
                 type="MARKET", quantity="0.01")


@pytest.mark.parametrize("params, code, msg", [
    ({"quantity": "0", "price": "60000"}, -4003, "Quantity less than or equal to zero."),
    ({"quantity": "1.5", "price": "60000"}, -1111, "Precision is over the maximum defined for this asset."),
    ({"quantity": "1", "price": "60000.05"}, -1111, "Precision is over the maximum defined for this asset."),
    ({"quantity": "100001", "price": "60000"}, -4005, "Quantity greater than max quantity."),
    ({"quantity": "1", "price": "99000"}, -4016, "Price is higher than mark price multiplier cap."),
    ({"quantity": "1", "price": "100000.1"}, -4002, "Price greater than max price."),
])
def test_coinm_filters(client, params, code, msg):
    client.error("POST", CM_ORDER, 400, code, msg, symbol="BTCUSD_PERP", side="SELL", type="LIMIT",
                 timeInForce="GTC", **params)


def test_coinm_grid_codes_on_a_symbol_whose_grid_is_not_a_power_of_ten():
    from dataclasses import replace
    spec = replace(SYMBOLS["BTCUSD_PERP"], tick_size=Decimal("0.5"), step_size=Decimal("2"),
                   min_qty=Decimal("2"))
    with pytest.raises(ApiError) as tick:
        check_coinm(spec, False, Decimal("2"), Decimal("60000.1"), Decimal("60000"))
    assert (tick.value.code, tick.value.msg) == (-4014, "Price not increased by tick size.")
    with pytest.raises(ApiError) as step:
        check_coinm(spec, False, Decimal("3"), Decimal("60000.5"), Decimal("60000"))
    assert (step.value.code, step.value.msg) == (-4023, "Qty not increased by step size.")
    check_coinm(spec, False, Decimal("4"), Decimal("60000.5"), Decimal("60000"))     # on both grids


def test_duplicate_client_order_id_of_an_open_order(ex, client):
    bid, _ = top(ex, "BTCUSDT")
    first = client.spot_order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001",
                              price=f"{bid - 100}", newClientOrderId="same-id")
    client.error("POST", SPOT_ORDER, 400, -2010, "Duplicate order sent.", symbol="BTCUSDT", side="BUY",
                 type="LIMIT", timeInForce="GTC", quantity="0.001", price=f"{bid - 100}",
                 newClientOrderId="same-id")
    client.ok("DELETE", SPOT_ORDER, symbol="BTCUSDT", origClientOrderId="same-id")
    again = client.spot_order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001",
                              price=f"{bid - 100}", newClientOrderId="same-id")    # reusable once closed
    assert again["orderId"] != first["orderId"]
    client.ok("DELETE", SPOT_ORDER, symbol="BTCUSDT", orderId=again["orderId"])
    cm_bid, _ = top(ex, "BTCUSD_PERP")
    client.cm_order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="1", price=f"{cm_bid - 100}",
                    newClientOrderId="cm-same")
    client.error("POST", CM_ORDER, 400, -4116, "ClientOrderId is duplicated.", symbol="BTCUSD_PERP",
                 side="BUY", type="LIMIT", timeInForce="GTC", quantity="1", price=f"{cm_bid - 100}",
                 newClientOrderId="cm-same")
    client.ok("DELETE", CM_ORDER, symbol="BTCUSD_PERP", origClientOrderId="cm-same")


@pytest.mark.parametrize("path, symbol", [(SPOT_ORDER, "BTCUSDT"), (CM_ORDER, "BTCUSD_PERP")])
def test_unknown_orders(client, path, symbol):
    client.error("GET", path, 400, -2013, "Order does not exist.", symbol=symbol, orderId=1)
    client.error("GET", path, 400, -2013, "Order does not exist.", symbol=symbol, origClientOrderId="nope")
    client.error("DELETE", path, 400, -2011, "Unknown order sent.", symbol=symbol, orderId=1)
    client.error("GET", path, 400, -1102, None, symbol=symbol)


def test_cancel_of_a_filled_order_is_2011(client):
    done = client.spot_order(side="SELL", type="MARKET", quantity="0.001")
    assert done["status"] == "FILLED"
    client.error("DELETE", SPOT_ORDER, 400, -2011, "Unknown order sent.", symbol="BTCUSDT",
                 orderId=done["orderId"])
    assert client.ok("GET", SPOT_ORDER, symbol="BTCUSDT", orderId=done["orderId"])["status"] == "FILLED"


def test_insufficient_spot_balance(client):
    msg = "Account has insufficient balance for requested action."
    client.error("POST", SPOT_ORDER, 400, -2010, msg, symbol="BTCUSDT", side="BUY", type="MARKET",
                 quantity="2")                                     # ~120 000 USDT > 100 000
    client.error("POST", SPOT_ORDER, 400, -2010, msg, symbol="BTCUSDT", side="SELL", type="LIMIT",
                 timeInForce="GTC", quantity="5", price="70000")   # 5 BTC > 1 BTC


def test_reduce_only_rules(ex, client):
    rejected = "ReduceOnly Order is rejected."
    client.error("POST", CM_ORDER, 400, -2022, rejected, symbol="BTCUSD_PERP", side="BUY", type="MARKET",
                 quantity="1", reduceOnly="true")                  # flat: nothing to reduce
    client.cm_order(side="SELL", type="MARKET", quantity="30")
    client.error("POST", CM_ORDER, 400, -2022, rejected, symbol="BTCUSD_PERP", side="SELL", type="MARKET",
                 quantity="1", reduceOnly="true")                  # would grow the short
    client.error("POST", CM_ORDER, 400, -2022, rejected, symbol="BTCUSD_PERP", side="BUY", type="MARKET",
                 quantity="31", reduceOnly="true")                 # would flip it
    ok = client.cm_order(side="BUY", type="MARKET", quantity="30", reduceOnly="true", newOrderRespType="RESULT")
    assert ok["reduceOnly"] is True and ok["status"] == "FILLED"
    assert client.position()["positionAmt"] == "0"


def test_insufficient_margin():
    with frozen_exchange(coinm_balances={"BTC": D("0.001")}) as small:
        client = Client(small)
        # 100 contracts ≈ 0.1667 BTC of value, 20x → ≈ 0.0083 BTC initial margin > 0.001
        client.error("POST", CM_ORDER, 400, -2019, "Margin is insufficient.", symbol="BTCUSD_PERP",
                     side="SELL", type="MARKET", quantity="100")
        assert client.cm_order(side="SELL", type="MARKET", quantity="5", newOrderRespType="RESULT")["status"] == "FILLED"
        # reducing needs no margin
        client.cm_order(side="BUY", type="MARKET", quantity="5", reduceOnly="true")
        assert small.orders_received("coinm") == 3
