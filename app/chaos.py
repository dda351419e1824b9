"""`python -m app.chaos --minutes 10`: the real bot against a local exchange that injects every
fault at random, then a table: each fault kind, how often it was injected, what the bot did about
it, and the end state. Exit code 1 when the end state is not safe.

Safe means: unhedged exposure under one contract (+ one spot step), no open order left, the ledger
reproducing the exchange's balances exactly, no halt other than the ones a fault should cause, and
memory that stays flat (RSS at start and end are printed).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

from app.main import connect
from arbitrage.config import load_settings
from arbitrage.accounting.ledger import check_invariant, plain
from arbitrage.logs import setup_logging
from arbitrage.sim import LocalExchange
from arbitrage.sim.chaos import FaultPlan
from arbitrage.accounting.tradelog import read_rows
from arbitrage.venues import VenueUrls

DEFAULT_FAULTS = ("drop=0.005,disconnect=40,silence=55:4,http5xx=0.02,ratelimit=100,slow=0.02:1.0,"
                  "clock=70:3000,malformed=0.002,reduce=120,reject=45,partial=50,unknown=60")
# the fast lanes' faults, added to the plan when the bot sends over the WebSocket API
WS_FAULTS = "wslost=45,wslate=50:2,udsdrop=40,lkexpire=70,eventlost=30"
# thresholds that make the synthetic market trade often, so faults meet trades in flight
TRADING = ("--enter-bps", "1", "--exit-bps", "0.3", "--stop-bps", "40", "--min-v-usd", "100",
           "--max-q-btc-frontier", "0.05", "--reopen-cooldown-sec", "1", "--max-hold-sec", "15",
           "--flatten-on-exit", "--status-interval", "30")


def rss_mb() -> float:
    """Resident memory now (not the peak), from /proc."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m app.chaos", description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--faults", default=DEFAULT_FAULTS, help="fault plan (python -m arbitrage.sim --help)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--order-transport", choices=("rest", "ws"), default="rest",
                    help="ws: orders over the WebSocket API; the plan gains its faults "
                         f"({WS_FAULTS}) unless --faults is given")
    ap.add_argument("--execution-mode", choices=("taker", "maker", "chase"), default="taker",
                    help="chase: the spot leg rests and follows the touch, each fill hedged at "
                         "market (the exchange's queue model on: risk_averse)")
    ap.add_argument("--log-level", default="WARNING")
    args = ap.parse_args(argv)
    if args.order_transport == "ws" and args.faults == DEFAULT_FAULTS:
        args.faults = f"{DEFAULT_FAULTS},{WS_FAULTS}"
    # --seed seeds the plan too, unless the plan names its own
    plan = args.faults if "seed=" in args.faults else f"{args.faults},seed={args.seed}"
    try:
        FaultPlan.parse(plan)
    except ValueError as exc:                    # a bad plan: one line, exit 2, no traceback
        print(f"error: --faults: {exc}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="chaos-"))
    ex = LocalExchange(source="synthetic", seed=args.seed, faults=plan,
                       queue_model="risk_averse" if args.execution_mode == "chase" else "none").start()
    env = {"SPOT_KEY": ex.api_key, "SPOT_SECRET": ex.api_secret,
           "DAPI_KEY": ex.api_key, "DAPI_SECRET": ex.api_secret}
    settings = load_settings(["--venue", "sim", "--sim-url", ex.rest_url, *TRADING,
                              "--trades-log", str(work / "trades_log.csv"),
                              "--state-path", str(work / "state.json"),
                              "--order-transport", args.order_transport,
                              "--execution-mode", args.execution_mode,
                              "--log-level", args.log_level], env, dotenv_path=None)
    setup_logging(settings.log_level, [ex.api_secret])
    stop = threading.Event()
    bot = connect(settings, VenueUrls(ex.rest_url, ex.ws_url, ex.rest_url, ex.ws_url), stop)
    start = bot.accounting.start_balances
    seconds = args.minutes * 60
    runner = threading.Thread(target=bot.run, args=(stop, seconds), daemon=True)
    runner.start()
    rss = [rss_mb()]
    began = time.monotonic()
    print(f"chaos: {args.minutes:g} min, {args.execution_mode}, faults {args.faults}, work dir {work}", flush=True)
    while runner.is_alive():
        runner.join(timeout=10)
        rss.append(rss_mb())
        done = (time.monotonic() - began) / seconds
        if len(rss) % 6 == 0:
            print(f"  {min(done, 1):5.0%}  trades {len(bot.trader.closed)}  state {bot.trader.state}"
                  f"  rss {rss[-1]:.0f} MB", flush=True)
    ex.calm()                 # the end state is read from an exchange that answers straight
    time.sleep(3.5)           # a rate-limit window still open runs out
    bot.sweep_now(act=False)  # what the last faults did after the bot's own last sweep is booked
    report = _end_state(bot, ex, start, work, rss)
    ex.stop()
    print(report.text)
    return 0 if report.ok else 1


class _Report:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ok = True

    def check(self, label: str, value: str, ok: bool) -> None:
        self.lines.append(f"  {label:<34} {value:<40} {'ok' if ok else 'FAIL'}")
        self.ok = self.ok and ok

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _answers(bot) -> dict[str, str]:
    """What the bot did about each kind of fault, from its own counters."""
    md, st = bot.market, bot.stats
    https = (bot.spot_client.http, bot.coinm_client.http)
    total = lambda name: sum(getattr(h, name, 0) for h in https)  # noqa: E731
    return {
        "drop": f"{md.resyncs} book resyncs",
        "disconnect": f"{sum(r.reconnects for r in bot.runners)} reconnects",
        "silence": f"{md.counters.disconnects} stream losses handled",
        "http5xx": f"{total('retries')} reads retried",
        "ratelimit": f"{total('bans')} bans waited out",
        "slow": f"{bot.executor.unknown_resolved} unknown outcomes resolved",
        "clock": f"{total('clock_resyncs')} clock re-syncs",
        "malformed": f"{st.parse_errors} bad messages skipped",
        "reduce": f"{sum(1 for r in bot.accounting.rows if r.event == 'adl')} adl rows, "
                  f"{bot.trader.outside_changes} sweeps found them",
        "reject": f"{bot.trader.rescued_entries} entries rescued (all causes)",
        "partial": f"{bot.trader.rescued_entries} entries rescued (all causes)",
        "unknown": f"{bot.executor.unknown_resolved} unknown outcomes resolved",
        "ban": f"{total('bans')} 429/418 answers honoured",
        **_lane_answers(bot),
    }


def _lane_answers(bot) -> dict[str, str]:
    """ORDER_TRANSPORT=ws: what the bot did about the fast lanes' faults."""
    lanes = getattr(bot, "lanes", None)
    if lanes is None:
        return {}
    c = lanes.counts()
    return {
        "wsapi_lost": f"{bot.executor.updates.overtaken}"
                      f" answers overtaken by the stream, {bot.executor.unknown_resolved} unknown "
                      f"outcomes resolved (all causes)",
        "wsapi_late": f"{bot.executor.updates.overtaken} answers overtaken by the stream (all causes)",
        "uds_drop": f"{c['gaps']} stream gaps reconciled by REST",
        "listenkey_expired": f"{c['listenkey_renewals']} listenKey renewals",
        "event_lost": f"{bot.executor.updates.pushed} reads on events; a lost one: the answer, "
                      f"the deadline or a REST sweep",
    }


def _end_state(bot, ex, start, work: Path, rss: list[float]) -> _Report:
    r = _Report()
    counts = ex.fault_counts()
    answers = _answers(bot)
    r.lines.append(f"  {'fault':<17} {'injected':>9}   bot's answer")
    for kind in sorted(set(counts) | set(answers)):
        r.lines.append(f"  {kind:<17} {counts.get(kind, 0):>9}   {answers.get(kind, '-')}")
    if getattr(bot, "lanes", None) is not None:
        c = bot.lanes.counts()
        r.lines.append(f"  orders: {c['orders_ws']} over the WebSocket API, "
                       f"{c['orders_rest_fallback']} by REST while it was down")
    r.lines.append("")
    spot, coinm = bot.spot_client, bot.coinm_client
    sym, psym = bot.spot_rules.symbol, bot.perp_rules.symbol
    open_orders = len(spot.open_orders(sym)) + len(coinm.open_orders(psym))
    position = coinm.position(psym).amount
    end = bot.balances()
    size = bot.perp_rules.contract_size or Decimal(1)
    mark = Decimal(str(bot.market.mark.mark if bot.market.mark else 60000))
    spot_change = end.spot_btc - start.spot_btc
    exposure = spot_change + (position - (bot.trader.baseline_contracts or 0)) * size / mark
    limit = size / mark + bot.spot_rules.step_size + _fees_dust(bot)
    r.check("unhedged exposure (BTC)", f"{exposure:+.8f} (limit {limit:.8f})", abs(exposure) < limit)
    r.check("open orders left", str(open_orders), open_orders == 0)
    inv = check_invariant(read_rows(work / "trades_log.csv"), start, end)
    r.check("ledger invariant USDT difference", plain(inv.diff_usdt), inv.diff_usdt == 0)
    r.check("ledger invariant BTC difference", plain(inv.diff_btc), inv.diff_btc == 0)
    halt = bot.trader.halt_reason
    r.check("halts", halt or "none", halt is None)
    r.check("trades closed", str(len(bot.trader.closed)), len(bot.trader.closed) > 0)
    grow = rss[-1] - rss[1] if len(rss) > 2 else 0.0
    r.check("RSS start -> end (MB)", f"{rss[0]:.0f} -> {rss[-1]:.0f} (after warm-up {grow:+.0f})",
            grow < 50)
    return r


def _fees_dust(bot) -> Decimal:
    """Spot BTC commissions leave the spot leg short of what was bought: not exposure."""
    return sum((abs(t.spot_btc) for t in bot.trader.closed), Decimal(0)) * Decimal("0.001")


if __name__ == "__main__":
    logging.captureWarnings(True)
    sys.exit(main())
