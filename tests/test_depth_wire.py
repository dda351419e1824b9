"""The hot path's msgspec decoder (arbitrage/exchanges/depth_wire.py) gives exactly the DepthDiff
the general parser would: the same ids, and floats equal to `float()` of every wire string, on
Binance's reference payloads and on every depth message of the real captures."""
from __future__ import annotations

import orjson
import pytest

from arbitrage.marketdata.capture import iter_capture
from arbitrage.exchanges.depth_wire import decode_depth
from arbitrage.models import DepthDiff
from tests.conftest import CM_CAPTURE, SPOT_CAPTURE, needs_captures
from tests.test_streams import CM_DEPTH, CM_PARTIAL, CM_TICKER, MARK_PERP, SPOT_DEPTH, wrap

NS = 1_723_161_254_000_000_000


def reference(raw: str, recv_ns: int) -> DepthDiff:
    """What the bot read before msgspec: orjson, then float() of each price and quantity."""
    d = orjson.loads(raw)["data"]
    return DepthDiff(d["s"], d["U"], d["u"], d.get("pu"),
                     [(float(p), float(q)) for p, q in d["b"]],
                     [(float(p), float(q)) for p, q in d["a"]], d["E"], recv_ns)


@pytest.mark.parametrize("payload", [SPOT_DEPTH, CM_DEPTH, CM_PARTIAL, CM_DEPTH[:-1] + ', "st": 2}'])
def test_reference_payloads_decode_as_the_general_parser_reads_them(payload):
    raw = wrap("btcusd_perp@depth@100ms", payload)
    assert decode_depth(raw, NS) == reference(raw, NS)
    assert decode_depth(raw.encode(), NS) == reference(raw, NS)      # bytes as sent


@pytest.mark.parametrize("raw", [
    SPOT_DEPTH,                                                        # bare: the general path's
    wrap("x", CM_TICKER), wrap("x", MARK_PERP), '{"result":null,"id":1}',
    wrap("x", SPOT_DEPTH.replace('"U": 157', '"U": "157"')),          # a string id stays wrong
    wrap("x", SPOT_DEPTH.replace('"E": 1672515782136', '"E": true')),
    wrap("x", SPOT_DEPTH.replace('"s": "BNBBTC"', '"s": 7')),
    wrap("x", SPOT_DEPTH.replace('[["0.0024","10"]]', '[["abc","10"]]')),
    wrap("x", SPOT_DEPTH.replace('[["0.0024","10"]]', '[["0.0024"]]')),
    wrap("x", SPOT_DEPTH.replace('"u": 160, ', "")),
    wrap("x", SPOT_DEPTH)[:60], b"\xff\xfe",
])
def test_what_the_fast_path_does_not_take_is_left_to_the_general_parser(raw):
    assert decode_depth(raw, NS) is None


@needs_captures
def test_every_depth_message_of_the_captures_decodes_to_the_same_floats():
    compared = 0
    for path in (SPOT_CAPTURE, CM_CAPTURE):
        for ns, raw in iter_capture(path):
            if '"depthUpdate"' not in raw[:90]:
                continue
            assert decode_depth(raw, ns) == reference(raw, ns), raw[:120]
            compared += 1
    assert compared > 30_000
