"""parse_message on every stream shape of binance-reference §1.2, §5 and §6.2 (payloads copied
from the reference), and the one error type for anything it cannot read."""
from __future__ import annotations

import json
import logging

import pytest

from arbitrage.exchanges.streams import StreamParseError, parse_message, parse_snapshot
from arbitrage.models import BookTicker, DepthDiff, MarkPrice

NS = 1_723_161_254_000_000_000

SPOT_DEPTH = ('{"e": "depthUpdate", "E": 1672515782136, "s": "BNBBTC", "U": 157, "u": 160,'
              ' "b": [["0.0024","10"]], "a": [["0.0026","100"]]}')
CM_DEPTH = ('{"e": "depthUpdate", "E": 1591270260907, "T": 1591270260891, "s": "BTCUSD_200626",'
            ' "ps": "BTCUSD", "U": 17285681, "u": 17285702, "pu": 17285675,'
            ' "b": [["9517.6","10"]], "a": [["9518.5","45"]]}')
CM_PARTIAL = ('{"e":"depthUpdate","E":1591269996801,"T":1591269996646,"s":"BTCUSD_200626","ps":"BTCUSD",'
              '"U":17276694,"u":17276701,"pu":17276678,'
              '"b":[["9523.0","5"],["9522.8","8"],["9522.6","2"],["9522.4","1"],["9522.0","5"]],'
              '"a":[["9524.6","2"],["9524.7","3"],["9524.9","16"],["9525.1","10"],["9525.3","6"]]}')
SPOT_TICKER = ('{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000",'
               '"a":"25.36520000","A":"40.66000000"}')
CM_TICKER = ('{"e":"bookTicker","u":17242169,"s":"BTCUSD_200626","ps":"BTCUSD","b":"9548.1","B":"52",'
             '"a":"9548.5","A":"11","T":1591268628155,"E":1591268628166}')
MARK_DELIVERY = ('{"e": "markPriceUpdate", "E": 1596095725000, "s": "BTCUSD_201225",'
                 ' "p": "10934.62615417", "P": "10962.17178236", "i": "10933.62615417", "r": "", "T": 0}')
MARK_PERP = ('{"e":"markPriceUpdate","E":1596095725000,"s":"BTCUSD_PERP","p":"11029.69574559",'
             '"P":"10981.74168236","i":"10979.14437500","r":"0.00071003","T":1596096000000}')


def wrap(stream: str, payload: str) -> str:
    return f'{{"stream":"{stream}","data":{payload}}}'


def test_spot_depth_bare_and_combined_are_the_same_diff():
    bare = parse_message(SPOT_DEPTH, NS)
    combined = parse_message(wrap("bnbbtc@depth@100ms", SPOT_DEPTH), NS)
    assert bare == combined == DepthDiff(
        symbol="BNBBTC", first_id=157, final_id=160, prev_final_id=None,
        bids=[(0.0024, 10.0)], asks=[(0.0026, 100.0)], event_ms=1672515782136, recv_ns=NS)


def test_coinm_depth_has_pu_and_tolerates_unknown_fields():
    with_st = CM_DEPTH[:-1] + ', "st": 2}'
    diff = parse_message(wrap("btcusd_200626@depth@100ms", with_st), NS)
    assert isinstance(diff, DepthDiff)
    assert (diff.symbol, diff.first_id, diff.final_id, diff.prev_final_id) == (
        "BTCUSD_200626", 17285681, 17285702, 17285675)
    assert diff.bids == [(9517.6, 10.0)] and diff.asks == [(9518.5, 45.0)]
    assert diff.event_ms == 1591270260907


def test_coinm_partial_depth_parses_as_a_diff_with_all_levels():
    diff = parse_message(CM_PARTIAL, NS)
    assert isinstance(diff, DepthDiff)
    assert diff.bids[0] == (9523.0, 5.0) and diff.asks[-1] == (9525.3, 6.0)
    assert len(diff.bids) == len(diff.asks) == 5


def test_spot_book_ticker_has_no_event_time():
    t = parse_message(wrap("bnbusdt@bookTicker", SPOT_TICKER), NS)
    assert t == BookTicker(symbol="BNBUSDT", update_id=400900217, bid=25.3519, bid_qty=31.21,
                           ask=25.3652, ask_qty=40.66, event_ms=None, recv_ns=NS)


def test_coinm_book_ticker():
    t = parse_message(CM_TICKER, NS)
    assert t == BookTicker(symbol="BTCUSD_200626", update_id=17242169, bid=9548.1, bid_qty=52.0,
                           ask=9548.5, ask_qty=11.0, event_ms=1591268628166, recv_ns=NS)


def test_mark_price_delivery_has_no_funding():
    m = parse_message(wrap("btcusd_201225@markPrice@1s", MARK_DELIVERY), NS)
    assert m == MarkPrice(symbol="BTCUSD_201225", mark=10934.62615417, index=10933.62615417,
                          funding_rate=None, next_funding_ms=0, event_ms=1596095725000, recv_ns=NS)


def test_mark_price_perp_carries_rate_and_next_funding():
    m = parse_message(MARK_PERP, NS)
    assert isinstance(m, MarkPrice)
    assert m.funding_rate == 0.00071003 and m.next_funding_ms == 1596096000000
    assert m.mark == 11029.69574559 and m.index == 10979.144375


@pytest.mark.parametrize("raw", [
    '{"result":null,"id":1}',
    '{"result":["btcusdt@aggTrade"],"id":3}',
    '{"result":true,"id":2}',
    '{"lastUpdateId":160,"bids":[["0.0024","10"]],"asks":[["0.0026","100"]]}',  # spot partial depth
    '{"e":"indexPriceUpdate","E":1591261236000,"i":"BTCUSD","p":"9636.57860000"}',
    '{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1770123456789}}',
    wrap("btcusdt@trade", '{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,'
                          '"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}'),
])
def test_messages_the_bot_does_not_use_are_none(raw):
    assert parse_message(raw, NS) is None


def test_error_reply_is_none_and_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="arbitrage.streams"):
        assert parse_message('{"code":2,"msg":"Invalid request: unknown method","id":7}', NS) is None
    assert "Invalid request" in caplog.text


def test_bytes_input():
    assert parse_message(CM_TICKER.encode(), NS).update_id == 17242169


@pytest.mark.parametrize("raw", [
    SPOT_DEPTH[:50],                                              # truncated
    "<html><head><title>502 Bad Gateway</title></head></html>",   # an HTML body
    "",
    b"\xff\xfe not utf-8",
    SPOT_DEPTH.replace('"u": 160, ', ""),                         # missing field
    SPOT_DEPTH.replace('"U": 157', '"U": "157"'),                 # id as a string
    SPOT_DEPTH.replace('"E": 1672515782136', '"E": true'),        # bool is not a time
    SPOT_DEPTH.replace('[["0.0024","10"]]', '[["0.0024"]]'),      # level without qty
    SPOT_DEPTH.replace('[["0.0024","10"]]', '[["abc","10"]]'),    # price not a number
    SPOT_DEPTH.replace('[["0.0024","10"]]', '"0.0024"'),          # levels not a list
    CM_TICKER.replace('"b":"9548.1"', '"b":9548.1'),              # ticker price not a string
    MARK_PERP.replace('"p":"11029.69574559",', ""),               # mark without price
    wrap("x", "[1, 2]"),                                          # data not an object
    "[1, 2, 3]",
    "null",
])
def test_malformed_messages_raise_one_error_type(raw):
    with pytest.raises(StreamParseError):
        parse_message(raw, NS)


def test_error_message_quotes_the_first_bytes_only():
    raw = "<html>" + "x" * 500 + "</html>"
    with pytest.raises(StreamParseError) as info:
        parse_message(raw, NS)
    text = str(info.value)
    assert "<html>xxxx" in text
    assert "x" * 200 not in text
    assert isinstance(info.value, ValueError)


def test_parse_snapshot_spot_and_coinm():
    spot = parse_snapshot(json.loads(
        '{"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]}'),
        "BNBBTC", NS)
    assert (spot.symbol, spot.last_update_id, spot.bids, spot.asks, spot.event_ms) == (
        "BNBBTC", 1027024, [(4.0, 431.0)], [(4.000002, 12.0)], None)
    cm = parse_snapshot({"lastUpdateId": 16769853, "symbol": "BTCUSD_PERP", "pair": "BTCUSD",
                         "E": 1591250106370, "T": 1591250106368,
                         "bids": [["9638.0", "431"]], "asks": [["9638.2", "12"]]}, "BTCUSD_PERP", NS)
    assert (cm.last_update_id, cm.bids, cm.asks, cm.event_ms) == (
        16769853, [(9638.0, 431.0)], [(9638.2, 12.0)], 1591250106370)
    with pytest.raises(StreamParseError):
        parse_snapshot({"code": -1121, "msg": "Invalid symbol."}, "XYZ", NS)
