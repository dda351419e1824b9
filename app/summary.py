"""The end-of-run summary: what the bot saw and did, readable in a terminal."""
from __future__ import annotations

from typing import TextIO

from arbitrage.bookcheck import ticker_text
from arbitrage.strategy.frontier import BUY_SPOT, SELL_SPOT


def print_summary(bot, stats, out: TextIO) -> None:
    md = bot.market
    seconds = max((stats.ended_ns - stats.started_ns) / 1e9, 1e-9)
    s = bot.s
    lines = [
        "",
        f"=== spot-cm-arb summary: {s.spot_symbol} / {s.coinm_symbol} on {s.venue}"
        f"{' (DRY_RUN)' if s.dry_run else ''} ===",
        f"ran {seconds:.1f} s; both books synced after "
        + (f"{stats.synced_after_s:.2f} s" if stats.synced_after_s is not None else "never"),
        f"market data: {md.counters.diffs} depth diffs, {md.counters.marks} mark updates, "
        f"{md.counters.snapshots} snapshots, {md.resyncs} resyncs "
        f"(spot {md.spot.resyncs}, perp {md.perp.resyncs}), "
        f"{md.counters.disconnects} disconnects, {stats.parse_errors} malformed messages",
        f"engine: {stats.evaluations} evaluations ({stats.evaluations / seconds:.0f}/s)",
    ]
    for symbol, check in md.checks.items():
        lines.append(f"book check {symbol}: {ticker_text(check.counts)}")
    if stats.spread_min is not None:
        lines.append(f"spread: min {stats.spread_min:+.2f} bps, max {stats.spread_max:+.2f} bps "
                     f"(ENTER {s.enter_bps}, EXIT {s.exit_bps}, STOP {s.stop_bps})")
    for direction, label in ((BUY_SPOT, "buy spot / sell perp"), (SELL_SPOT, "sell spot / buy perp")):
        n = stats.opportunities[direction]
        best = stats.best_size_usd[direction]
        lines.append(f"{label}: frontier >= MIN_V_USD {s.min_v_usd} on {n} evaluations"
                     + (f", largest ${best:,.0f}" if n else ""))
    lines.append("orders: none (watch mode: trading is not enabled in this version)")
    out.write("\n".join(lines) + "\n")
    out.flush()
