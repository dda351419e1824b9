"""The operations hook: the control file (a desired state), the status file, the charts."""
from __future__ import annotations

import json
import logging
from collections import Counter, deque
from types import SimpleNamespace

from arbitrage.ops import svg
from arbitrage.ops.control import FLATTEN, PAUSE, RUN, read_control, send_command
from arbitrage.ops.sink import StatusSink
from arbitrage.ops.status import latency_ms


class FakeTrader:
    def __init__(self, state="FLAT"):
        self.state, self.paused, self.halt_reason = state, None, None
        self.trade = SimpleNamespace(trade_id="T1", direction="buy_spot", spot_btc="0.1",
                                     contracts=-60, entry_spread_bps=7.0, opened_ms=0) \
            if state == "HEDGED" else None
        self.pending, self.closed, self.entries, self.rescued_entries = [], [], 3, 0
        self.rejections = Counter({"buy_spot: cool-down": 2})
        self.exits = []

    def start_exit(self, reason, spread, now_ms):
        self.exits.append(reason)
        self.state = "EXITING"


def fake_bot(state="FLAT"):
    book = SimpleNamespace(best_bid=lambda: (100.0, 1.0), best_ask=lambda: (100.5, 1.0))
    sync = SimpleNamespace(book=book, ready=True)
    return SimpleNamespace(
        s=SimpleNamespace(spot_symbol="BTCUSDT", coinm_symbol="BTCUSD_PERP", venue="sim",
                          dry_run=False, spot_key="K" * 20, spot_secret="S" * 20),
        trader=FakeTrader(state), spot_rules=SimpleNamespace(base_asset="BTC"),
        market=SimpleNamespace(spot=sync, perp=sync, mark=None, resyncs=0),
        evaluation=SimpleNamespace(spread_bps=3.5, blocks=[]),
        stats=SimpleNamespace(entry_latency=deque([("T1", 0, 2_000_000, 3_000_000)])),
        start_decision={"action": "fresh", "message": "no state file"})


def test_commands_are_a_desired_state_with_a_sequence(tmp_path):
    path = tmp_path / "c.json"
    assert read_control(path).mode == RUN
    assert send_command(path, "pause").seq == 1
    assert send_command(path, "flatten").mode == FLATTEN
    c = send_command(path, "resume")
    assert (c.mode, c.seq) == (RUN, 3) and read_control(path) == c
    path.write_text("{half")
    assert read_control(path).mode == RUN


def test_sink_writes_status_and_applies_pause_and_flatten(tmp_path):
    bot = fake_bot("HEDGED")
    sink = StatusSink("btc", tmp_path / "btc.json", tmp_path / "btc.control.json")
    sink.attach(bot)
    status = json.loads((tmp_path / "btc.json").read_text())
    assert status["id"] == "btc" and status["state"] == "HEDGED" and status["spread_bps"] == 3.5
    assert status["rejections"] == {"buy_spot: cool-down": 2} and status["carry_apr"] is None
    assert status["latency"]["median_ms"] == 3.0 and status["start"]["action"] == "fresh"
    assert "K" * 20 not in json.dumps(status) and "S" * 20 not in json.dumps(status)
    send_command(sink.control_path, "pause")
    sink(2_000_000_000)
    assert bot.trader.paused == "paused by the operator" and bot.trader.exits == []
    send_command(sink.control_path, "flatten")
    sink(3_000_000_000)
    assert bot.trader.exits == ["flatten"] and bot.trader.paused == "flattened by the operator"
    send_command(sink.control_path, "resume")
    sink(4_000_000_000)
    assert bot.trader.paused is None
    logging.getLogger("arbitrage.bot").warning("[NET] spot unreachable")
    sink(5_000_000_000)
    assert json.loads(sink.status_path.read_text())["last_problem"]["message"] == "[NET] spot unreachable"
    logging.getLogger().removeHandler(sink.problems)


def test_a_restarted_instance_comes_back_paused(tmp_path):
    send_command(tmp_path / "c.json", "pause")
    bot = fake_bot()
    sink = StatusSink("eth", tmp_path / "s.json", tmp_path / "c.json")
    sink.attach(bot)
    logging.getLogger().removeHandler(sink.problems)
    assert bot.trader.paused == "paused by the operator"
    assert json.loads((tmp_path / "s.json").read_text())["mode"] == PAUSE


def test_latency_figures():
    assert latency_ms([]) == {"entries": 0, "median_ms": None, "p99_ms": None, "max_ms": None}
    got = latency_ms([("a", 0, 1_000_000, 2_000_000), ("b", 0, 4_000_000, 1_000_000)])
    assert got == {"entries": 2, "median_ms": 3.0, "p99_ms": 4.0, "max_ms": 4.0}


def test_charts_are_self_contained_svg():
    doc = svg.line_chart([(0, 1.0), (1000, -2.0), (2000, 3.0)], "btc: spread", "bps")
    assert doc.startswith("<svg") and "<polyline" in doc and "http" not in doc.replace(
        "http://www.w3.org/2000/svg", "")
    assert "no data yet" in svg.line_chart([], "eth", "")
