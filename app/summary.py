"""The end-of-run summary: what the bot saw and did, readable in a terminal."""
from __future__ import annotations

from typing import TextIO

from app.report import render
from arbitrage.marketdata.bookcheck import ticker_text
from arbitrage.numbers import plain
from arbitrage.strategy.frontier import BUY_SPOT, SELL_SPOT


def print_summary(bot, stats, out: TextIO) -> None:
    md = bot.market
    seconds = max((stats.ended_ns - stats.started_ns) / 1e9, 1e-9)
    s = bot.s
    lines = [
        "",
        f"=== spot-cm-arb summary: {s.spot_symbol} / {s.coinm_symbol} on {s.venue}"
        f"{' (DRY_RUN)' if s.dry_run else ''}, STRATEGY={s.strategy} ===",
        f"ran {seconds:.1f} s; both books synced after "
        + (f"{stats.synced_after_s:.2f} s" if stats.synced_after_s is not None else "never"),
        f"market data: {md.counters.diffs} depth diffs, {md.counters.marks} mark updates, "
        f"{md.counters.snapshots} snapshots, {md.resyncs} resyncs "
        f"(spot {md.spot.resyncs}, perp {md.perp.resyncs}), "
        f"{md.counters.disconnects} disconnects, {stats.parse_errors} malformed messages",
        f"engine: {stats.evaluations} evaluations ({stats.evaluations / seconds:.0f}/s); "
        f"trading allowed after "
        + (f"{stats.ready_after_s:.2f} s" if stats.ready_after_s is not None else "never"),
    ]
    latency = _entry_latency(stats)
    if latency:
        lines.append(latency)
    lanes = getattr(bot, "lanes", None)
    if lanes is not None:         # ORDER_TRANSPORT=ws
        lines.append("order transport ws: " + ", ".join(f"{k} {v}" for k, v in lanes.counts().items()))
    chase = getattr(bot.trader, "chase", None)
    if chase is not None:         # EXECUTION_MODE=chase
        lines.append(chase.stats.describe(chase.race.outcomes if chase.race else None))
    for symbol, check in md.checks.items():
        lines.append(f"book check {symbol}: {ticker_text(check.counts)}")
    if stats.spread_min is not None:
        lines.append(f"spread: min {stats.spread_min:+.2f} bps, max {stats.spread_max:+.2f} bps "
                     f"(ENTER {plain(s.enter_bps)}, EXIT {plain(s.exit_bps)}, "
                     f"STOP {plain(s.stop_bps)})")
    for direction, label in ((BUY_SPOT, "buy spot / sell perp"), (SELL_SPOT, "sell spot / buy perp")):
        n = stats.opportunities[direction]
        best = stats.best_size_usd[direction]
        lines.append(f"{label}: frontier >= MIN_V_USD {plain(s.min_v_usd)} on {n} evaluations"
                     + (f", largest ${best:,.0f}" if n else ""))
    lines += _trades(bot)
    lines += _ledger(bot)
    out.write("\n".join(lines) + "\n")
    out.flush()


def _entry_latency(stats) -> str | None:
    """From the market event that decided an entry to each leg's hand-over to its client (the
    socket is ~0.5 ms later: `make bench` measures that)."""
    legs = sorted((sent - trigger) / 1e6 for _, trigger, *sents in stats.entry_latency
                  for sent in sents)
    if not legs:
        return None
    return (f"entries: event -> order sent {legs[len(legs) // 2]:.2f} ms median, "
            f"{legs[-1]:.2f} ms max over {len(legs)} legs")


def _trades(bot) -> list[str]:
    tr = bot.trader
    lines = [f"state: {tr.state}" + (f" — {tr.halt_reason}" if tr.halt_reason else ""),
             f"trades: {tr.entries} entries, {len(tr.closed)} closed, {tr.rescued_entries} needed a "
             f"rescue; orders sent: {bot.executor.orders_sent}"
             + (" (DRY_RUN: none sent)" if bot.s.dry_run else "")]
    base = bot.spot_rules.base_asset
    if tr.closed:
        lines.append(f"  {'trade':<15} {'direction':<9} {'spot ' + base:>11} {'cntr':>5} {'entry':>8} "
                     f"{'exit':>8} {'held':>6}  {'spot in/out':<19} {'perp in/out':<17} reason")
    for t in tr.closed:
        held = ((t.closed_ms or t.opened_ms) - t.opened_ms) / 1000
        exit_spread = f"{t.exit_spread_bps:+.2f}" if t.exit_spread_bps is not None else "-"
        lines.append(f"  {t.trade_id:<15} {t.direction:<9} {plain(t.spot_btc):>11} "
                     f"{plain(t.contracts):>5} "
                     f"{t.entry_spread_bps:>+8.2f} {exit_spread:>8} {held:>5.1f}s  "
                     f"{_px(t.spot_vwap)}/{_px(t.exit_spot_vwap):<9} "
                     f"{_px(t.perp_vwap)}/{_px(t.exit_perp_vwap):<8} {t.exit_reason}")
    if tr.trade is not None and tr.state != "FLAT":
        t = tr.trade
        base = bot.spot_rules.base_asset
        lines.append(f"  open: {t.trade_id} {t.direction} spot {plain(t.spot_btc)} {base}, "
                     f"{plain(t.contracts)} "
                     f"contracts, entered at {t.entry_spread_bps:+.2f} bps")
    return lines


def _px(price) -> str:
    return f"{price:.1f}" if price is not None else "-"


def _open(bot) -> list[str]:
    """The trade the bot holds now (none when FLAT): any other without a close row has ended."""
    trade = bot.trader.trade
    return [trade.trade_id] if trade is not None else []


def _ledger(bot) -> list[str]:
    acc = bot.accounting
    if acc is None or acc.log is None:
        if not bot.s.dry_run:
            return []
        lines = ["ledger: none written (DRY_RUN)" + (": on paper, filled from the local books"
                                                     if acc is not None and acc.rows else "")]
        return lines + (["", render(acc.rows, _open(bot))] if acc is not None and acc.rows else [])
    lines = [f"ledger: {len(acc.rows)} row(s) this run in {acc.log.path}"
             + (f", {acc.log.pending} waiting to be written" if acc.log.pending else "")]
    if acc.rows:
        lines += ["", render(acc.rows, _open(bot))]
    inv = bot.last_invariant
    if inv is not None:
        lines += ["invariant (ledger vs the exchange's own balances):"] + \
                 [f"  {line}" for line in inv.describe()]
    return lines
