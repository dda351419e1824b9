"""Funding from a history file: the settlements of `GET /dapi/v1/fundingRate`, played by the
local exchange instead of its own schedule (a backtest's `--funding-history FILE`).

The file is what Binance sends: a JSON array of {"symbol", "fundingTime", "fundingRate",
"markPrice"} (markPrice may be "" or absent); a CSV with those columns as its header is read
the same way. Only the rows of the perpetual being played are used.

How it plays: every mark the exchange publishes announces the file's next settlement after the
mark's time as its funding time (`T`) and rate (`r`), so the exchange settles exactly those
settlements, at those rates, with the first mark at or after each time (the desk's own rule,
arbitrage/sim/coinm_desk.py), at the market's mark (the file's markPrice belongs to the market
the file was taken from, not the one played). After the file's last settlement nothing is
announced and nothing settles. Settlements before the start are what the fundingRate endpoint
serves as history (the carry reads its last rates there).
"""
from __future__ import annotations

import bisect
import csv
import io
import json
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path

from arbitrage.sim.funding import FundingHistory
from arbitrage.sim.marks import MarkState

NEVER_MS = 2 ** 53              # the funding time announced after the file's last settlement
_COLUMNS = ("symbol", "fundingTime", "fundingRate")


class FundingFileError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settlement:
    time_ms: int
    rate: Decimal
    mark: Decimal | None


def read_funding_file(path: str | Path, symbol: str, flag: str = "--funding-history"
                      ) -> list[Settlement]:
    """`symbol`'s settlements in `path`, oldest first; one problem per line in the error."""
    where = f"{flag}: {path}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise FundingFileError([f"{where}: cannot read it ({exc.strerror or exc})"]) from None
    rows = _rows(text, where)
    problems: list[str] = []
    out: dict[int, Settlement] = {}
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict) or any(k not in row for k in _COLUMNS):
            problems.append(f"{where}: row {n} is not {{symbol, fundingTime, fundingRate, "
                            f"markPrice?}} as GET /dapi/v1/fundingRate sends: {str(row)[:80]}")
            continue
        if row["symbol"] != symbol:
            continue
        try:
            time_ms = int(row["fundingTime"])
            rate = Decimal(str(row["fundingRate"]))
            mark = Decimal(str(row["markPrice"])) if row.get("markPrice") not in (None, "") else None
            if not rate.is_finite() or (mark is not None and not mark > 0) or time_ms <= 0:
                raise InvalidOperation
        except (ValueError, InvalidOperation):
            problems.append(f"{where}: row {n}: fundingTime {row['fundingTime']!r}, fundingRate "
                            f"{row['fundingRate']!r}, markPrice {row.get('markPrice')!r} (expected "
                            f"ms since the epoch, a decimal rate, a price > 0 or empty)")
            continue
        if time_ms in out:
            problems.append(f"{where}: row {n}: a second settlement of {symbol} at {time_ms}")
            continue
        out[time_ms] = Settlement(time_ms, rate, mark)
    if not problems and not out:
        problems.append(f"{where}: no rows for {symbol} (expected the settlements of the "
                        f"perpetual being played)")
    if problems:
        raise FundingFileError(problems[:10])
    return [out[t] for t in sorted(out)]


def _rows(text: str, where: str) -> list:
    if text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except ValueError as exc:
            raise FundingFileError([f"{where}: not valid JSON ({exc})"]) from None
        return rows
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or any(k not in reader.fieldnames for k in _COLUMNS):
        raise FundingFileError([f"{where}: expected a JSON array as GET /dapi/v1/fundingRate "
                                f"sends, or a CSV with the columns symbol,fundingTime,"
                                f"fundingRate[,markPrice]"])
    return list(reader)


class FundingFile:
    """The announcer the exchange's marks pass through (`Market.announce`)."""

    def __init__(self, symbol: str, settlements: list[Settlement]) -> None:
        self.symbol = symbol
        self.settlements = settlements
        self._times = [s.time_ms for s in settlements]

    def announce(self, mark: MarkState) -> MarkState:
        if mark.symbol != self.symbol:
            return mark
        i = bisect.bisect_right(self._times, mark.event_ms)
        if i == len(self._times):
            return replace(mark, funding_rate=0.0, next_funding_ms=NEVER_MS)
        nxt = self.settlements[i]
        return replace(mark, funding_rate=float(nxt.rate), next_funding_ms=nxt.time_ms)

    def seed_history(self, history: FundingHistory, now_ms: int, fallback_mark: float) -> int:
        """The fundingRate endpoint's history: the file's settlements up to `now_ms` (replacing
        the exchange's own); how many."""
        history.reset(self.symbol)
        past = [s for s in self.settlements if s.time_ms <= now_ms]
        for s in past:
            history.add(self.symbol, s.time_ms, s.rate,
                        s.mark if s.mark is not None else Decimal(f"{fallback_mark:.8f}"))
        return len(past)

    def inside(self, start_ms: int, end_ms: int) -> int:
        return sum(1 for t in self._times if start_ms < t <= end_ms)
