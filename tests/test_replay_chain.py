"""A day's capture followed by the next day's (no snapshot of its own, update ids going on) is one
recording: `app.check_capture` and the local exchange's replay both chain them, and the result is
exactly the one of the unsplit capture."""
from __future__ import annotations

import gzip
import json
import re
import threading

import pytest

from app.check_capture import check_capture
from arbitrage.sim.market import Market
from arbitrage.sim.replay import ReplaySource
from tests.capture_maker import Capture, make_captures, split_capture
from tests.conftest import CM_CAPTURE, SPOT_CAPTURE, needs_captures


@pytest.fixture
def split(tmp_path):
    """The synthetic captures whole, and each cut in two files (the second without a snapshot)."""
    spot, cm = make_captures(tmp_path, seconds=20)
    parts = [tmp_path / "spot_day1.gz", tmp_path / "spot_day2.gz",
             tmp_path / "cm_day1.txt", tmp_path / "cm_day2.txt"]
    split_capture(spot, spot.diff_ids[len(spot.diff_ids) // 2], parts[0], parts[1])
    split_capture(cm, cm.diff_ids[len(cm.diff_ids) // 3], parts[2], parts[3])
    return (spot, cm), parts


def test_check_capture_chains_the_next_days_file(split):
    (spot, cm), parts = split
    whole = check_capture([spot.path, cm.path])
    assert all(r.ok and r.resyncs == 0 for r in whole.values())
    assert whole["BTCUSDT"].diffs == len(spot.diff_ids) and whole["BTCUSDT"].tickers.compared > 100
    errors: list[str] = []
    chained = check_capture(parts, errors)
    assert errors == []
    assert chained == whole                     # every count, per symbol, under the symbol's name
    # one recording merged by receive time: the order the files are named in does not matter
    assert check_capture([parts[3], parts[1], parts[2], parts[0]]) == whole


def test_check_capture_reports_files_that_do_not_continue_each_other(split):
    (spot, _), parts = split
    lines = gzip.open(parts[1], "rt").readlines()
    first = next(i for i, line in enumerate(lines) if "depthUpdate" in line)
    with gzip.open(parts[1], "wt") as fh:           # the next day's first diff went missing
        fh.writelines(lines[:first] + lines[first + 1:])
    report = check_capture(parts[:2])["BTCUSDT"]
    assert report.resyncs == 1 and "gap" in report.resync_reasons[0] and not report.ok


def replayed(files) -> tuple[list, dict, ReplaySource]:
    """What the local exchange's replay publishes from `files`, played as fast as it goes: the
    events, each book's (bid, ask, last update id) at the end, and the source."""
    market = Market()
    source = ReplaySource(files, speed=1e9)
    source.prepare(market)
    events: list[tuple[str, str, str]] = []
    market.add_listener(lambda symbol, channel, payload:
                        events.append((symbol, channel, json.dumps(payload, sort_keys=True))))
    source.run(market, threading.Event())
    return events, {s: market.top(s) for s in market.symbols}, source


def test_the_local_exchange_replays_the_split_exactly_as_the_whole(split):
    (spot, cm), parts = split
    events, tops, whole = replayed([spot.path, cm.path])
    depth = [e for e in events if e[1] == "depth"]
    # playback starts when both books are rebuilt (the later snapshot), and goes to the last diff
    assert json.loads(depth[-1][2])["u"] in (spot.diff_ids[-1], cm.diff_ids[-1])
    assert len(depth) > 0.9 * (len(spot.diff_ids) + len(cm.diff_ids))
    assert tops["BTCUSDT"][2] == spot.diff_ids[-1] and tops["BTCUSD_PERP"][2] == cm.diff_ids[-1]
    chained_events, chained_tops, chained = replayed(parts)
    assert chained_events == events            # from the first day's snapshot on, not the second's start
    assert chained_tops == tops
    # the end of the recording is an explicit condition, at the recording's own time
    assert whole.ended.is_set() and chained.ended.is_set()
    assert whole.ended_ms == chained.ended_ms == max(spot.last_event_ms, cm.last_event_ms)


def test_the_next_days_file_alone_is_refused_with_the_reason(split):
    _, parts = split
    source = ReplaySource([parts[1]])
    with pytest.raises(ValueError, match=r"no depth snapshot for BTCUSDT in spot_day2.gz"):
        source.prepare(Market())


def _real_capture(path, folder) -> Capture:
    lines = gzip.open(path, "rt", encoding="utf-8").readlines()
    ids = [int(m.group(1)) for line in lines if "depthUpdate" in line
           for m in [re.search(r'"u":(\d+),', line)]]
    return Capture(folder / path.name, lines, 0, ids)


@needs_captures
def test_real_captures_split_in_two_days_check_as_the_whole(tmp_path):
    parts = []
    for path, name in ((SPOT_CAPTURE, "spot"), (CM_CAPTURE, "cm")):
        capture = _real_capture(path, tmp_path)
        day1, day2 = tmp_path / f"{name}_1.gz", tmp_path / f"{name}_2.gz"
        split_capture(capture, capture.diff_ids[len(capture.diff_ids) // 2], day1, day2)
        parts += [day1, day2]
    whole = check_capture([SPOT_CAPTURE, CM_CAPTURE])
    assert check_capture(parts) == whole
    assert whole["BTCUSDT"].ok and whole["BTCUSD_PERP"].ok
