"""The backtest's inputs: funding from a fundingRate history file, marks and funding from a
capture's own mark stream, a recorded latency profile (app.backtest, arbitrage/backtest)."""
from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import orjson

from app import backtest
from arbitrage.backtest.latency_profile import load_profile
from arbitrage.backtest.market import Feed
from arbitrage.backtest.run import SYNTHETIC_START_NS, Backtest, clear_outputs
from arbitrage.backtest.venue import Latency
from arbitrage.marketdata.capture import iter_capture
from arbitrage.config import load_settings
from arbitrage.sim import LocalExchange
from arbitrage.sim.market import MARK
from arbitrage.accounting.tradelog import read_rows
from tests.conftest import wait_for
from tests.harness import PERP, SPOT, BotRun

START_MS = SYNTHETIC_START_NS // 1_000_000
CARRY = ["--synthetic", "--seed", "15", "--minutes", "1", "--strategy", "carry",
         "--carry-hold-hours", "0.05", "--carry-max-hold-hours", "0.05"]


def _history(rate: str = "0.00200000") -> list[dict]:
    """Binance's GET /dapi/v1/fundingRate answer: a settlement every 15 s around the synthetic
    start (10 before it: the carry's lookback), at a hot rate; and another symbol's row."""
    rows = [{"symbol": PERP, "fundingTime": START_MS + k * 15_000, "fundingRate": rate,
             "markPrice": "60000.00000000"} for k in range(-10, 9)]
    rows.append({"symbol": "ETHUSD_PERP", "fundingTime": START_MS, "fundingRate": "0.00010000",
                 "markPrice": ""})
    return rows


def _run(out: Path, *flags: str) -> tuple[int, list]:
    code = backtest.main([*flags, "--out", str(out), "--quiet"])
    return code, read_rows(out / "trades_log.csv") if (out / "trades_log.csv").exists() else []


def test_funding_history_file_settles_at_its_times_and_rates(tmp_path, capsys):
    history = tmp_path / "fundingRate.json"
    history.write_text(json.dumps(_history()))
    code, rows = _run(tmp_path / "a", *CARRY, "--funding-history", str(history))
    line = capsys.readouterr().out
    assert code == 0
    assert "funding history file fundingRate.json" in line, line
    funding = [r for r in rows if r.event == "funding"]
    # the schedule of the default settings would settle every 8 h: not once in this minute
    times = [r.ts_ms for r in funding]
    assert times == [START_MS + k * 15_000 for k in range(1, 5)], times
    contracts = next(r.N_cntr for r in rows if r.event == "open")
    for r in funding:     # a short position receives rate × contracts × 100 USD / mark, in BTC
        assert r.income_btc > 0
        expected = Decimal("0.002") * contracts * 100 / Decimal(60000)
        assert abs(r.income_btc - expected) / expected < Decimal("0.01")


def test_funding_history_as_csv_gives_the_same_ledger(tmp_path):
    as_json, as_csv = tmp_path / "f.json", tmp_path / "f.csv"
    as_json.write_text(json.dumps(_history()))
    as_csv.write_text("symbol,fundingTime,fundingRate,markPrice\n" + "".join(
        f"{r['symbol']},{r['fundingTime']},{r['fundingRate']},{r['markPrice']}\n"
        for r in _history()))
    _run(tmp_path / "a", *CARRY, "--funding-history", str(as_json))
    _run(tmp_path / "b", *CARRY, "--funding-history", str(as_csv))
    a, b = (tmp_path / x / "trades_log.csv" for x in "ab")
    assert a.read_bytes() == b.read_bytes() and b"funding" in a.read_bytes()


def test_the_funding_file_replaces_the_history_the_exchange_serves(tmp_path):
    history = tmp_path / "f.json"
    history.write_text(json.dumps(_history("-0.00050000")))
    out = tmp_path / "bt"
    out.mkdir()
    settings = load_settings(["--venue", "sim", "--sim-url", "http://backtest.invalid",
                              "--sim-source", "synthetic", "--sim-seed", "15",
                              "--trades-log", str(out / "t.csv"), "--state-path",
                              str(out / "s.json")], {}, dotenv_path=None)
    clear_outputs(settings)
    outcome = Backtest(settings, Latency(), minutes=0.5, out_dir=out,
                       funding_history=history).run()
    served = outcome.exchange.market.funding.funding_history(PERP, limit=1000)
    assert [(r.funding_time, r.rate) for r in served] == [
        (START_MS + k * 15_000, "-0.00050000") for k in range(-10, 3)]
    assert outcome.funding.endswith("19 settlements of BTCUSD_PERP, 2 inside the market played")
    mark = outcome.exchange.market.marks[PERP]       # announcing the file's next settlement
    assert (mark.next_funding_ms, mark.funding_rate) == (START_MS + 45_000, -0.0005)


def test_a_bad_funding_file_or_latency_profile_stops_before_anything_runs(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"symbol": PERP, "fundingTime": "soon", "fundingRate": "x"},
                               {"symbol": PERP}]))
    other = tmp_path / "eth.json"
    other.write_text(json.dumps([{"symbol": "ETHUSD_PERP", "fundingTime": 1,
                                  "fundingRate": "0.0001"}]))
    profile = tmp_path / "lat.txt"
    profile.write_text("3.5\n-1\n")
    for flags, words in ((["--funding-history", str(bad)], ["row 1: fundingTime 'soon'",
                                                           "row 2 is not"]),
                         (["--funding-history", str(other)], ["no rows for BTCUSD_PERP"]),
                         (["--funding-history", str(tmp_path / "none.json")], ["cannot read"]),
                         (["--latency-profile", str(profile)], ["order_ack_ms value 2 is '-1'"])):
        code, _ = _run(tmp_path / "x", "--synthetic", "--minutes", "0.1", *flags)
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2, err
        assert len(err) == len(words) and all(l.startswith(f"error: {flags[0]}: ") for l in err)
        assert all(w in l for w, l in zip(words, err)), err
        assert not (tmp_path / "x" / "trades_log.csv").exists()


def test_a_recording_plays_its_own_marks_and_funding(tmp_path):
    """A `--record` file carries the mark stream the bot subscribes to; its backtest plays those
    marks (not ones derived from the perp mid) and settles funding at the times and rates they
    announce (the recorded exchange settles every 2 s here)."""
    record = tmp_path / "session.jsonl.gz"
    with LocalExchange(source="synthetic", seed=5, symbols=[SPOT, PERP],
                       funding_interval_sec=2) as sim:
        run = BotRun(sim, "--record", str(record), workdir=tmp_path)
        try:
            wait_for(lambda: run.md.counters.marks >= 8, timeout=60, what="8 marks")
        finally:
            run.close()
    marks = [orjson.loads(raw)["data"] for _, raw in iter_capture(record) if "@markPrice" in raw]
    assert len(marks) >= 6 and all(m["e"] == "markPriceUpdate" for m in marks)

    def backtest_of(*skip: str):
        out = tmp_path / f"bt{len(skip)}"
        out.mkdir()
        settings = load_settings(["--venue", "sim", "--sim-url", "http://backtest.invalid",
                                  "--sim-source", "replay", "--sim-replay", str(record),
                                  "--trades-log", str(out / "t.csv"), "--state-path",
                                  str(out / "s.json")], {}, dotenv_path=None)
        bt = Backtest(settings, Latency(), out_dir=out)
        if skip:
            from arbitrage.backtest import run as run_module
            original = run_module.ReplaySource
            run_module.ReplaySource = lambda *a, **k: original(
                *a, **{**k, "skip_streams": k["skip_streams"] + skip})
            try:
                return bt.run()
            finally:
                run_module.ReplaySource = original
        return bt.run()

    played = backtest_of()
    assert played.marks == "from the capture's mark stream"
    assert played.funding.startswith("from the capture")
    last = played.exchange.market.marks[PERP]
    assert (f"{last.mark:.8f}", last.next_funding_ms, last.event_ms) == (
        marks[-1]["p"], marks[-1]["T"], marks[-1]["E"])
    assert played.bot.market.mark.mark == float(marks[-1]["p"])   # what the bot read
    # Binance settles the rate a mark announced at the time it announced, with the first mark
    # at or after that time
    expected = [(a["T"], a["r"]) for a, b in zip(marks, marks[1:]) if b["E"] >= a["T"]]
    settled = [(r.funding_time, r.rate) for r in
               played.exchange.market.funding.funding_history(PERP, start_ms=marks[0]["E"])]
    assert len(expected) >= 2 and settled == expected

    derived = backtest_of("@markPrice")       # the same file without its mark stream
    assert derived.marks.startswith("derived: the perp mid")
    assert derived.funding.startswith("a schedule")


def test_latency_profile_draws_measured_round_trips_with_the_seed(tmp_path):
    text = tmp_path / "acks.txt"
    text.write_text("# order -> ack, ms\n10\n30\n\n50\n")
    profile = load_profile(text)
    assert profile.order_ack_ms == (10.0, 30.0, 50.0) and profile.event_to_bot_ms == ()

    def trips(seed):
        lat = Latency(profile=profile, seed=seed)
        out = []
        for _ in range(50):
            there = lat.to_exchange_s()
            out.append((there, lat.to_bot_s()))
        return out
    a = trips(1)
    assert a == trips(1) and a != trips(2)
    assert all(there == back and there * 2000 in (10, 30, 50) for there, back in a)
    assert {round(t * 2000) for t, _ in a} == {10, 30, 50}


def test_latency_profile_feed_delays_keep_the_message_order(tmp_path):
    doc = tmp_path / "lat.json"
    doc.write_text(json.dumps({"order_ack_ms": [2], "event_to_bot_ms": [1, 40]}))
    lat = Latency(profile=load_profile(doc), seed=3)
    now = [0]
    feed = Feed({PERP: "coinm"}, {MARK}, lat.feed_ns, lambda: now[0], lat.feed_sampler())
    for i in range(100):                      # 100 ms apart: each waits its own drawn delay
        now[0] = i * 100_000_000
        feed.on_event(PERP, MARK, {"i": i})
    delays = [t - i * 100_000_000 for i, (t, _, _) in enumerate(feed.pending)]
    assert set(delays) == {1_000_000, 40_000_000}
    feed.pending.clear()
    for i in range(200):                      # 1 ms apart: a slow one holds up those behind it
        now[0] = 10**10 + i * 1_000_000
        feed.on_event(PERP, MARK, {"i": i})
    at = [t for t, _, _ in feed.pending]
    assert at == sorted(at)                                  # a connection delivers in order
    assert all(t - (10**10 + i * 1_000_000) >= 1_000_000 for i, t in enumerate(at))


def test_a_backtest_with_a_latency_profile_repeats_byte_for_byte(tmp_path, capsys):
    doc = tmp_path / "lat.json"
    doc.write_text(json.dumps({"order_ack_ms": [0.8, 1.5, 9.0], "event_to_bot_ms": [0.3, 2]}))
    flags = ["--synthetic", "--seed", "15", "--minutes", "1", "--latency-profile", str(doc),
             "--latency-seed", "7"]
    _run(tmp_path / "a", *flags)
    _run(tmp_path / "b", *flags)
    a, b = (tmp_path / x / "trades_log.csv" for x in "ab")
    assert a.read_bytes() == b.read_bytes() and len(read_rows(a)) >= 4
    code = backtest.main([*flags, "--out", str(tmp_path / "c")])
    assert code == 0
    assert "latency profile lat.json (seed 7): order->ack 3 samples, median 1.5 ms" in \
        capsys.readouterr().out


def test_bench_writes_a_profile_of_the_live_bots_order_round_trips(tmp_path):
    """`python -m bench --latency-profile-out FILE`: each order POST of the live bot timed from
    the call to its answer, written in the format the backtest reads."""
    from bench.latency import AckClock, write_profile
    from tests.harness import EASY

    with LocalExchange(source="synthetic", seed=15, symbols=[SPOT, PERP]) as sim, \
            AckClock() as acks:
        run = BotRun(sim, *EASY, workdir=tmp_path)
        try:
            run.wait_entries(1)
        finally:
            run.close()
    assert len(acks.round_trips_ms) >= 2 and all(0 < ms < 60_000 for ms in acks.round_trips_ms)
    write_profile(tmp_path / "profile.json", acks.round_trips_ms)
    profile = load_profile(tmp_path / "profile.json")
    assert len(profile.order_ack_ms) == len(acks.round_trips_ms)
