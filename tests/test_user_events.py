"""User-data event payloads, shaped exactly as binance-ws-api.md §6 shows them, parsed into the
domain events the engine queues."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from arbitrage.exchanges.user_events import parse_coinm_event, parse_spot_event
from arbitrage.models import COINM, SPOT, BalanceEvent, ExecutionEvent, PositionEvent

D = Decimal
NEW = json.loads('{"e":"executionReport","E":1747385641651,"s":"BTCUSDT","c":"mm-000001","S":"BUY","o":"LIMIT_MAKER","f":"GTC","q":"0.00100000","p":"60000.00000000","P":"0.00000000","F":"0.00000000","g":-1,"C":"","x":"NEW","X":"NEW","r":"NONE","i":12569099453,"l":"0.00000000","z":"0.00000000","L":"0.00000000","n":"0","N":null,"T":1747385641650,"t":-1,"I":25470010,"w":true,"m":false,"M":false,"O":1747385641650,"Z":"0.00000000","Y":"0.00000000","Q":"0.00000000","W":1747385641650,"V":"EXPIRE_MAKER"}')
TRADE = dict(NEW, E=1747385700123, x="TRADE", X="PARTIALLY_FILLED", l="0.00040000", z="0.00040000",
             L="60000.00000000", n="0.00000040", N="BTC", T=1747385700122, t=4129381, m=True,
             Z="24.00000000", Y="24.00000000")
CANCELED = dict(NEW, E=1747385710001, c="91fe37ce9e69c90d6358c0", C="mm-000001", x="CANCELED",
                X="CANCELED", z="0.00040000", T=1747385710000, w=False)
OTU = json.loads('{"e":"ORDER_TRADE_UPDATE","E":1728413800001,"T":1728413800000,"i":"SfsR","o":{"s":"BTCUSD_PERP","c":"hedge-1","S":"SELL","o":"LIMIT","f":"GTX","q":"1","p":"95000.1","ap":"95000.1","sp":"0","x":"TRADE","X":"FILLED","i":333245211,"l":"1","z":"1","L":"95000.1","ma":"BTC","N":"BTC","n":"0.00000021","T":1728413800000,"t":98765,"rp":"0.00001119","b":"0","a":"0","m":true,"R":true,"wt":"CONTRACT_PRICE","ot":"LIMIT","ps":"BOTH","cp":false,"pP":false,"V":"NONE","pm":"NONE"}}')
AU = json.loads('{"e":"ACCOUNT_UPDATE","E":1728413800002,"T":1728413800000,"i":"SfsR","a":{"m":"ORDER","B":[{"a":"BTC","wb":"0.00251098","cw":"0.00251098","bc":"0"}],"P":[{"s":"BTCUSD_PERP","pa":"0","ep":"0.0","bep":"0.0","cr":"0.00001119","up":"0","mt":"cross","iw":"0","ps":"BOTH"}]}}')


def test_execution_reports_new_trade_canceled():
    new, = parse_spot_event(NEW, 7)
    assert new == ExecutionEvent(SPOT, "BTCUSDT", "mm-000001", 12569099453, "BUY", "NEW", "NEW",
                                 D(0), D(0), D(0), D(0), None, None, False, D(0),
                                 1747385641650, 7)
    fill, = parse_spot_event(TRADE, 8)
    assert (fill.status, fill.last_qty, fill.last_price, fill.cum_qty) == (
        "PARTIALLY_FILLED", D("0.0004"), D("60000"), D("0.0004"))
    assert (fill.commission, fill.commission_asset, fill.trade_id, fill.maker) == (
        D("0.0000004"), "BTC", 4129381, True)
    cancel, = parse_spot_event(CANCELED, 9)
    assert (cancel.client_order_id, cancel.status, cancel.trade_id) == ("mm-000001", "CANCELED", None)


def test_spot_balance_events():
    position, = parse_spot_event({"e": "outboundAccountPosition", "E": 1564034571105, "u": 1564034571073,
                                  "B": [{"a": "BTC", "f": "1.34511120", "l": "0.00060000"},
                                        {"a": "USDT", "f": "997.21000000", "l": "36.00000000"}]}, 1)
    assert position == BalanceEvent(SPOT, "POSITION", {"BTC": (D("1.3451112"), D("0.0006")),
                                                       "USDT": (D("997.21"), D("36"))}, 1564034571105, 1)
    delta, = parse_spot_event({"e": "balanceUpdate", "E": 1573200697110, "a": "BTC",
                               "d": "100.00000000", "T": 1573200697068}, 2)
    assert delta.reason == "DELTA" and delta.balances == {"BTC": (D(100), D(0))}
    assert parse_spot_event({"e": "eventStreamTerminated", "E": 1728973001334}, 3) == []


def test_coinm_order_trade_update_and_account_update():
    fill, = parse_coinm_event(OTU, 5)
    assert fill == ExecutionEvent(COINM, "BTCUSD_PERP", "hedge-1", 333245211, "SELL", "TRADE", "FILLED",
                                  D(1), D("95000.1"), D(1), D("0.00000021"), "BTC", 98765, True,
                                  D("0.00001119"), 1728413800000, 5)
    no_fee = json.loads(json.dumps(OTU))
    no_fee["o"].update(x="NEW", X="NEW", l="0", z="0", L="0", t=0, rp="0")
    del no_fee["o"]["n"], no_fee["o"]["N"]                # left out when there is none
    new, = parse_coinm_event(no_fee, 6)
    assert (new.commission, new.commission_asset, new.trade_id) == (D(0), None, None)
    balance, position = parse_coinm_event(AU, 7)
    assert balance == BalanceEvent(COINM, "ORDER", {"BTC": (D("0.00251098"), D("0.00251098"))},
                                   1728413800000, 7)
    assert position == PositionEvent("BTCUSD_PERP", "ORDER", D(0), D(0), 1728413800000, 7)


def test_a_malformed_event_raises_for_the_stream_to_log():
    with pytest.raises(KeyError):
        parse_spot_event({k: v for k, v in NEW.items() if k != "z"}, 1)
    with pytest.raises(TypeError):
        parse_coinm_event(dict(OTU, o=dict(OTU["o"], m="true")), 1)
