"""The real Binance captures, replayed by the local exchange, into the real bot with VERIFY_BOOKS:
both books must stay in sync for the whole file (no resync) and agree with every Binance bookTicker
that describes the same update id."""
from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import CM_CAPTURE, REPO, SPOT_CAPTURE, needs_captures
from tests.test_app_watch import clean_env


@needs_captures
def test_real_captures_through_the_local_exchange_keep_the_books_in_sync():
    # 5.7 recorded minutes at 30x: about 12 s of replay, then the run ends.
    result = subprocess.run(
        [sys.executable, "-m", "app.main", "--venue", "sim", "--sim-source", "replay",
         "--sim-replay", f"{SPOT_CAPTURE},{CM_CAPTURE}", "--sim-speed", "30", "--verify-books",
         "--run-seconds", "16", "--status-interval", "4"],
        cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"\b0 resyncs \(spot 0, perp 0\)", out), out
    diffs = int(re.search(r"(\d+) depth diffs", out).group(1))
    assert diffs > 10_000, out
    for symbol in ("BTCUSDT", "BTCUSD_PERP"):
        m = re.search(rf"book check {symbol}: bookTickers (\d+), compared (\d+), mismatches (\d+)", out)
        assert m, out
        assert int(m.group(2)) >= 100 and int(m.group(3)) == 0, m.group(0)
    assert "[BOOKCHECK]" not in result.stderr
