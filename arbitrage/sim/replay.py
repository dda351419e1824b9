"""Replay of recorded Binance market data (format: data/SOURCES.md).

Each line is `<local receive ns> <raw JSON>`: a combined-stream envelope for WebSocket messages or
a bare REST depth body for a snapshot. The exchange rebuilds each book as a careful client would
(diffs recorded before the snapshot are buffered, then applied per §5.2 / §5.4), then plays the
recorded events of all files, merged by receive time, at recorded speed × `speed`. Marks: a capture
that carries Binance's markPrice stream (a `--record` file does: the bot subscribes to it) plays
its own marks, and funding settles at the times (`T`) and rates (`r`) they announce; a capture
without one (the shared captures) gets a mark derived from the perp mid once per recorded second,
with funding on the SIM_FUNDING_INTERVAL schedule.

Files chain: a day's capture followed by the next day's (no snapshot of its own, update ids going on
from the first) plays as one recording; playback starts as soon as every replayed symbol has a book.
When the last record is played, `ended` is set and `ended_ms` holds the recording's exchange time:
the streams fall silent and the books stay as they are, which a watcher turns into a clean stop.
"""
from __future__ import annotations

import gzip
import heapq
import io
import re

import orjson
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Iterator, Sequence

from arbitrage.sim.book import SimBook
from arbitrage.sim.market import DEPTH, MARK, TICKER, TRADE, Market
from arbitrage.sim.recorded import Recorded
from arbitrage.sim.marks import MarkState, funding_rate, next_funding_ms
from arbitrage.sim.symbols import SPOT_OF, SYMBOLS

log = logging.getLogger("arbitrage.sim.replay")


class ReplayError(ValueError):
    """The capture files cannot be replayed (no depth, no snapshot for a symbol): a setting problem."""

SNAPSHOT = "snapshot"
_MAX_BUFFERED = 50_000     # diffs held for a symbol whose snapshot has not shown up
_MARK_PEEK_LINES = 20_000  # how far into each file a mark stream is looked for


@dataclass(slots=True)
class Record:
    ns: int
    kind: str           # DEPTH, TICKER, TRADE, MARK or SNAPSHOT
    symbol: str
    payload: dict       # a stream message's `data`: a Recorded dict (its wire text kept)


def _open(path: Path) -> IO[str]:
    with open(path, "rb") as probe:
        gz = probe.read(2) == b"\x1f\x8b"
    if gz:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, "r", encoding="utf-8")


def read_records(path: str | Path, warn: bool = True,
                 skip_streams: tuple[str, ...] = ()) -> Iterator[Record]:
    """The usable records of one capture file, in file order; bad lines are skipped (and logged
    with `warn`). A line whose head names one of `skip_streams` (e.g. "@bookTicker") is passed
    over before it is parsed (a backtest needs no stream the bot did not subscribe to)."""
    path = Path(path)
    last_symbol = ""
    pending: list[tuple[int, dict]] = []       # snapshots whose symbol is not known yet (spot)
    bad = 0
    skip = re.compile("|".join(re.escape(name) for name in skip_streams)) if skip_streams else None
    with _open(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if skip is not None and skip.search(line, 0, 90):
                continue
            try:
                head, _, body = line.strip().partition(" ")
                ns, msg = int(head), orjson.loads(body)
            except ValueError:
                bad += 1
                if bad == 1 and warn and line.strip():
                    log.warning("[REPLAY] %s:%d unreadable line skipped: %.80r", path.name, lineno, line)
                continue
            if not isinstance(msg, dict):
                continue
            if "lastUpdateId" in msg:
                symbol = msg.get("symbol") or last_symbol
                if symbol:
                    yield Record(ns, SNAPSHOT, symbol, msg)
                else:
                    pending.append((ns, msg))
                continue
            data, stream = msg.get("data"), str(msg.get("stream", ""))
            if not isinstance(data, dict) or "s" not in data:
                continue
            kind = (DEPTH if "@depth" in stream and data.get("e") == "depthUpdate"
                    else TICKER if stream.endswith("@bookTicker")
                    else TRADE if stream.endswith("@trade")
                    else MARK if "@markPrice" in stream and data.get("e") == "markPriceUpdate"
                    else None)
            if kind is None:
                continue
            if kind == DEPTH:
                last_symbol = data["s"]
                for snap_ns, snap in pending:   # a spot snapshot names no symbol: the file's does
                    yield Record(snap_ns, SNAPSHOT, last_symbol, snap)
                pending.clear()
            payload = Recorded(data)        # a C copy; an __init__ would cost more than it
            payload.wire = body
            yield Record(ns, kind, data["s"], payload)


class ReplaySource:
    name = "replay"

    def __init__(self, files: Sequence[str | Path], speed: float = 1.0,
                 symbols: Sequence[str] | None = None, funding_interval_sec: float = 8 * 3600,
                 skip_streams: tuple[str, ...] = ()) -> None:
        """`skip_streams`: see read_records; with `symbols`, those are the books rebuilt."""
        if not files:
            raise ValueError("replay needs at least one capture file")
        self.files = [Path(f) for f in files]
        self.speed = max(speed, 1e-3)
        self.only = set(symbols) if symbols else None
        self.funding_interval_sec = funding_interval_sec
        self.skip_streams = skip_streams
        self.exchange_ms = 0          # the recording's exchange clock (latest `E` seen)
        self.t0_ns = 0
        self.finished = threading.Event()     # the playback thread is done, for whatever reason
        self.ended = threading.Event()        # ...because the recording is over (or broke off)
        self.ended_ms: int | None = None      # the recording's exchange time at its end
        self._records: Iterator[Record] = iter(())
        self._premium: dict[str, float] = {}
        self._mark_sec = 0
        self._skipped: set[str] = set()
        self.recorded_marks: set[str] = set()  # perps whose marks come from the capture itself

    # -- rebuild the books -------------------------------------------------------------------
    def prepare(self, market: Market) -> None:
        # every symbol with depth anywhere in the files needs its book before playback starts
        # (one file may hold both markets, and one market's snapshot may come before the other's
        # first diff)
        wanted = set(self.only) if self.only and self.skip_streams else {
            rec.symbol for i, f in enumerate(self.files)
            for _, rec in self._tagged(i, f, warn=False) if rec.kind == DEPTH}
        streams = [self._tagged(i, f) for i, f in enumerate(self.files)]
        merged = heapq.merge(*streams, key=lambda pair: pair[1].ns)
        buffered: dict[str, list[dict]] = {}
        books: dict[str, SimBook] = {}
        for _, rec in merged:
            self._clock(rec)
            if rec.kind == SNAPSHOT and rec.symbol not in books:
                books[rec.symbol] = self._rebuild(rec, buffered.pop(rec.symbol, []))
            elif rec.kind == DEPTH:
                if rec.symbol in books:
                    _apply_if_new(books[rec.symbol], rec.payload)
                else:
                    buf = buffered.setdefault(rec.symbol, [])
                    buf.append(rec.payload)
                    if len(buf) > _MAX_BUFFERED:
                        raise ReplayError(f"no depth snapshot for {rec.symbol} in the first "
                                          f"{_MAX_BUFFERED} of its diffs in {self._names()}")
            # a later file may continue an earlier one (the next day): it starts with the stream
            if wanted and wanted <= books.keys() and not buffered:
                self.t0_ns = rec.ns
                break
        else:
            if not wanted:
                raise ReplayError(f"no depth updates of a listed symbol in {self._names()}")
            missing = sorted(wanted - books.keys())
            raise ReplayError(f"no depth snapshot for {', '.join(missing)} in {self._names()} "
                              f"(each replayed symbol needs one REST depth snapshot line; a file "
                              f"without one can only follow a file that has it)")
        self._records = (rec for _, rec in merged)
        market.clock_ms = lambda: self.exchange_ms
        for book in books.values():
            market.add_book(book)
        first = self._first_marks(books)
        self.recorded_marks = set(first)
        # a recorded mark stream starts up to a second after the books: its first mark stands
        # for the start (deriving one would announce a funding time of another schedule)
        for payload in first.values():
            market.set_mark(mark_state(payload), publish=False)
        self._marks(market, publish=False)
        log.info("[REPLAY] books rebuilt for %s from %s", sorted(books), [f.name for f in self.files])

    def _first_marks(self, books: dict[str, SimBook]) -> dict[str, dict]:
        """The first recorded markPriceUpdate of each replayed perpetual, when the files carry
        the mark stream (looked for in their first lines; skipped streams do not count)."""
        if any("@markPrice" in name for name in self.skip_streams):
            return {}
        found: dict[str, dict] = {}
        perps = {sym for sym, book in books.items() if not book.spec.is_spot}
        for path in self.files:
            with _open(path) as fh:
                for i, line in enumerate(fh):
                    if i >= _MARK_PEEK_LINES or found.keys() >= perps:
                        break
                    if "@markPrice" not in line[:90]:
                        continue
                    try:
                        data = orjson.loads(line.partition(" ")[2]).get("data", {})
                    except (ValueError, AttributeError):
                        continue
                    if data.get("e") == "markPriceUpdate" and data.get("s") in perps:
                        found.setdefault(data["s"], data)
        return found

    def _names(self) -> str:
        return ", ".join(f.name for f in self.files)

    def _tagged(self, index: int, path: Path, warn: bool = True) -> Iterator[tuple[int, Record]]:
        for rec in read_records(path, warn, self.skip_streams):
            if rec.symbol not in SYMBOLS or (self.only and rec.symbol not in self.only):
                if rec.symbol not in self._skipped:
                    self._skipped.add(rec.symbol)
                    log.info("[REPLAY] %s in %s is not listed here; skipped", rec.symbol, path.name)
                continue
            yield index, rec

    def _rebuild(self, snap: Record, buffered: list[dict]) -> SimBook:
        book = SimBook(SYMBOLS[snap.symbol])
        parse = lambda side: [(float(p), float(q)) for p, q in snap.payload.get(side, ())]  # noqa: E731
        book.load(parse("bids"), parse("asks"), int(snap.payload["lastUpdateId"]))
        book.last_event_ms = int(snap.payload.get("E", 0))
        book.last_trans_ms = int(snap.payload.get("T", 0))
        last_id, first = book.last_update_id, True
        for event in buffered:
            if int(event["u"]) <= book.last_update_id:
                continue
            # spot: the first diff starts at most one past the snapshot; COIN-M: it spans the
            # snapshot's id, or follows the diff that ended exactly there (`pu`)
            bridged = (int(event["U"]) <= last_id + 1 if book.spec.is_spot
                       else int(event["U"]) <= last_id or event.get("pu") == last_id)
            if first and not bridged:
                log.warning("[REPLAY] %s: first diff after the snapshot (lastUpdateId %s) starts "
                            "at U=%s", snap.symbol, last_id, event["U"])
            first = False
            book.apply_recorded(event)
        return book

    # -- play --------------------------------------------------------------------------------
    def run(self, market: Market, stop: threading.Event) -> None:
        wall0 = time.monotonic()
        try:
            for rec in self._records:
                delay = wall0 + (rec.ns - self.t0_ns) / 1e9 / self.speed - time.monotonic()
                if delay > 0.0005 and stop.wait(delay):
                    return
                if stop.is_set():
                    return
                self._play(market, rec)
        except Exception:
            # nothing more will be played: for whoever watches, the recording is over here
            log.exception("[REPLAY] stopped on an unexpected error")
        finally:
            if not stop.is_set():
                self.ended_ms = self.exchange_ms
                self.ended.set()
            self.finished.set()
        # whoever runs the exchange reports the end (see LocalExchange.recording_ended)
        log.debug("[REPLAY] end of the recording at exchange time %s: streams stop, books stay as "
                  "they are", self.ended_ms)

    def _play(self, market: Market, rec: Record) -> None:
        self._clock(rec)
        second = rec.ns // 1_000_000_000
        if second > self._mark_sec:
            self._mark_sec = second
            self._marks(market, publish=True)
        with market.lock:
            book = market.books.get(rec.symbol)
            if book is None:
                return
            if rec.kind == DEPTH:
                if int(rec.payload["u"]) > book.last_update_id:   # older ones: already in the book
                    market.apply_recorded(rec.symbol, rec.payload)
            elif rec.kind == TRADE:
                market.public_trade(rec.symbol, rec.payload)
            elif rec.kind == TICKER:
                market.publish(rec.symbol, rec.kind, rec.payload)
            elif rec.kind == MARK and rec.symbol in self.recorded_marks:
                market.set_mark(mark_state(rec.payload))

    def _clock(self, rec: Record) -> None:
        event_ms = rec.payload.get("E")
        if isinstance(event_ms, int) and event_ms > self.exchange_ms:
            self.exchange_ms = event_ms
        elif not self.exchange_ms:
            self.exchange_ms = rec.ns // 1_000_000

    def _marks(self, market: Market, publish: bool) -> None:
        """Mark = perp mid; index = the matching spot mid when it is replayed too."""
        now = self.exchange_ms // 1000 * 1000
        with market.lock:
            for sym, book in market.books.items():
                # (a mid is a scan of the whole book: only the ones needed)
                if book.spec.is_spot or sym in self.recorded_marks:
                    continue
                mid = book.mid()
                if mid is None:
                    continue
                spot = market.books.get(SPOT_OF.get(sym, ""))
                index = (spot.mid() if spot else None) or mid
                premium = self._premium.get(sym, mid / index - 1)
                self._premium[sym] = premium + (mid / index - 1 - premium) / 60.0
                market.set_mark(MarkState(sym, book.spec.pair, mid, index,
                                          funding_rate(self._premium[sym]),
                                          next_funding_ms(now, self.funding_interval_sec), now),
                                publish=publish)


def mark_state(data: dict) -> MarkState:
    """A recorded markPriceUpdate (§6.2) as the exchange's mark: price, index, the announced
    funding rate and time."""
    symbol = data["s"]
    return MarkState(symbol, SYMBOLS[symbol].pair, float(data["p"]), float(data.get("i") or data["p"]),
                     float(data.get("r") or 0), int(data["T"]), int(data["E"]))


def iso_ms(ms: int) -> str:
    """An exchange time as people read it: 2024-08-08T23:59:59.123Z."""
    seconds, millis = divmod(ms, 1000)
    return f"{datetime.fromtimestamp(seconds, tz=timezone.utc):%Y-%m-%dT%H:%M:%S}.{millis:03d}Z"


def _apply_if_new(book: SimBook, event: dict) -> None:
    if int(event["u"]) > book.last_update_id:
        book.apply_recorded(event)
