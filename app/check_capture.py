"""Check the bot's book code against a real capture: `python -m app.check_capture FILE [FILE...]`.

Every line goes through the bot's own path: parse_message -> DepthSync -> OrderBook. The REST
snapshot line in the file plays the snapshot (diffs recorded before it are the buffer, as in the
procedure). Binance's own `bookTicker` is the ground truth: whenever a ticker's update id `u`
equals the `u` of the last diff applied to our book, both describe the same update, so best bid
and ask (price and quantity) must agree. A ticker that arrives before the diff carrying its `u`
is held until that diff is applied. Several files are one recording merged by receive time (as
the local exchange replays them): the next day's capture continues the previous day's book.
Exit code 1 on any mismatch, resync or unreadable line; 2 when a file is missing.
"""
from __future__ import annotations

import argparse
import heapq
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from arbitrage.marketdata.book import DepthSync
from arbitrage.marketdata.bookcheck import SHOW, CheckCounts, TickerCheck, ticker_text
from arbitrage.marketdata.capture import iter_capture
from arbitrage.exchanges.streams import StreamParseError, parse_message, parse_snapshot
from arbitrage.models import COINM, SPOT, BookTicker, DepthDiff

log = logging.getLogger("arbitrage.check_capture")

EXIT_USAGE = 2     # a file that is not there: nothing was checked


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
                      file_symbols: set[str], errors: list[str]) -> None:
    try:
        body = json.loads(raw)
        symbol = body.get("symbol")  # spot bodies name no symbol: use the file's only depth symbol
        if symbol is None and len(file_symbols) == 1:
            symbol = next(iter(file_symbols))
        if symbol not in checks:
            errors.append(f"{path}: snapshot for unknown symbol {symbol!r} (before any diff?)")
            return
        snapshot = parse_snapshot(body, symbol, recv_ns)
    except (ValueError, AttributeError) as exc:  # StreamParseError and JSONDecodeError included
        errors.append(f"{path}: unreadable snapshot ({exc}): {raw[:120]!r}")
        return
    check = checks[symbol]
    check.report.snapshots += 1
    check.sync.on_snapshot(snapshot)   # a synced book ignores it, as a live client would
    check.note_resync()


def _lines(paths: list[Path]):
    """(recv_ns, file index, raw) of every file, merged by receive time as the local exchange's
    replay merges them; equal times keep the files' order."""
    return heapq.merge(*(_tagged(index, path) for index, path in enumerate(paths)),
                       key=lambda line: line[0])


def _tagged(index: int, path: Path):
    for recv_ns, raw in iter_capture(path):
        yield recv_ns, index, raw


def check_capture(paths: list[str | Path], errors: list[str] | None = None) -> dict[str, SymbolReport]:
    """Replay the captures through the bot's book path; one report per symbol. The files are one
    recording, merged by receive time as the local exchange replays them: a symbol's book carries
    on from one file into the next, so a day's capture followed by the next day's (no snapshot of
    its own, update ids going on) checks as one. Unreadable lines go to `errors` when given."""
    errs = errors if errors is not None else []
    files = [Path(p) for p in paths]
    checks: dict[str, _SymbolCheck] = {}
    file_symbols: list[set[str]] = [set() for _ in files]   # depth symbols seen in each file
    for recv_ns, index, raw in _lines(files):
        if raw.startswith('{"lastUpdateId"'):
            _on_snapshot_line(files[index], raw, recv_ns, checks, file_symbols[index], errs)
            continue
        try:
            event = parse_message(raw, recv_ns)
        except StreamParseError as exc:
            errs.append(f"{files[index]}: {exc}")
            continue
        if isinstance(event, DepthDiff):
            check = checks.get(event.symbol)
            if check is None:
                rule = SPOT if event.prev_final_id is None else COINM  # only COIN-M sends `pu`
                check = checks[event.symbol] = _SymbolCheck(event.symbol, rule)
            file_symbols[index].add(event.symbol)
            check.on_diff(event)
        elif isinstance(event, BookTicker) and event.symbol in checks:
            checks[event.symbol].check.on_ticker(event)
    return {symbol: check.finish() for symbol, check in checks.items()}


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
    missing = [f for f in args.files if not Path(f).is_file()]
    for f in missing:
        print(f"error: {f}: no such file (expected a capture file: <ns> <json> per line, .gz ok)",
              file=sys.stderr)
    if missing:
        return EXIT_USAGE
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
