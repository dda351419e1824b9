"""`python -m app.report --plot [--out DIR] [trades_log.csv ...]`: PNG charts per ledger (one
ledger per pair: a fleet instance's `<run_dir>/<id>/trades_log.csv`, or the bot's own).

For each ledger: the executed spread of every open and close row, (perp_vwap − spot_vwap) /
spot_vwap in bps (the basis the pair actually traded at), and the cumulative net BTC of the closed
trades (the report's own net figures). matplotlib is optional (requirements-plot.txt).
"""
from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from app.report import _basis_bps, by_pair, trade_results
from arbitrage.accounting.ledger import CLOSE, OPEN
from arbitrage.accounting.tradelog import TradeLogError, read_rows


def label_of(path: Path) -> str:
    """fleet/btc/trades_log.csv -> btc; eth_trades.csv -> eth_trades."""
    if path.stem == "trades_log" and path.parent.name not in ("", "."):
        return path.parent.name
    return path.stem


def groups_of(path: Path, rows) -> list[tuple[str, list]]:
    """(label, rows) per pair: a ledger holding several pairs (its pair columns) gets one set of
    charts per pair, named after the spot symbol."""
    groups = by_pair(rows)
    if len(groups) <= 1:
        return [(label_of(path), rows)]
    return [(f"{label_of(path)}_{pair.spot_symbol.lower()}", group) for pair, group in groups.items()]


def series(rows) -> tuple[list, list]:
    spread = [(r.ts_ms, float(b)) for r in sorted(rows, key=lambda r: r.ts_ms)
              if r.event in (OPEN, CLOSE) and (b := _basis_bps(r)) is not None]
    trades, _ = trade_results(rows)
    running, net = Decimal(0), []
    for t in sorted((t for t in trades if t.closed and t.net_btc is not None), key=lambda t: t.closed_ms):
        running += t.net_btc
        net.append((t.closed_ms, float(running)))
    return spread, net


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m app.report --plot")
    ap.add_argument("--out", default="plots", help="directory for the PNG files (default plots)")
    ap.add_argument("ledgers", nargs="*", default=["trades_log.csv"])
    args = ap.parse_args(argv)
    try:
        import matplotlib
        matplotlib.use("Agg")                      # files only, no display
        import matplotlib.pyplot as plt
        from matplotlib.dates import DateFormatter
    except ImportError:
        print("--plot needs matplotlib, which is optional: pip install -r requirements-plot.txt",
              file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for name in args.ledgers:
        path = Path(name)
        try:
            rows = read_rows(path, errors=[])
        except FileNotFoundError:
            print(f"{path}: no such file", file=sys.stderr)
            return 1
        except (OSError, UnicodeDecodeError, TradeLogError) as exc:
            print(f"{path}: cannot be read: {exc}", file=sys.stderr)
            return 1
        for label, group in groups_of(path, rows):
            written += _plot(plt, DateFormatter, out, label, group)
    return 0 if written else 1


def _plot(plt, DateFormatter, out: Path, label: str, rows) -> int:
    """Two PNGs for one pair; returns how many were written."""
    spread, net = series(rows)
    for kind, points, ylabel, step in (("spread", spread, "executed spread, bps", False),
                                       ("net_btc", net, "cumulative net (base coin)", True)):
        fig, ax = plt.subplots(figsize=(8, 3.2), dpi=100)
        if points:
            xs = [datetime.fromtimestamp(t / 1000, timezone.utc) for t, _ in points]
            ys = [v for _, v in points]
            if step:
                ax.step(xs, ys, where="post")
            else:
                ax.plot(xs, ys, marker=".", linewidth=1)
            ax.xaxis.set_major_formatter(DateFormatter("%H:%M:%S"))
        else:
            ax.text(0.5, 0.5, "no rows yet", ha="center", transform=ax.transAxes)
        ax.axhline(0, color="#bbb", linewidth=0.8, linestyle="--")
        ax.set_title(f"{label}: {ylabel}")
        ax.set_xlabel("UTC")
        fig.tight_layout()
        target = out / f"{label}_{kind}.png"
        fig.savefig(target)
        plt.close(fig)
        print(f"{target}: {len(points)} point(s)")
    return 2
