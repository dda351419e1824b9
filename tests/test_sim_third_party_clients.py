"""The local exchange driven by clients nobody here wrote: ccxt and Binance's official Python SDKs
(requirements-dev.txt), pointed at it on loopback. Each divergence from Binance found this way has
a test here; what the clients parse is compared with the exchange's own state.

No test may reach the internet: `loopback_only` refuses (and records) every name lookup and
connection to anything but loopback, and a test that tried fails.

ccxt options set, and why:
  - every URL of `urls["api"]` is rewritten to the local exchange, so an endpoint this exchange
    does not serve answers 404 here instead of being asked of Binance;
  - `fetchMarkets.types`: ["spot"] for `binance` (its default also reads USD-M `/fapi`, a product
    this exchange does not list); `binancecoinm` reads only "inverse" (`/dapi`) by default;
  - `fetchCurrencies: False`: with keys set, load_markets reads the wallet's
    `/sapi/v1/capital/config/getall`, which is no part of a trading venue's REST here;
  - `fetchMargins: False`: the margin pairs (`/sapi/v1/margin/...`), likewise.
The SDKs take `base_path` = the local exchange, `retries=0` (an order must never be re-sent) and a
20 s timeout (their default of 1 s is too short on a loaded test machine).
"""
from __future__ import annotations

import re
from decimal import Decimal

import pytest

ccxt = pytest.importorskip("ccxt", reason="dev requirement (requirements-dev.txt)")
pytest.importorskip("binance_sdk_spot", reason="dev requirement (requirements-dev.txt)")
pytest.importorskip("binance_sdk_derivatives_trading_coin_futures", reason="dev requirement")

from binance_common.configuration import ConfigurationRestAPI  # noqa: E402
from binance_common.errors import BadRequestError  # noqa: E402
from binance_sdk_derivatives_trading_coin_futures.derivatives_trading_coin_futures import (  # noqa: E402
    DerivativesTradingCoinFutures,
)
from binance_sdk_spot.spot import Spot  # noqa: E402

from arbitrage.sim import LocalExchange  # noqa: E402
from tests.sim_clients import (  # noqa: E402,F401 (fixtures by name)
    PERP, SPOT, best, loopback_only, mark, sdk_types_match, step,
)

CCXT_SPOT, CCXT_PERP = "BTC/USDT", "BTC/USD:BTC"
D = Decimal


@pytest.fixture
def ex():
    """A fresh local exchange whose synthetic market barely moves by itself (one tick per 100 s):
    what a client parses can be compared with the book; tests move it through `step`."""
    with LocalExchange(seed=5, speed=0.001) as exchange:
        yield exchange


def point_ccxt(cls, ex: LocalExchange, **options):
    client = cls({"apiKey": ex.api_key, "secret": ex.api_secret, "timeout": 20000,
                  "options": {"fetchCurrencies": False, "fetchMargins": False, **options}})
    api = client.urls["api"]
    for name, url in list(api.items()):
        if isinstance(url, str):
            api[name] = re.sub(r"^https?://[^/]+", ex.rest_url, url)
    return client


@pytest.fixture
def cx_spot(ex):
    return point_ccxt(ccxt.binance, ex, fetchMarkets={"types": ["spot"]})


@pytest.fixture
def cx_cm(ex):
    return point_ccxt(ccxt.binancecoinm, ex)


def sdk_config(ex: LocalExchange) -> ConfigurationRestAPI:
    return ConfigurationRestAPI(api_key=ex.api_key, api_secret=ex.api_secret, base_path=ex.rest_url,
                                timeout=20000, retries=0)


@pytest.fixture
def sdk_spot(ex):
    return Spot(config_rest_api=sdk_config(ex)).rest_api


@pytest.fixture
def sdk_cm(ex):
    return DerivativesTradingCoinFutures(config_rest_api=sdk_config(ex)).rest_api


def below(price: D, tick: D, fraction: str = "0.98") -> D:
    """A BUY price that rests: `fraction` of `price`, down to the tick."""
    return (price * D(fraction) / tick).to_integral_value() * tick


# -- markets ------------------------------------------------------------------------------------
def test_markets_load_in_ccxt_and_the_sdks_with_binances_filter_types(ex, cx_spot, cx_cm, sdk_spot, sdk_cm):
    spot = cx_spot.load_markets()[CCXT_SPOT]
    assert spot["id"] == SPOT and D(str(spot["precision"]["price"])) == D("0.01")
    perp = cx_cm.load_markets()[CCXT_PERP]
    assert perp["id"] == PERP and perp["inverse"] and perp["contractSize"] == 100
    assert sdk_spot.exchange_info(symbol=SPOT).data().symbols[0].symbol == SPOT
    # the SDK's model types multiplierDecimal as a string (a number is a logged type mismatch)
    raw = cx_cm.dapiPublicGetExchangeInfo()["symbols"][0]["filters"]
    assert [f["multiplierDecimal"] for f in raw if f["filterType"] == "PERCENT_PRICE"] == ["4"]
    info = sdk_cm.exchange_information().data()
    entry = next(s for s in info.symbols if s.symbol == PERP)
    percent = next(f for f in entry.filters if f.filter_type == "PERCENT_PRICE")
    assert percent.multiplier_decimal == "4"


# -- order books and tickers --------------------------------------------------------------------
def test_depth_and_book_tickers_agree_with_the_book(ex, cx_spot, cx_cm, sdk_spot, sdk_cm):
    bid, bid_qty, ask, ask_qty = best(ex, SPOT)
    book = cx_spot.fetch_order_book(CCXT_SPOT, 5)
    assert (D(str(book["bids"][0][0])), D(str(book["asks"][0][0]))) == (bid, ask)
    quotes = cx_spot.fetch_bids_asks([CCXT_SPOT])[CCXT_SPOT]
    assert (D(str(quotes["bid"])), D(str(quotes["bidVolume"])), D(str(quotes["ask"])),
            D(str(quotes["askVolume"]))) == (bid, bid_qty, ask, ask_qty)
    one = sdk_spot.ticker_book_ticker(symbol=SPOT).data().actual_instance
    assert (one.symbol, D(one.bid_price), D(one.ask_qty)) == (SPOT, bid, ask_qty)
    assert SPOT in [r.symbol for r in sdk_spot.ticker_book_ticker().data().actual_instance]

    bid, bid_qty, ask, ask_qty = best(ex, PERP)
    quotes = cx_cm.fetch_bids_asks([CCXT_PERP])[CCXT_PERP]
    assert (D(str(quotes["bid"])), D(str(quotes["ask"]))) == (bid, ask)
    rows = sdk_cm.symbol_order_book_ticker(symbol=PERP).data()       # an array even for one symbol
    assert [(r.symbol, r.pair, D(r.bid_qty), D(r.ask_price)) for r in rows] == [(PERP, "BTCUSD", bid_qty, ask)]
    assert rows[0].last_update_id == ex.market.books[PERP].last_update_id


def test_depth_limit_over_an_int_is_refused_and_over_5000_is_served(ex, cx_spot, sdk_spot):
    with pytest.raises(ccxt.BadRequest, match="-1130"):
        cx_spot.fetch_order_book(CCXT_SPOT, 999999999999)
    with pytest.raises(BadRequestError, match="-1130"):
        sdk_spot.depth(symbol=SPOT, limit=999999999999)
    with ex.market.lock:
        levels = min(5000, len(ex.market.books[SPOT].bids))
    assert len(sdk_spot.depth(symbol=SPOT, limit=10000).data().bids) == levels


def test_last_prices_follow_the_book(ex, cx_spot, cx_cm, sdk_spot, sdk_cm):
    for symbol in (SPOT, PERP):
        step(ex, symbol)
    for symbol, client, name in ((SPOT, cx_spot, CCXT_SPOT), (PERP, cx_cm, CCXT_PERP)):
        bid, _, ask, _ = best(ex, symbol)
        price = D(str(client.fetch_last_prices([name])[name]["price"]))
        assert bid <= price <= ask, (symbol, bid, price, ask)
    spot_price = D(sdk_spot.ticker_price(symbol=SPOT).data().actual_instance.price)
    perp = sdk_cm.symbol_price_ticker(symbol=PERP).data()
    assert best(ex, SPOT)[0] <= spot_price <= best(ex, SPOT)[2]
    assert [(r.symbol, r.ps) for r in perp] == [(PERP, "BTCUSD")]
    assert best(ex, PERP)[0] <= D(perp[0].price) <= best(ex, PERP)[2]


# -- klines -------------------------------------------------------------------------------------
def test_klines_of_both_products_carry_the_prices_and_this_exchanges_volume(ex, cx_spot, cx_cm, sdk_spot, sdk_cm):
    for symbol in (SPOT, PERP):
        step(ex, symbol)
    bought = sdk_spot.new_order(symbol=SPOT, side="BUY", type="MARKET", quantity=0.002).data()
    assert bought.status == "FILLED"
    candles = cx_spot.fetch_ohlcv(CCXT_SPOT, "1m")
    assert candles and candles[-1][5] == pytest.approx(0.002)
    rows = sdk_spot.klines(symbol=SPOT, interval="1m").data()
    last = rows[-1]
    assert len(last) == 12 and last[6] == last[0] + 59_999 and D(last[5]) == D("0.002")
    assert D(last[7]) == D(bought.cummulative_quote_qty) and last[8] == len(bought.fills)
    assert D(last[9]) == D("0.002")                   # the taker bought
    assert D(last[3]) <= D(last[1]) <= D(last[2]) and D(last[3]) <= D(last[4]) <= D(last[2])

    perp = cx_cm.fetch_ohlcv(CCXT_PERP, "5m")
    assert perp and perp[-1][5] == 0                  # no contracts traded yet
    rows = sdk_cm.kline_candlestick_data(symbol=PERP, interval="1h").data()
    assert rows[-1][0] % 3_600_000 == 0 and rows[-1][6] == rows[-1][0] + 3_599_999
    with pytest.raises(ccxt.BadRequest, match="-1120"):
        cx_spot.public_get_klines({"symbol": SPOT, "interval": "7m"})


# -- funding and positions ----------------------------------------------------------------------
def test_funding_history_lists_each_settlement(ex, cx_cm, sdk_cm):
    ex.settle_funding_now(D("0.00012"))
    ex.settle_funding_now(D("-0.00003"))
    history = cx_cm.fetch_funding_rate_history(CCXT_PERP)
    # after the 30 days of 8-hourly settlements the local exchange starts with
    assert [h["fundingRate"] for h in history][-2:] == [0.00012, -0.00003]
    rows = sdk_cm.get_funding_rate_history_of_perpetual_futures(symbol=PERP, limit=1).data()
    assert [(r.symbol, r.funding_rate) for r in rows] == [(PERP, "-0.00003000")]
    assert rows[0].funding_time == history[-1]["timestamp"]


def test_positions_through_the_leverage_brackets(ex, cx_cm, sdk_cm):
    brackets = sdk_cm.notional_bracket_for_symbol(symbol=PERP).data()
    assert brackets[0].symbol == PERP and brackets[0].brackets[0].initial_leverage >= ex.trading.account.leverage
    opened = cx_cm.create_order(CCXT_PERP, "market", "sell", 3)
    assert opened["status"] == "closed" and opened["filled"] == 3
    positions = cx_cm.fetch_positions([CCXT_PERP])          # reads /dapi/v2/leverageBracket first
    assert [(p["symbol"], p["side"], p["contracts"]) for p in positions] == [(CCXT_PERP, "short", 3)]
    assert positions[0]["maintenanceMarginPercentage"] == float(ex.trading.account.maint_rate)
    assert ex.trading.account.position(PERP).amount == -3
    cx_cm.create_order(CCXT_PERP, "market", "buy", 3, params={"reduceOnly": True})
    assert ex.trading.account.position(PERP).amount == 0


# -- balances -----------------------------------------------------------------------------------
def test_a_fresh_account_shows_its_balances(ex, cx_spot, cx_cm, sdk_cm):
    spot = cx_spot.fetch_balance()
    with ex.market.lock:
        wallet = {asset: free + locked for asset, free, locked in ex.trading.wallet.rows()}
    assert {a: D(str(v)) for a, v in spot["total"].items()} == wallet
    coinm = cx_cm.fetch_balance()
    assert D(str(coinm["total"]["BTC"])) == ex.trading.account.balance("BTC") == D(1)
    assert D(str(coinm["total"]["ETH"])) == ex.trading.account.balance("ETH")
    assets = {a.asset: a for a in sdk_cm.account_information().data().assets}
    assert assets["BTC"].update_time > 0 and D(assets["BTC"].wallet_balance) == D(1)


def test_coinm_asset_times_are_per_asset(ex, cx_cm):
    before = {a["asset"]: a["updateTime"] for a in cx_cm.dapiPrivateGetAccount()["assets"]}
    cx_cm.create_order(CCXT_PERP, "market", "buy", 1)
    after = {a["asset"]: a["updateTime"] for a in cx_cm.dapiPrivateGetAccount()["assets"]}
    assert after["BTC"] > before["BTC"] and after["ETH"] == before["ETH"] > 0


# -- orders -------------------------------------------------------------------------------------
def test_spot_orders_through_ccxt_and_the_sdk(ex, cx_spot, sdk_spot):
    tick = D("0.01")
    price = below(best(ex, SPOT)[0], tick)
    placed = cx_spot.create_order(CCXT_SPOT, "limit", "buy", 0.001, float(price))
    assert placed["status"] == "open" and D(str(placed["price"])) == price
    assert cx_spot.fetch_order(placed["id"], CCXT_SPOT)["status"] == "open"
    assert cx_spot.cancel_order(placed["id"], CCXT_SPOT)["status"] == "canceled"

    placed = sdk_spot.new_order(symbol=SPOT, side="BUY", type="LIMIT", time_in_force="GTC",
                                quantity=0.001, price=float(price)).data()
    assert sdk_spot.get_order(symbol=SPOT, order_id=placed.order_id).data().status == "NEW"
    assert sdk_spot.delete_order(symbol=SPOT, order_id=placed.order_id).data().status == "CANCELED"


def test_spot_order_test_validates_without_trading(ex, cx_spot, sdk_spot):
    price = below(best(ex, SPOT)[0], D("0.01"))
    assert sdk_spot.order_test(symbol=SPOT, side="BUY", type="LIMIT", time_in_force="GTC",
                               quantity=0.001, price=float(price)).data().to_dict() == {}
    rates = sdk_spot.order_test(symbol=SPOT, side="SELL", type="MARKET", quantity=0.001,
                                compute_commission_rates=True).data()
    assert D(rates.standard_commission_for_order.taker) == ex.trading.spot_rates[1]
    cx_spot.create_order(CCXT_SPOT, "limit", "buy", 0.001, float(price), params={"test": True})
    with pytest.raises(ccxt.InvalidOrder):                  # filters still apply: off the tick
        cx_spot.privatePostOrderTest({"symbol": SPOT, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                      "quantity": "0.001", "price": f"{price + D('0.001')}"})
    assert ex.trading.spot.open_list() == [] and ex.trading.spot.trades == []


def test_cancel_all_open_spot_orders(ex, cx_spot, sdk_spot):
    price = below(best(ex, SPOT)[0], D("0.01"))
    ids = [cx_spot.create_order(CCXT_SPOT, "limit", "buy", 0.001, float(price - i))["id"] for i in range(2)]
    canceled = cx_spot.cancel_all_orders(CCXT_SPOT)
    assert sorted(o["id"] for o in canceled) == sorted(ids) and {o["status"] for o in canceled} == {"canceled"}
    assert ex.trading.spot.open_list() == []
    sdk_spot.new_order(symbol=SPOT, side="BUY", type="LIMIT", time_in_force="GTC", quantity=0.001,
                       price=float(price))
    rows = sdk_spot.delete_open_orders(symbol=SPOT).data()
    assert [r.status for r in rows] == ["CANCELED"] and ex.trading.spot.open_list() == []
    with pytest.raises(ccxt.OrderNotFound):                 # none open: -2011 as Binance answers
        cx_spot.cancel_all_orders(CCXT_SPOT)


def test_coinm_orders_through_ccxt_and_the_sdk(ex, cx_cm, sdk_cm):
    price = below(mark(ex), D("0.1"))
    placed = cx_cm.create_order(CCXT_PERP, "limit", "buy", 1, float(price))
    assert placed["status"] == "open" and placed["amount"] == 1
    assert cx_cm.fetch_order(placed["id"], CCXT_PERP)["status"] == "open"
    assert cx_cm.cancel_order(placed["id"], CCXT_PERP)["status"] == "canceled"

    placed = sdk_cm.new_order(symbol=PERP, side="BUY", type="LIMIT", time_in_force="GTC", quantity=1,
                              price=float(price)).data()
    assert sdk_cm.query_order(symbol=PERP, order_id=placed.order_id).data().status == "NEW"
    assert sdk_cm.cancel_order(symbol=PERP, order_id=placed.order_id).data().status == "CANCELED"
    assert ex.trading.coinm.open_list() == []

    for _ in range(2):
        sdk_cm.new_order(symbol=PERP, side="BUY", type="LIMIT", time_in_force="GTC", quantity=1,
                         price=float(price))
    cx_cm.cancel_all_orders(CCXT_PERP)
    assert ex.trading.coinm.open_list() == []
