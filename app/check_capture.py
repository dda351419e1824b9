"""Check the bot's book code against a real capture: `python -m app.check_capture FILE [FILE...]`.

Every line goes through the bot's own path: parse_message -> DepthSync -> OrderBook. The REST
snapshot line in the file plays the snapshot (diffs recorded before it are the buffer, as in the
procedure). Binance's own `bookTicker` is the ground truth: whenever a ticker's update id `u`
equals the `u` of the last diff applied to our book, both describe the same update, so best bid
and ask (price and quantity) must agree. A ticker that arrives before the diff carrying its `u`
is held until that diff is applied. Exit code 1 on any mismatch, resync or unreadable line.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from arbitrage.book import DepthSync
from arbitrage.bookcheck import SHOW, CheckCounts, TickerCheck, ticker_text
from arbitrage.capture import iter_capture
from arbitrage.exchanges.streams import StreamParseError, parse_message, parse_snapshot
from arbitrage.models import COINM, SPOT, BookTicker, DepthDiff

log = logging.getLogger("arbitrage.check_capture")



@dataclass
class SymbolReport:
    symbol: str
    rule: str
    diffs: int = 0                 # depthUpdate messages seen
    applied: int = 0               # diffs applied to the book
    resyncs: int = 0
    snapshots: int = 0
    tickers: CheckCounts = field(default_factory=CheckCounts)
    resync_reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.tickers.mismatches == 0 and self.resyncs == 0 and self.applied > 0


class _SymbolCheck:
    def __init__(self, symbol: str, rule: str) -> None:
        self.sync = DepthSync(symbol, rule)
        self.check = TickerCheck(self.sync)
        self.report = SymbolReport(symbol, rule)

    def on_diff(self, diff: DepthDiff) -> None:
        self.report.diffs += 1
        self.sync.on_diff(diff)  # no live REST here: a requested refetch shows up as a resync
        self.note_resync()
        self.check.after_diff()

    def note_resync(self) -> None:
        if self.sync.resyncs != self.report.resyncs:
            self.report.resyncs = self.sync.resyncs
            self.report.resync_reasons.append(str(self.sync.last_resync_reason))

    def finish(self) -> SymbolReport:
        self.report.tickers = self.check.finish()
        self.report.applied = self.sync.applied
        return self.report


def _on_snapshot_line(path: Path, raw: str, recv_ns: int, checks: dict[str, _SymbolCheck],
                      errors: list[str]) -> None:
    try:
        body = json.loads(raw)
        symbol = body.get("symbol")  # spot bodies name no symbol: use the file's only depth symbol
        if symbol is None and len(checks) == 1:
            symbol = next(iter(checks))
        if symbol not in checks:
            errors.append(f"{path}: snapshot for unknown symbol {symbol!r} (before any diff?)")
            return
        snapshot = parse_snapshot(body, symbol, recv_ns)
    except (ValueError, AttributeError) as exc:  # StreamParseError and JSONDecodeError included
        errors.append(f"{path}: unreadable snapshot ({exc}): {raw[:120]!r}")
        return
    check = checks[symbol]
    check.report.snapshots += 1
    check.sync.on_snapshot(snapshot)
    check.note_resync()


def _check_file(path: Path, reports: dict[str, SymbolReport], errors: list[str]) -> None:
    checks: dict[str, _SymbolCheck] = {}
    for recv_ns, raw in iter_capture(path):
        if raw.startswith('{"lastUpdateId"'):
            _on_snapshot_line(path, raw, recv_ns, checks, errors)
            continue
        try:
            event = parse_message(raw, recv_ns)
        except StreamParseError as exc:
            errors.append(f"{path}: {exc}")
            continue
        if isinstance(event, DepthDiff):
            check = checks.get(event.symbol)
            if check is None:
                rule = SPOT if event.prev_final_id is None else COINM  # only COIN-M sends `pu`
                check = checks[event.symbol] = _SymbolCheck(event.symbol, rule)
            check.on_diff(event)
        elif isinstance(event, BookTicker) and event.symbol in checks:
            checks[event.symbol].check.on_ticker(event)
    for symbol, check in checks.items():
        key = symbol if symbol not in reports else f"{symbol} ({path.name})"
        reports[key] = check.finish()


def check_capture(paths: list[str | Path], errors: list[str] | None = None) -> dict[str, SymbolReport]:
    """Replay each capture through the bot's book path; one report per symbol. Unreadable lines
    go to `errors` when given."""
    reports: dict[str, SymbolReport] = {}
    errs = errors if errors is not None else []
    for path in paths:
        _check_file(Path(path), reports, errs)
    return reports


def _print(reports: dict[str, SymbolReport], errors: list[str]) -> None:
    for name, r in reports.items():
        print(f"{name} [{r.rule}]: diffs {r.diffs}, applied {r.applied}, snapshots {r.snapshots}, "
              f"resyncs {r.resyncs}, {ticker_text(r.tickers)} -> {'OK' if r.ok else 'FAIL'}")
        for line in r.resync_reasons[:SHOW]:
            print(f"  resync: {line}")
        for line in r.tickers.first_mismatches:
            print(f"  mismatch: {line}")
    for line in errors[:SHOW]:
        print(f"  unreadable: {line}")
    if errors:
        print(f"unreadable lines: {len(errors)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.check_capture", description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", help="capture files (<ns> <json> per line, .gz ok)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    errors: list[str] = []
    reports = check_capture(args.files, errors)
    _print(reports, errors)
    if not reports:
        print("no depth diffs found")
        return 1
    return 0 if all(r.ok for r in reports.values()) and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
