"""trades_log.csv: ledger rows appended one by one, each flushed and fsynced before the next.

A write that fails (read-only file or folder, disk full, ...) must not lose the row: the row waits
in memory and is written, in order, on the next append or `retry()`; `error` says why meanwhile
(the engine takes no new entry while it is set, an open trade is still managed). The failure is
logged once per streak (file name, rows waiting) and the recovery once. Rows still waiting when
the program ends go to a fallback file (arbitrage/persistence/unsaved.py).
"""
from __future__ import annotations

import csv
import io
import logging
import os
import threading
from collections import deque
from decimal import Decimal, InvalidOperation
from pathlib import Path

from arbitrage.accounting.ledger import (COLUMNS, DECIMAL_COLUMNS, FUNDING, LEGACY_COLUMNS, LedgerRow, iso_utc,
                                         plain)

log = logging.getLogger("arbitrage.tradelog")   # the name it had before the move to accounting/

HEADER = ",".join(COLUMNS)
MAX_PENDING = 100_000           # rows waiting in memory; far more than days of trading produce

_CHECK = "<check the header first>"     # queue marker (identity-compared)

RowKey = tuple[str | None, str, str | None, str | None, int | None, str | None]


class TradeLogError(Exception):
    """The file cannot be used as this bot's trade log (e.g. another header)."""


def format_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return plain(value)
    return str(value)


def format_line(row: LedgerRow) -> str:
    """One CSV line; ts_iso is always the UTC form of ts_ms, e.g. 2024-08-08T23:55:00.123Z."""
    cells = [format_cell(v) for v in row.cells()]
    cells[COLUMNS.index("ts_iso")] = iso_utc(row.ts_ms)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()


def parse_cells(cells: list[str], columns: tuple[str, ...] = COLUMNS) -> LedgerRow:
    """One CSV record back into a row; ValueError says which cell is wrong. `columns`: the file's
    (LEGACY_COLUMNS for an 18-column file: its rows have no pair cells, see LedgerRow.pair)."""
    if len(cells) != len(columns):
        raise ValueError(f"{len(cells)} cells, expected {len(columns)}")
    values: dict = {}
    for name, cell in zip(columns, cells):
        if cell == "":
            values[name] = None
        elif name in DECIMAL_COLUMNS:
            try:
                values[name] = Decimal(cell)
            except InvalidOperation:
                raise ValueError(f"{name}: {cell!r} is not a number") from None
            if not values[name].is_finite():
                raise ValueError(f"{name}: {cell!r} is not a finite number")
        elif name == "ts_ms":
            if not cell.isdigit():
                raise ValueError(f"ts_ms: {cell!r} is not a time in ms")
            values[name] = int(cell)
        else:
            values[name] = cell
    if values["ts_ms"] is None or values["event"] is None:
        raise ValueError("ts_ms and event are required")
    return LedgerRow(**values)      # usdt_fee_btc stays None: ledger.usdt_fee_part derives it


def read_rows(path: str | os.PathLike, errors: list[tuple[int, str]] | None = None) -> list[LedgerRow]:
    """The rows of a trade log. A malformed line raises TradeLogError, or, when `errors` is given,
    is appended there as (line number, reason) and skipped."""
    path = Path(path)
    rows: list[LedgerRow] = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            return rows
        if tuple(header) not in (COLUMNS, LEGACY_COLUMNS):     # an 18-column file is read too
            raise TradeLogError(_header_problem(path, header))
        for cells in reader:
            if not cells:
                continue
            try:
                rows.append(parse_cells(cells, tuple(header)))
            except ValueError as exc:
                if errors is None:
                    raise TradeLogError(f"{path}: line {reader.line_num}: {exc}") from None
                errors.append((reader.line_num, str(exc)))
    return rows


def row_key(row: LedgerRow) -> RowKey:
    """What identifies a row across restarts (the time only for funding rows, which have no ids)."""
    return (row.trade_id, row.event, row.spot_orderId, row.cm_orderId,
            row.ts_ms if row.event == FUNDING else None,
            row.coinm_symbol if row.event == FUNDING else None)   # every pair is paid at 00:00


def _header_problem(path: Path, header: list[str]) -> str:
    if tuple(header) == LEGACY_COLUMNS:
        # Not migrated: its rows name no pair, and an earlier version run with PAIR=ETH wrote ETH
        # amounts there too; only the user knows. Appending would mix rows with and without a pair.
        return (f"{path}: written by an earlier version (18 columns, no pair columns); this version "
                f"appends {', '.join(COLUMNS[len(LEGACY_COLUMNS):])} to every row and does not "
                f"append to it; move it away (e.g. rename it to {path.stem}.old{path.suffix}; "
                f"python -m app.report still reads it, as BTCUSDT / BTCUSD_PERP) or set TRADES_LOG "
                f"to another file")
    missing = [c for c in COLUMNS if c not in header]
    extra = [c for c in header if c not in COLUMNS]
    what = "; ".join(filter(None, [
        f"missing {', '.join(missing)}" if missing else "",
        f"unexpected {', '.join(extra)}" if extra else "",
        "" if missing or extra else "columns in another order"]))
    return (f"{path}: header differs from this version's {len(COLUMNS)} columns ({what}); "
            f"move the file away (e.g. rename it to {path.stem}.old{path.suffix}) or set TRADES_LOG "
            f"to another file")


class TradeLog:
    """Appends ledger rows to one CSV file; see the module docstring for failure handling."""

    def __init__(self, path: str | os.PathLike, max_pending: int = MAX_PENDING) -> None:
        self.path = Path(path)
        self.max_pending = max_pending
        self.written = 0
        self._lock = threading.Lock()
        self._queue: deque[tuple[str, LedgerRow | None]] = deque()   # header has no row
        self._failing = False
        self.error: str | None = None   # why the last write failed, while rows wait because of it
        self._waiting = 0           # rows (not header/newline fixes) in the queue
        self._prepare()

    @property
    def pending(self) -> int:
        """Rows waiting to be written (the header, if it waits too, is not counted)."""
        return self._waiting

    def _prepare(self) -> None:
        """Check the header now; if the file cannot be read, check it before the first write."""
        try:
            self._queue.extendleft(reversed(self._check_file()))
        except OSError as exc:
            log.error("trades log %s: cannot be read (%s); rows will wait in memory", self.path, exc)
            self._failing = True
            self._queue.appendleft((_CHECK, None))

    def _check_file(self) -> list[tuple[str, None]]:
        """What must be written before the next row: the header for a new or empty file, a newline
        after a line cut short by a crash. Another header raises TradeLogError."""
        size = self.path.stat().st_size if self.path.exists() else 0
        if size == 0:
            return [(HEADER + "\n", None)]
        with self.path.open("rb") as fh:
            first = fh.readline().decode("utf-8", "replace").rstrip("\r\n")
            fh.seek(-1, os.SEEK_END)
            last = fh.read(1)
        if first != HEADER:
            raise TradeLogError(_header_problem(self.path, next(csv.reader([first]), [])))
        if last != b"\n":
            log.warning("trades log %s: the last line is incomplete (a crash during a write?); it is "
                        "left as is and the next row starts on a new line", self.path)
            return [("\n", None)]
        return []

    def check_writable(self) -> None:
        """At start, before any trade: the file opened for appending (created if new) and its
        header written now, so a ledger that cannot take rows stops the start instead of holding
        a whole run's rows in memory. Raises TradeLogError."""
        with self._lock:
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
            except OSError as exc:
                raise TradeLogError(f"TRADES_LOG: {self.path} cannot be written "
                                    f"({exc.strerror or exc})") from None
            if not self._drain():
                raise TradeLogError(f"TRADES_LOG: {self.path} cannot be written ({self.error})")

    def append(self, row: LedgerRow) -> bool:
        """Queue the row and write everything waiting; True when nothing waits any more."""
        with self._lock:
            if self.pending >= self.max_pending:
                # Never silent: the row is in the log in full, ready to paste into the file.
                log.error("trades log %s: %d rows already waiting, this row is NOT kept; its line: %s",
                          self.path, self.pending, format_line(row).rstrip("\n"))
            else:
                self._queue.append((format_line(row), row))
                self._waiting += 1
            return self._drain()

    def retry(self) -> bool:
        with self._lock:
            return self._drain()

    def pending_rows(self) -> list[LedgerRow]:
        with self._lock:
            return [row for _, row in self._queue if row is not None]

    def keys(self) -> set[RowKey]:
        """Keys of the rows in the file and of the rows still waiting, so that a restart can skip
        a row it already wrote. An unreadable file gives only the waiting ones (and a warning)."""
        keys = {row_key(r) for r in self.pending_rows()}
        try:
            if self.path.exists():
                keys |= {row_key(r) for r in read_rows(self.path, errors=[])}
        except (OSError, TradeLogError) as exc:
            log.warning("trades log %s: cannot read its rows (%s)", self.path, exc)
        return keys

    def _drain(self) -> bool:
        while self._queue:
            text, row = self._queue[0]
            try:
                if text is _CHECK:
                    prefix = self._check_file()     # the header check deferred by a failed read
                    self._queue.popleft()
                    self._queue.extendleft(reversed(prefix))
                    continue
                self._write(text)
            except (OSError, TradeLogError) as exc:
                self.error = f"{type(exc).__name__}: {exc}"[:200]
                if not self._failing:
                    log.error("trades log %s: write failed (%s); %d rows waiting in memory, retried "
                              "on the next row; no new entries until it is written (an open "
                              "trade is still managed)", self.path, exc, self.pending)
                    self._failing = True
                return False
            self._queue.popleft()
            if row is not None:
                self.written += 1
                self._waiting -= 1
        if self._failing:
            log.info("trades log %s: writable again, every waiting row written", self.path)
            self._failing = False
        self.error = None
        return True

    def _write(self, text: str) -> None:
        """One line, flushed and fsynced; a partial write is cut back so a retry cannot double it."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            start = os.fstat(fd).st_size
            try:
                data = text.encode("utf-8")
                while data:
                    data = data[os.write(fd, data):]
                os.fsync(fd)
            except OSError:
                try:
                    os.ftruncate(fd, start)
                except OSError:
                    pass
                raise
        finally:
            os.close(fd)
