"""Queue position of resting orders on the local exchange (arbitrage/sim/queue.py): the model by
hand, then over loopback — trades at the order's price, cancels ahead, amend vs cancel-replace vs
COIN-M modify, a client's taker order, a replayed trade — and `none` keeping the old rule."""
from __future__ import annotations

import json

import pytest

from arbitrage.exchanges.binance_spot import SpotClient
from arbitrage.exchanges.http import BinanceHttp
from arbitrage.models import SPOT, OrderRequest
from arbitrage.sim.queue import Queues
from arbitrage.sim import LocalExchange
from arbitrage.sim.orders import NewOrder
from tests.test_sim_trading_client import Client, D, frozen_exchange, levels, step, top

SPOT_SYM, PERP = "BTCUSDT", "BTCUSD_PERP"


# -- the model, by hand ----------------------------------------------------------------------------
def test_risk_averse_queue_by_hand():
    q = Queues("risk_averse")
    q.join(1, D("5"))                                   # 5 rest at the price when we join
    assert q.trade(1, D("2")) == 0 and q.position(1) == D("3")
    q.level(1, D("2"))                                  # the level fell to 2: at most 2 ahead
    assert q.position(1) == D("2")
    q.level(1, D("4"))                                  # it grew: those are behind us
    assert q.position(1) == D("2")
    assert q.trade(1, D("3")) == D("1") and q.position(1) == 0     # 2 ahead, then 1 reaches us
    assert q.trade(1, D("0.5")) == D("0.5")             # at the front: every trade reaches us
    q.forget(1)
    assert q.position(1) is None and q.trade(1, D("9")) == 0


def test_no_queue_model_tracks_nothing_and_a_wrong_name_is_refused():
    q = Queues("none")
    q.join(1, D("5"))
    assert q.position(1) is None and q.trade(1, D("100")) == 0
    with pytest.raises(ValueError, match="none, risk_averse"):
        Queues("fifo")


# -- over loopback --------------------------------------------------------------------------------
@pytest.fixture
def ex_queue():
    with frozen_exchange(queue_model="risk_averse") as exchange:
        yield exchange


@pytest.fixture
def ex_none():
    with frozen_exchange() as exchange:
        yield exchange


def sell_trade(ex, price: D, qty: str, symbol: str = SPOT_SYM) -> None:
    """A public trade where a seller took the bids (`m`: the buyer was the maker)."""
    ex.market.public_trade(symbol, {"e": "trade", "s": symbol, "p": str(price), "q": qty, "m": True})


def buy_trade(ex, price: D, qty: str, symbol: str = SPOT_SYM) -> None:
    ex.market.public_trade(symbol, {"e": "trade", "s": symbol, "p": str(price), "q": qty, "m": False})


def rest_spot_buy(ex, client, qty: str = "0.01"):
    """A LIMIT_MAKER buy at the best bid, behind everything resting there; its level's size."""
    bid = top(ex, SPOT_SYM)[0]
    level = dict(levels(ex, SPOT_SYM, "bids"))[bid]
    order = client.spot_order(side="BUY", type="LIMIT_MAKER", quantity=qty, price=f"{bid}")
    return order, bid, level


def status(client, order) -> tuple[str, D]:
    got = client.ok("GET", "/api/v3/order", symbol=SPOT_SYM, orderId=order["orderId"])
    return got["status"], D(got["executedQty"])


def test_a_spot_bid_fills_from_trades_at_its_price_after_its_queue(ex_queue):
    ex, client = ex_queue, Client(ex_queue)
    order, bid, level = rest_spot_buy(ex, client)
    assert ex.trading.spot.queues.position(order["orderId"]) == level
    sell_trade(ex, bid, str(level - D("0.001")))        # all but 0.001 of the queue ahead
    assert status(client, order) == ("NEW", 0)
    buy_trade(ex, bid, "5")                             # buyers lifting asks never reach a bid
    sell_trade(ex, bid + D("0.01"), "5")                # sellers above our price neither
    assert status(client, order) == ("NEW", 0)
    sell_trade(ex, bid, "0.003")                        # 0.001 ahead, 0.002 reaches us
    assert status(client, order) == ("PARTIALLY_FILLED", D("0.002"))
    sell_trade(ex, bid - D("0.01"), "0.05")             # a sale below our price went through us
    assert status(client, order) == ("FILLED", D("0.01"))
    trades = client.ok("GET", "/api/v3/myTrades", symbol=SPOT_SYM, orderId=order["orderId"])
    assert [(D(t["price"]), D(t["qty"]), t["isMaker"]) for t in trades] == [
        (bid, D("0.002"), True), (bid, D("0.008"), True)]
    assert all(D(t["commission"]) == D(t["qty"]) * D("0.001") for t in trades)   # maker rate, in BTC
    assert client.balances()["USDT"][1] == 0            # nothing left locked


def test_cancels_ahead_shrink_the_queue_only_to_the_level(ex_queue):
    ex, client = ex_queue, Client(ex_queue)
    order, bid, level = rest_spot_buy(ex, client)
    step(ex, SPOT_SYM, bids={bid: level + 1})           # more joins behind us: nothing changes
    assert ex.trading.spot.queues.position(order["orderId"]) == level
    step(ex, SPOT_SYM, bids={bid: D("0.004")})          # the level falls to 0.004: at most that ahead
    assert ex.trading.spot.queues.position(order["orderId"]) == D("0.004")
    sell_trade(ex, bid, "0.006")
    assert status(client, order) == ("PARTIALLY_FILLED", D("0.002"))


def test_without_a_queue_model_trades_at_the_price_fill_nothing(ex_none):
    ex, client = ex_none, Client(ex_none)
    order, bid, level = rest_spot_buy(ex, client)
    sell_trade(ex, bid, str(level * 10))
    assert status(client, order) == ("NEW", 0)
    step(ex, SPOT_SYM, bids={bid: 0}, asks={bid: D("0.02")})     # the book trades through it
    assert status(client, order) == ("FILLED", D("0.01"))


def test_trading_through_the_price_fills_whatever_is_ahead(ex_queue):
    ex, client = ex_queue, Client(ex_queue)
    order, bid, _ = rest_spot_buy(ex, client)
    step(ex, SPOT_SYM, bids={bid: 0}, asks={bid: D("0.004")})
    assert status(client, order) == ("PARTIALLY_FILLED", D("0.004"))


def test_keep_priority_amend_keeps_the_place_and_cancel_replace_loses_it(ex_queue):
    ex, client = ex_queue, Client(ex_queue)
    order, bid, level = rest_spot_buy(ex, client)
    sell_trade(ex, bid, str(level - D("0.001")))
    client.ok("PUT", "/api/v3/order/amend/keepPriority", symbol=SPOT_SYM, orderId=order["orderId"],
              newQty="0.005")
    queues = ex.trading.spot.queues
    assert queues.position(order["orderId"]) == D("0.001")      # still almost at the front
    replaced = client.ok("POST", "/api/v3/order/cancelReplace", symbol=SPOT_SYM, side="BUY",
                         type="LIMIT_MAKER", quantity="0.005", price=f"{bid}",
                         cancelReplaceMode="STOP_ON_FAILURE", cancelOrderId=order["orderId"])
    new_id = replaced["newOrderResponse"]["orderId"]
    assert queues.position(order["orderId"]) is None
    assert queues.position(new_id) == level                     # the back of the same level
    sell_trade(ex, bid, "0.002")
    assert client.ok("GET", "/api/v3/order", symbol=SPOT_SYM, orderId=new_id)["status"] == "NEW"


def test_coinm_modify_goes_to_the_back_of_the_queue(ex_queue):
    ex, client = ex_queue, Client(ex_queue)
    bid = top(ex, PERP)[0]
    level = dict(levels(ex, PERP, "bids"))[bid]
    order = client.cm_order(side="BUY", type="LIMIT", timeInForce="GTX", quantity="3", price=f"{bid}")
    queues = ex.trading.coinm.queues
    assert queues.position(order["orderId"]) == level
    sell_trade(ex, bid, str(level - 1), symbol=PERP)
    assert queues.position(order["orderId"]) == 1
    client.ok("PUT", "/dapi/v1/order", symbol=PERP, side="BUY", orderId=order["orderId"], quantity="2")
    assert queues.position(order["orderId"]) == level           # reordered: behind the level again
    sell_trade(ex, bid, str(level + 1), symbol=PERP)
    got = client.ok("GET", "/dapi/v1/order", symbol=PERP, orderId=order["orderId"])
    assert (got["status"], got["executedQty"]) == ("PARTIALLY_FILLED", "1")


def test_a_clients_taker_order_trades_with_the_queue(ex_queue):
    """A MARKET sell takes the whole bid level (the queue ahead of our bid) and 0.003 below it:
    those 0.003 sold below our price went through it."""
    ex, client = ex_queue, Client(ex_queue)
    order, bid, level = rest_spot_buy(ex, client)
    below = levels(ex, SPOT_SYM, "bids")[1]
    assert below[1] >= D("0.003")
    client.spot_order(side="SELL", type="MARKET", quantity=f"{level + D('0.003')}")
    assert status(client, order) == ("PARTIALLY_FILLED", D("0.003"))


def test_a_recorded_trade_stream_moves_the_queue_in_a_replay(tmp_path):
    """A capture in the recorder's format, played record by record through the replay source:
    its `@trade` lines at our price (sellers taking the bids) fill our bid once the 0.3 resting
    ahead of it when it joined have traded."""
    lines = [
        {"lastUpdateId": 100, "bids": [["50000.00000000", "0.30000000"]],
         "asks": [["50000.01000000", "0.50000000"]]},
        {"stream": "btcusdt@depth@100ms", "data": {"e": "depthUpdate", "E": 1_000, "s": SPOT_SYM,
         "U": 101, "u": 101, "b": [], "a": [["50000.02000000", "1.00000000"]]}},
    ] + [{"stream": "btcusdt@trade", "data": {"e": "trade", "E": 2_000 + i, "s": SPOT_SYM, "t": i,
          "p": "50000.00000000", "q": q, "T": 2_000 + i, "m": True, "M": True}}
         for i, q in enumerate(("0.20000000", "0.09990000", "0.00410000"))]
    capture = tmp_path / "spot.jsonl"
    capture.write_text("".join(f"{1_000_000_000 + i} {json.dumps(m)}\n" for i, m in enumerate(lines)))
    ex = LocalExchange(source="replay", replay_files=[capture], symbols=[SPOT_SYM],
                       queue_model="risk_averse")
    ex.source.prepare(ex.market)
    spec = ex.market.books[SPOT_SYM].spec
    order = ex.trading.spot.place(NewOrder(SPOT, spec, "BUY", "LIMIT_MAKER", "GTC", D("0.01"),
                                           D("50000.00"), "rq-1", "ACK"))
    assert ex.trading.spot.queues.position(order.order_id) == D("0.3")
    executed = []
    for rec in ex.source._records:
        ex.source._play(ex.market, rec)
        executed.append(order.executed)
    # 0.2 then 0.0999 leave it untouched (0.0001 still ahead); 0.0041 fills 0.004
    assert executed[-3:] == [0, 0, D("0.004")]
    assert [(t.price, t.qty, t.maker) for t in order.trades] == [(D("50000.00"), D("0.004"), True)]


# -- integration: the bot's own REST client -------------------------------------------------------
def test_a_maker_order_behind_n_units_fills_only_after_n_traded_at_its_price(ex_queue):
    """The bot's SpotClient places a LIMIT_MAKER at the best bid behind N units over loopback;
    N − 0.0001 traded there leave it untouched, the next 0.0051 fill 0.005 of it."""
    ex = ex_queue
    spot = SpotClient(BinanceHttp(ex.rest_url, ex.api_key, ex.api_secret))
    bid = top(ex, SPOT_SYM)[0]
    n = dict(levels(ex, SPOT_SYM, "bids"))[bid]
    placed = spot.new_order(OrderRequest(SPOT, SPOT_SYM, "BUY", "LIMIT_MAKER", D("0.01"), "q-1", price=bid))
    assert placed.status == "NEW"
    for part in (n / 2, n / 2 - D("0.0001")):
        sell_trade(ex, bid, f"{part:.8f}")
        assert spot.get_order(SPOT_SYM, "q-1").executed_qty == 0
    sell_trade(ex, bid, "0.0051")
    after = spot.get_order(SPOT_SYM, "q-1")
    assert (after.status, after.executed_qty, after.cum_quote) == ("PARTIALLY_FILLED", D("0.005"),
                                                                   D("0.005") * bid)
    assert [(f.price, f.qty) for f in spot.my_trades(SPOT_SYM, placed.order_id)] == [(bid, D("0.005"))]


# -- the setting: the bot's in-process exchange, the backtest, a bad value -------------------------
def test_sim_queue_model_reaches_the_in_process_exchange_and_a_bad_one_stops_start():
    import subprocess
    import sys
    import threading

    from app.main import _open_venue
    from arbitrage.config import load_settings

    settings = load_settings(["--venue", "sim"], {"SIM_QUEUE_MODEL": "risk_averse"}, None)
    _, _, sim = _open_venue(settings, threading.Event(), None)
    try:
        assert sim.trading.spot.queues.model == sim.trading.coinm.queues.model == "risk_averse"
    finally:
        sim.stop()
    assert load_settings([], {}, None).sim_queue_model == "none"
    bad = subprocess.run([sys.executable, "-m", "app.main", "--sim-queue-model", "fifo"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == ["error: SIM_QUEUE_MODEL: 'fifo' is not allowed (expected one "
                                       "of none, risk_averse) [from --sim-queue-model]"]


def test_the_backtest_queue_model_flag_reaches_its_exchange(tmp_path, monkeypatch):
    from app import backtest
    from arbitrage.backtest import run as bt_run

    built = []

    class Spy(bt_run.LocalExchange):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self.trading.spot.queues.model)

    monkeypatch.setattr(bt_run, "LocalExchange", Spy)
    flags = ["--synthetic", "--seed", "15", "--minutes", "0.1", "--quiet", "--out", str(tmp_path)]
    assert backtest.main([*flags, "--queue-model", "risk_averse"]) == 0
    assert backtest.main(flags) == 0
    assert built == ["risk_averse", "none"]
