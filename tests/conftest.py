"""Shared test helpers: where the real captures live, and polling waits (never fixed sleeps)."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
import responses

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SHARED_DATA", REPO.parent / "shared" / "data"))
SPOT_CAPTURE = SHARED_DATA / "spot_btcusdt_20240808.gz"
CM_CAPTURE = SHARED_DATA / "cm_btcusd_perp_20240808.gz"


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.02, what: str = "condition"):
    """Poll until predicate() is truthy; fail with `what` after a generous timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


needs_captures = pytest.mark.skipif(not (SPOT_CAPTURE.exists() and CM_CAPTURE.exists()),
                                    reason=f"real captures not found in {SHARED_DATA}")


@pytest.fixture
def rsps():
    """`responses` for the REST clients; a test may leave some registered answers unused. Files
    that want every answer used define their own."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture(autouse=True)
def _no_bot_outlives_its_test():
    """A test that fails before closing its in-process bot (tests/harness.py BotRun) would leave
    it running into the next tests: stopped here, whatever happened."""
    yield
    harness = sys.modules.get("tests.harness")
    if harness is not None:
        harness.close_leftover_runs()

