"""`python -m app.backtest`: the bot's own engine in simulated time over a recorded or synthetic
market; one configuration prints the live run's summary plus one result line, `--grid` sweeps
settings in parallel worker processes and prints one table sorted by net result.

    python -m app.backtest --replay a.gz,b.gz --enter-bps 8 --out bt
    python -m app.backtest --synthetic --seed 15 --minutes 10 --grid ENTER_BPS=4,6,8 EXIT_BPS=0,2

Every bot setting is a flag (as for app.main); the backtest's own flags are listed by --help.
Exit codes: 0 ok, 2 bad settings, 3 a run halted (single run).
"""
from __future__ import annotations

import argparse
import io
import itertools
import json
import logging
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path

from arbitrage.config import SettingsError, load_settings

EXIT_OK, EXIT_SETTINGS, EXIT_HALTED = 0, 2, 3
ZERO = Decimal(0)


@dataclass
class Result:
    config: str
    trades: int
    wins: int
    net_btc: str
    fees_btc: str
    funding_btc: str
    max_unhedged_btc: str
    max_naked_s: float
    halted: str | None
    market_s: float
    wall_s: float
    out: str
    marks: str = ""             # where the marks came from (capture, derived, model)
    funding: str = ""           # where the funding settlements came from

    @property
    def inputs(self) -> str:
        return f"marks {self.marks}, funding {self.funding}"

    @property
    def win_rate(self) -> float:
        return 100.0 * self.wins / self.trades if self.trades else 0.0

    def line(self) -> str:
        return (f"[BACKTEST] {self.config or 'settings as given'}: trades {self.trades} (entries, "
                f"closed or rescued away), win rate "
                f"{self.win_rate:.1f}%, net {self.net_btc} BTC, fees {self.fees_btc} BTC, funding "
                f"{self.funding_btc} BTC, max unhedged {self.max_unhedged_btc} BTC, max naked leg "
                f"{self.max_naked_s:.3f} s"
                + (f", HALTED: {self.halted}" if self.halted else "")
                + f" | {self.inputs} | {self.market_s:.0f} s of market in {self.wall_s:.2f} s "
                f"({self.market_s / max(self.wall_s, 1e-9):.0f}x)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m app.backtest", add_help=False,
        description="Backtest: the bot in simulated time. Any other flag is a bot setting "
                    "(python -m app.main --help lists them).")
    p.add_argument("-h", "--help", action="store_true")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--replay", metavar="FILE,FILE...",
                     help="capture files (--record files, the shared captures; several chain)")
    src.add_argument("--synthetic", action="store_true", help="the seeded synthetic market (default)")
    p.add_argument("--seed", type=int, help="synthetic market seed (SIM_SEED)")
    p.add_argument("--minutes", type=float, default=5.0, help="synthetic market length (default 5)")
    p.add_argument("--start-ms", type=int, help="synthetic market start, ms since the epoch "
                   "(default 2026-01-01T00:00:00Z)")
    p.add_argument("--out", default="backtest-out", help="folder for trades_log.csv and state")
    p.add_argument("--latency-order-ms", type=float, default=5.0, help="order -> exchange, ms")
    p.add_argument("--latency-answer-ms", type=float, default=5.0, help="exchange -> bot answer, ms")
    p.add_argument("--latency-feed-ms", type=float, default=5.0, help="market data -> bot, ms")
    p.add_argument("--latency-jitter-ms", type=float, default=0.0,
                   help="mean of an exponential delay added to each order and answer, ms")
    p.add_argument("--latency-seed", type=int, default=0)
    p.add_argument("--latency-profile", metavar="FILE",
                   help="measured delays instead of the constants: one order round trip (ms) per "
                        "line, or JSON {\"order_ack_ms\": [...], \"event_to_bot_ms\": [...]}; "
                        "drawn with --latency-seed")
    p.add_argument("--funding-history", metavar="FILE",
                   help="settle funding as in this GET /dapi/v1/fundingRate answer (JSON array, "
                        "or CSV symbol,fundingTime,fundingRate[,markPrice]) instead of the "
                        "exchange's schedule or the capture's marks")
    p.add_argument("--queue-model", choices=("none", "risk_averse"),
                   help="resting orders: none (fill only when the book trades through their price, "
                        "the default) | risk_averse (also from trades at their price once the queue "
                        "ahead has traded; SIM_QUEUE_MODEL)")
    p.add_argument("--grid", nargs="+", metavar="KEY=v1,v2",
                   help="sweep these settings (every combination) in parallel processes")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--json", action="store_true", help="the grid's table as JSON")
    p.add_argument("--quiet", action="store_true", help="only the result line (single run)")
    return p


def bot_argv(args: argparse.Namespace, rest: list[str], out: Path) -> list[str]:
    """The bot's own flags for one run: the source, its folder, FLATTEN_ON_EXIT on (a trade
    still open at the end is closed, so its result counts), then what the user gave."""
    argv = ["--venue", "sim", "--sim-url", "http://backtest.invalid", "--flatten-on-exit",
            "--trades-log", str(out / "trades_log.csv"), "--state-path", str(out / "state.json"),
            "--log-level", "WARNING"]
    if args.replay:
        argv += ["--sim-source", "replay", "--sim-replay", args.replay]
    else:
        argv += ["--sim-source", "synthetic"]
    if args.seed is not None:
        argv += ["--sim-seed", str(args.seed)]
    if args.queue_model is not None:
        argv += ["--sim-queue-model", args.queue_model]
    return argv + rest


def grid_configs(grid: list[str]) -> list[list[tuple[str, str]]]:
    axes = []
    for item in grid:
        key, sep, values = item.partition("=")
        if not sep or not key or not values:
            raise SettingsError([f"--grid: {item!r} is not KEY=v1,v2,..."])
        axes.append([(key.strip().upper(), v.strip()) for v in values.split(",") if v.strip()])
    return [list(combo) for combo in itertools.product(*axes)]


def flags_of(config: list[tuple[str, str]]) -> list[str]:
    out: list[str] = []
    for key, value in config:
        out += ["--" + key.lower().replace("_", "-"), value]
    return out


def run_one(args: argparse.Namespace, rest: list[str], out: Path, config: str = "",
            summary: io.TextIOBase | None = None) -> Result:
    """One configuration, in this process."""
    from app.summary import print_summary
    from arbitrage.backtest.run import Backtest, clear_outputs
    from arbitrage.backtest.latency_profile import load_profile
    from arbitrage.backtest.venue import Latency
    from arbitrage.logs import setup_logging
    from arbitrage.accounting.tradelog import read_rows

    out.mkdir(parents=True, exist_ok=True)
    settings = load_settings(bot_argv(args, rest, out), {}, dotenv_path=None)
    setup_logging(settings.log_level, [])
    clear_outputs(settings)
    latency = Latency(args.latency_order_ms, args.latency_answer_ms, args.latency_feed_ms,
                      args.latency_jitter_ms, args.latency_seed,
                      load_profile(args.latency_profile) if args.latency_profile else None)
    began = time.perf_counter()
    outcome = Backtest(settings, latency, args.minutes, out, args.start_ms,
                       funding_history=args.funding_history).run()
    wall = time.perf_counter() - began
    if summary is not None:
        print_summary(outcome.bot, outcome.stats, summary)
        summary.write(f"backtest: {outcome.market_seconds:.1f} s "
                      f"of market; marks {outcome.marks}; funding {outcome.funding}; latency "
                      f"{latency.describe()}\n")
    path = Path(settings.trades_log)
    rows = read_rows(path) if path.exists() else []
    nets = trade_nets(rows)
    return Result(
        config=config, trades=len(nets),
        wins=sum(1 for n in nets.values() if n > 0),
        net_btc=_plain(sum(nets.values(), ZERO) + sum(   # and funding outside any trade
            (r.income_btc or ZERO for r in rows if r.event == "funding" and not r.trade_id), ZERO)),
        fees_btc=_plain(sum(((r.fee_btc_spot or ZERO) + (r.fee_btc_cm or ZERO) for r in rows),
                            ZERO)),
        funding_btc=_plain(sum((r.income_btc or ZERO for r in rows if r.event == "funding"),
                               ZERO)),
        max_unhedged_btc=_plain(outcome.exposure.max_btc.quantize(Decimal("0.00000001"))),
        max_naked_s=round(outcome.exposure.max_naked_s, 3),
        halted=outcome.bot.trader.halt_reason, market_s=round(outcome.market_seconds, 1),
        wall_s=round(wall, 3), out=str(out), marks=_short_marks(outcome.marks),
        funding=_short_funding(outcome.funding))


def _short_marks(text: str) -> str:
    return ("capture" if text.startswith("from the capture") else
            "derived" if text.startswith("derived") else "model")


def _short_funding(text: str) -> str:
    return ("capture" if text.startswith("from the capture") else
            "schedule" if text.startswith("a schedule") else text.split(":")[0])


def trade_nets(rows) -> dict[str, Decimal]:
    """Each entry's result in BTC (app/report.py's trade results): a closed trade's `net_btc`; an
    entry undone by rescues, its flows the same way — a rescue's loss is part of what a setting
    costs. The backtest closes what is open at its end, so every trade has ended."""
    from app.report import trade_results

    trades, _ = trade_results(rows, open_trades=())
    return {t.trade_id: t.net_btc for t in trades if t.net_btc is not None}


def _plain(value: Decimal) -> str:
    return format(value.normalize() if value else ZERO, "f")


def _grid_worker(job: tuple[argparse.Namespace, list[str], str, str]) -> Result:
    args, rest, out, config = job
    return run_one(args, rest, Path(out), config)


def table(results: list[Result]) -> str:
    head = ("config", "trades", "win%", "net BTC", "fees BTC", "funding BTC", "max unhedged",
            "naked s", "halted")
    rows = [(r.config, str(r.trades), f"{r.win_rate:.1f}", r.net_btc, r.fees_btc, r.funding_btc,
             r.max_unhedged_btc, f"{r.max_naked_s:.3f}", "yes" if r.halted else "")
            for r in results]
    # every configuration plays the same inputs: one line says which
    inputs = sorted({r.inputs for r in results})
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    fmt = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)   # noqa: E731
                                  for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([fmt(head)] + [fmt(r) for r in rows] + [f"inputs: {i}" for i in inputs])


def check_input_files(args: argparse.Namespace, perps: list[str]) -> None:
    """The latency profile and the funding history are read once here: a bad one stops
    everything before a run starts (one line per problem)."""
    from arbitrage.backtest.latency_profile import LatencyProfileError, load_profile
    from arbitrage.sim.funding_file import FundingFileError, read_funding_file

    problems: list[str] = []
    if args.latency_profile:
        try:
            load_profile(args.latency_profile)
        except LatencyProfileError as exc:
            problems.append(str(exc))
    if args.funding_history:
        for perp in perps:
            try:
                read_funding_file(args.funding_history, perp)
            except FundingFileError as exc:
                problems += [p for p in exc.problems if p not in problems]
    if problems:
        raise SettingsError(problems)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = parser()
    args, rest = p.parse_known_args(argv)
    if args.help:
        p.print_help()
        return EXIT_OK
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"error: --out: cannot create {out} ({exc.strerror or exc})", file=sys.stderr)
        return EXIT_SETTINGS
    try:
        configs = grid_configs(args.grid) if args.grid else [[]]
        perps = set()
        for config in configs:                    # every configuration is checked before any runs
            perps.add(load_settings(bot_argv(args, rest + flags_of(config), out), {},
                                    dotenv_path=None).coinm_symbol)
        check_input_files(args, sorted(perps))
        if args.grid:                              # (each run gets its own folder under --out)
            pass
        if args.minutes <= 0:
            raise SettingsError([f"--minutes: {args.minutes:g} (expected a number > 0)"])
        for name in ("latency_order_ms", "latency_answer_ms", "latency_feed_ms", "latency_jitter_ms"):
            if getattr(args, name) < 0:
                raise SettingsError([f"--{name.replace('_', '-')}: {getattr(args, name):g} "
                                     f"(expected >= 0)"])
        for f in (args.replay.split(",") if args.replay else []):
            if not Path(f).is_file():
                raise SettingsError([f"--replay: {f}: no such file"])
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_SETTINGS
    if not args.grid:
        summary = io.StringIO()
        result = run_one(args, rest, out, "", None if args.quiet else summary)
        if not args.quiet:
            sys.stdout.write(summary.getvalue())
        print(result.line())
        return EXIT_HALTED if result.halted else EXIT_OK
    jobs = [(args, rest + flags_of(c), str(out / (f"{i:03d}-" + "-".join(f"{k}={v}" for k, v in c))),
             " ".join(f"{k}={v}" for k, v in c)) for i, c in enumerate(configs)]
    logging.getLogger().setLevel(logging.WARNING)
    began = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, min(args.workers, len(jobs)))) as pool:
        results = list(pool.map(_grid_worker, jobs))
    wall = time.perf_counter() - began
    results.sort(key=lambda r: Decimal(r.net_btc), reverse=True)
    if args.json:
        print(json.dumps([asdict(r) | {"win_rate": r.win_rate} for r in results], indent=2))
    else:
        print(table(results))
        print(f"{len(results)} configurations, {sum(r.market_s for r in results):.0f} s of market "
              f"in {wall:.1f} s on {max(1, min(args.workers, len(jobs)))} worker(s); ledgers "
              f"under {out}/")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
