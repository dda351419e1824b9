"""The real Binance captures, replayed by a standalone local exchange (`python -m arbitrage.sim`, its
own process), into the real bot with VERIFY_BOOKS: both books must stay in sync for the whole file
(no resync) and agree with every Binance bookTicker that describes the same update id.

The run lasts as long as this machine needs: the test waits for the end of the recording and for
the bot's books to reach the exchange's last update, never for a fixed time."""
from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import requests

from tests.conftest import CM_CAPTURE, REPO, SPOT_CAPTURE, needs_captures, wait_for
from tests.harness import PERP, SPOT, BotRun


def start_sim(speed: str) -> tuple[subprocess.Popen, SimpleNamespace]:
    proc = subprocess.Popen([sys.executable, "-m", "arbitrage.sim", "--source", "replay", "--replay",
                             str(SPOT_CAPTURE), str(CM_CAPTURE), "--speed", speed],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    rest = None
    for line in proc.stdout:
        if line.startswith("REST"):
            rest = line.split()[1]
            break
    assert rest, "the local exchange did not print its address"
    info = requests.get(f"{rest}/sim/info", timeout=10).json()
    return proc, SimpleNamespace(rest_url=info["rest"], ws_url=info["ws"], api_key=info["api_key"],
                                 api_secret=info["api_secret"])


@needs_captures
def test_real_captures_through_the_local_exchange_keep_the_books_in_sync():
    proc, sim = start_sim("15")
    try:
        run = BotRun(sim, "--verify-books", "--enter-bps", "500", "--stop-bps", "600")  # watch only
        info = lambda: requests.get(f"{sim.rest_url}/sim/info", timeout=10).json()  # noqa: E731
        wait_for(lambda: info()["replay_finished"], timeout=300, interval=0.5,
                 what="the end of the recording")
        last = {s: requests.get(f"{sim.rest_url}{path}", params={"symbol": s, "limit": 5},
                                timeout=10).json()["lastUpdateId"]
                for s, path in ((SPOT, "/api/v3/depth"), (PERP, "/dapi/v1/depth"))}
        wait_for(lambda: all(run.sync_of(s).book.last_update_id == last[s] for s in last),
                 timeout=120, what="the bot's books to reach the last recorded update")
        run.close()
        md = run.md
        assert md.spot.resyncs == 0 and md.perp.resyncs == 0, (md.spot.last_resync_reason,
                                                                md.perp.last_resync_reason)
        assert md.counters.diffs > 25_000            # the whole file, not a piece of it
        for symbol, check in md.checks.items():
            assert check.counts.compared >= 300, (symbol, check.counts)
            assert check.counts.mismatches == 0, check.counts.first_mismatches
    finally:
        proc.terminate()
        proc.wait(timeout=10)
