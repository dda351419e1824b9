"""The backtest's feed hands the bot a replayed message exactly as it was recorded (one parse by
the bot, as live), and what the exchange makes itself (the derived mark) as its WebSocket server
would serialise it."""
from __future__ import annotations

from arbitrage.backtest.market import Feed, replay_steps
from arbitrage.exchanges.streams import parse_message
from arbitrage.models import DepthDiff, MarkPrice
from arbitrage.sim.market import DEPTH, MARK, Market
from arbitrage.sim.replay import ReplaySource
from tests.capture_maker import make_captures


def _played(tmp_path):
    spot, cm = make_captures(tmp_path, seconds=5.0)
    # a recorder that wrote its JSON with spaces: whatever the bytes, the bot gets them as they are
    spaced = [line.replace('"e":"depthUpdate",', '"e": "depthUpdate", ') for line in cm.lines]
    cm.path.write_text("".join(spaced))
    source = ReplaySource([spot.path, cm.path], symbols=["BTCUSDT", "BTCUSD_PERP"],
                          skip_streams=("@trade", "@aggTrade", "@bookTicker"))
    market = Market()
    source.prepare(market)
    feed = Feed({"BTCUSDT": "spot", "BTCUSD_PERP": "coinm"}, {DEPTH, MARK}, 5_000_000, lambda: 0)
    market.add_listener(feed.on_event)
    for _, play in replay_steps(source, market):
        play()
    recorded = {line.partition(" ")[2].strip() for line in spot.lines + spaced}
    return feed, recorded


def test_a_replayed_diff_reaches_the_bot_as_recorded(tmp_path):
    feed, recorded = _played(tmp_path)
    diffs = [(conn, raw) for _, conn, raw in feed.pending if "depthUpdate" in raw]
    assert len(diffs) > 50
    for conn, raw in diffs:
        assert raw in recorded, raw[:100]                # the recorded text, not a re-serialisation
        assert conn == ("coinm" if "BTCUSD_PERP" in raw else "spot")
        assert type(parse_message(raw, 0)) is DepthDiff
    assert any('"e": "depthUpdate"' in raw and "@depth@0ms" in raw for _, raw in diffs)


def test_the_derived_mark_is_serialised_as_the_exchange_sends_it(tmp_path):
    feed, recorded = _played(tmp_path)
    marks = [raw for _, conn, raw in feed.pending if "markPriceUpdate" in raw]
    assert marks and all(raw.startswith('{"stream":"btcusd_perp@markPrice@1s","data":{')
                         for raw in marks)
    assert all(type(parse_message(raw, 0)) is MarkPrice and raw not in recorded for raw in marks)
