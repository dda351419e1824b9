"""The real Binance captures (data/SOURCES.md) through the bot's book path: every comparable
bookTicker must agree with our book, with no resync. Skipped where the data is not present."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.check_capture import check_capture

REPO = Path(__file__).resolve().parents[1]
CANDIDATES = [REPO.parent / "shared" / "data", Path("/work/shared/data")]
DATA = next((d for d in CANDIDATES if (d / "spot_btcusdt_20240808.gz").is_file()), None)

pytestmark = pytest.mark.skipif(DATA is None, reason="real captures (shared/data) not present")


@pytest.mark.parametrize("name, symbol, rule", [
    ("spot_btcusdt_20240808.gz", "BTCUSDT", "spot"),
    ("cm_btcusd_perp_20240808.gz", "BTCUSD_PERP", "coinm"),
])
def test_real_capture_books_match_binance_book_ticker(name, symbol, rule):
    errors: list[str] = []
    report = check_capture([DATA / name], errors)[symbol]
    assert errors == []
    assert report.rule == rule and report.snapshots == 1
    assert report.resyncs == 0, report.resync_reasons
    assert report.tickers.mismatches == 0, report.tickers.first_mismatches
    assert report.applied > 1000 and report.tickers.compared > 100
