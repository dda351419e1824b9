"""Not in the default suite (1 run in 3 differs on an idle machine: the live bot acts a tick late
and its exit lands elsewhere); run it by name: pytest tests/compare_live_backtest.py.

The same synthetic market live (the bot on loopback against the local exchange, speed 1) and
in a backtest (simulated time, in-process venue, loopback-like latency): the same trades."""
from __future__ import annotations

import time
from decimal import Decimal

from arbitrage.backtest.run import Backtest, clear_outputs
from arbitrage.backtest.venue import Latency
from arbitrage.config import load_settings
from arbitrage.sim import LocalExchange
from arbitrage.sim.synthetic import TICK_SEC
from arbitrage.tradelog import read_rows
from tests.harness import PERP, SPOT, BotRun

LIVE_SECONDS = 30
# The live market runs at half speed (a tick every 200 ms of wall time): a loaded machine can
# delay the live bot by a good part of 100 ms, and a reaction that slips past the next tick
# acts on a different book. The backtest plays the same ticks 100 ms apart, so the settings
# that count time run at half their live value there: the same number of ticks either way.
SPEED = 0.5
LIVE_TIMES = ("--reopen-cooldown-sec", "5", "--max-hold-sec", "30")
BACKTEST_TIMES = ("--reopen-cooldown-sec", "2.5", "--max-hold-sec", "15")
# the demo's settings otherwise; no FLATTEN_ON_EXIT: a close at the stop would be decided by when
# each run noticed it (under load the live one is a few ticks late), not by the market
FLAGS = ("--sim-seed", "15")


def _pairs(rows):
    """(event, side) of the open and close rows, in order."""
    return [(r.event, r.side) for r in rows if r.event in ("open", "close")]


def test_live_and_backtest_take_the_same_trades(tmp_path):
    sim = LocalExchange(source="synthetic", seed=15, symbols=[SPOT, PERP], speed=SPEED)
    start_ms = time.time_ns() // 1_000_000           # the synthetic market's start (wall clock)
    sim.start()
    try:
        (tmp_path / "live").mkdir()
        run = BotRun(sim, *FLAGS, *LIVE_TIMES, "--status-interval", "5",
                     workdir=tmp_path / "live")
        time.sleep(LIVE_SECONDS)
        # the market ends first (REST and the streams stay up), then the bot gets time to work
        # through what it received: both runs decide on exactly the same ticks, however late
        # a loaded machine makes the live bot
        sim._stop.set()
        sim._market_thread.join(10)
        ticks = sim.source.ticks
        time.sleep(2.0)
        run.stop.set()
        run.thread.join(60)
    finally:
        sim.stop()
    live = read_rows(run.trades_log)

    out = tmp_path / "backtest"
    out.mkdir()
    settings = load_settings(["--venue", "sim", "--sim-url", "http://backtest.invalid",
                              "--sim-source", "synthetic", *FLAGS, *BACKTEST_TIMES,
                              "--trades-log", str(out / "trades_log.csv"),
                              "--state-path", str(out / "state.json")], {}, dotenv_path=None)
    clear_outputs(settings)
    # loopback: well under a millisecond each way for the market data, about one for an order
    latency = Latency(order_ms=1, answer_ms=1, feed_ms=0.5)
    Backtest(settings, latency, minutes=ticks * TICK_SEC / 60, out_dir=out,
             start_ms=start_ms).run()
    sim_rows = read_rows(out / "trades_log.csv")

    assert _pairs(live), "the live minute took no trade: nothing to compare"
    assert _pairs(sim_rows) == _pairs(live), (
        f"live {[(r.event, r.side, r.ts_ms - start_ms) for r in live]}\n"
        f"backtest {[(r.event, r.side, r.ts_ms - start_ms) for r in sim_rows]}\n"
        f"live stats: ready after {run.bot.stats.ready_after_s}, resyncs {run.md.resyncs}")
    # how close the prices are: the same market path; both act on the same 100 ms tick and fill
    # at identical prices, unless a loaded machine delays the live bot past the next tick: then
    # that entry is a few tenths of a bps off, and its exit (the basis it converges on moves
    # every tick, and the trade's own fills moved the books differently) can be 10-20 bps off
    # on one leg. The bound only says: the same market, the same trades.
    for a, b in zip([r for r in live if r.event in ("open", "close")],
                    [r for r in sim_rows if r.event in ("open", "close")]):
        for px_live, px_sim in ((a.spot_vwap, b.spot_vwap), (a.perp_vwap, b.perp_vwap)):
            gap_bps = abs(px_live - px_sim) / px_live * Decimal(10_000)
            print(f"{a.event} {a.side}: live {px_live} backtest {px_sim} ({gap_bps:.2f} bps)")
            assert gap_bps < 50
