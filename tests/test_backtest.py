"""The backtest: the bot's own engine in simulated time (app.backtest, arbitrage/backtest)."""
from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import pytest

from app import backtest
from arbitrage.backtest.clock import SimClock
from arbitrage.backtest.run import SYNTHETIC_START_NS, Exposure
from arbitrage.accounting.tradelog import read_rows

SHORT = ["--synthetic", "--seed", "15", "--minutes", "1", "--quiet"]


def _run(tmp_path: Path, name: str, *flags: str) -> tuple[int, Path]:
    out = tmp_path / name
    code = backtest.main([*SHORT, "--out", str(out), *flags])
    return code, out / "trades_log.csv"


def test_the_same_inputs_give_a_byte_identical_ledger(tmp_path, capsys):
    code_a, ledger_a = _run(tmp_path, "a")
    code_b, ledger_b = _run(tmp_path, "b")
    assert code_a == code_b == 0
    rows = read_rows(ledger_a)
    assert len(rows) >= 4                       # the seed-15 minute trades: something to compare
    assert ledger_a.read_bytes() == ledger_b.read_bytes()
    # the same folder again: the run starts its ledger afresh instead of appending to it
    _run(tmp_path, "a")
    assert ledger_a.read_bytes() == ledger_b.read_bytes()
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("[BACKTEST]")]
    assert len(lines) == 3 and "trades 4 " in lines[0]


def test_no_wall_clock_reaches_the_ledger(tmp_path):
    """Every row carries simulated exchange time: within the synthetic minute of 2026-01-01."""
    _, ledger = _run(tmp_path, "a")
    start_ms = SYNTHETIC_START_NS // 1_000_000
    rows = read_rows(ledger)
    assert rows and all(start_ms <= r.ts_ms <= start_ms + 61_000 for r in rows)


def test_a_latency_seed_changes_nothing_when_runs_repeat(tmp_path):
    flags = ("--latency-jitter-ms", "3", "--latency-seed", "4")
    _, a = _run(tmp_path, "a", *flags)
    _, b = _run(tmp_path, "b", *flags)
    assert a.read_bytes() == b.read_bytes()


def test_grid_runs_every_combination_and_sorts_by_net(tmp_path, capsys):
    code = backtest.main(["--synthetic", "--seed", "15", "--minutes", "0.5", "--out",
                          str(tmp_path), "--workers", "2", "--json",
                          "--grid", "ENTER_BPS=6,9", "EXIT_BPS=0,2"])
    assert code == 0
    table = json.loads(capsys.readouterr().out)
    assert sorted(r["config"] for r in table) == sorted(
        f"ENTER_BPS={e} EXIT_BPS={x}" for e in (6, 9) for x in (0, 2))
    nets = [Decimal(r["net_btc"]) for r in table]
    assert nets == sorted(nets, reverse=True)
    for r in table:                     # each configuration has its own ledger
        rows = read_rows(Path(r["out"]) / "trades_log.csv") if r["trades"] else []
        assert len({x.trade_id for x in rows if x.event == "open"}) == r["trades"]


def test_a_bad_grid_value_stops_before_anything_runs(tmp_path, capsys):
    code = backtest.main([*SHORT, "--out", str(tmp_path), "--grid", "ENTER_BPS=6,abc"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err and all(l.startswith("error: ") for l in err) and "ENTER_BPS" in err[0]
    assert "Traceback" not in "\n".join(err)


def test_sleep_plays_the_market_forward_without_waiting():
    played = []
    clock = SimClock(1_000, lambda target: played.append(target))
    began = time.monotonic()
    clock.sleep(30.0)
    assert time.monotonic() - began < 1.0
    assert clock.now_ns() == 1_000 + 30 * 10**9 and played == [clock.now_ns()]


def test_two_legs_sent_together_start_at_the_same_moment():
    clock = SimClock(0)
    starts = []

    def leg(delay_s):
        starts.append(clock.now_ns())
        clock.sleep(delay_s)
    with clock.together():
        clock.branch(leg, 0.010)
        clock.branch(leg, 0.004)
    assert starts == [0, 0]
    assert clock.now_ns() == 10_000_000       # the block ends with its longest call


def test_exposure_counts_only_states_that_lasted():
    ex = Exposure()
    one = Decimal("0.0016")
    ex.sample(0, Decimal("0.3"), one)         # first leg filled...
    ex.sample(0, Decimal("0.0001"), one)      # ...and the second at the same instant
    ex.sample(2_000_000_000, Decimal("0.5"), one)   # a lone leg for 1.5 s
    ex.sample(3_500_000_000, Decimal(0), one)
    ex.finish(4_000_000_000)
    assert ex.max_btc == Decimal("0.5")
    assert ex.max_naked_s == pytest.approx(1.5)
