"""One instance's status as a plain dict (the fleet page, its JSON API and /metrics read it).

Built on the engine thread once a second from what the bot already holds: no exchange request, no
ledger read. Money from the ledger (net BTC, funding, fills) is read by the page from the instance's
own trades_log.csv instead: the file is the truth and survives the process.
"""
from __future__ import annotations

import os
import statistics
from collections import deque

SPREAD_POINTS = 300          # one sample a second: the last five minutes on the page's chart


def latency_ms(entry_latency) -> dict:
    """Event -> order figures (ms) over the entries kept by the bot: the later leg of each pair."""
    values = sorted(max(spot, perp) - trigger for _, trigger, spot, perp in entry_latency)
    if not values:
        return {"entries": 0, "median_ms": None, "p99_ms": None, "max_ms": None}
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return {"entries": len(values), "median_ms": round(statistics.median(values) / 1e6, 3),
            "p99_ms": round(p99 / 1e6, 3), "max_ms": round(values[-1] / 1e6, 3)}


def snapshot(bot, instance_id: str, now_ns: int, spread_series: deque, control,
             last_problem: dict | None, started_ms: int) -> dict:
    s, tr, md, ev = bot.s, bot.trader, bot.market, bot.evaluation
    trade = None
    t = tr.trade
    if t is not None:
        trade = {"trade_id": t.trade_id, "direction": t.direction, "spot_qty": str(t.spot_btc),
                 "contracts": str(t.contracts), "entry_spread_bps": t.entry_spread_bps,
                 "age_s": round((now_ns // 1_000_000 - t.opened_ms) / 1000, 1)}
    books = {}
    for label, sync in (("spot", md.spot), ("perp", md.perp)):
        bid, ask = sync.book.best_bid(), sync.book.best_ask()
        books[label] = [bid[0], ask[0]] if sync.ready and bid and ask else None
    return {
        "id": instance_id,
        "pid": os.getpid(),
        "updated_ms": now_ns // 1_000_000,
        "started_ms": started_ms,
        "spot": s.spot_symbol, "coinm": s.coinm_symbol, "base": bot.spot_rules.base_asset,
        "venue": s.venue, "dry_run": s.dry_run, "live": s.venue == "live" and not s.dry_run,
        "state": tr.state,
        "halt_reason": tr.halt_reason,
        "mode": control.mode, "control_seq": control.seq,
        "paused": tr.paused,
        "start": getattr(bot, "start_decision", None),
        "trade": trade,
        "open_orders": len(tr.pending),
        "entries": tr.entries, "trades_closed": len(tr.closed), "rescued_entries": tr.rescued_entries,
        "spread_bps": ev.spread_bps,
        "mark": md.mark.mark if md.mark else None,
        "books": books,
        "blocked": ev.blocks[0] if ev.blocks else None,
        "resyncs": md.resyncs,
        "rejections": dict(tr.rejections),
        "latency": latency_ms(bot.stats.entry_latency),
        "carry_apr": None,        # filled by the carry strategy once it exists
        "last_problem": last_problem,
        "spread_series": list(spread_series),
    }
