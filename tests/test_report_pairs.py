"""One trades_log.csv holding BTC and ETH rows (issue 10, item 6): the report, the summary's table
and the invariant work per pair and never add ETH to BTC; an 18-column file of an earlier version
is still read but never appended to. Every number is computed by hand next to its row."""
from __future__ import annotations

import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest

from app.report import by_pair, render, trade_results
from arbitrage.accounting.ledger import (LEGACY_COLUMNS, Balances, Pair, check_invariant, funding_row,
                                         with_pair)
from arbitrage.models import Income
from arbitrage.accounting.tradelog import HEADER, TradeLog, TradeLogError, read_rows, row_key

REPO = Path(__file__).resolve().parent.parent
BTC = ",BTC,BTCUSDT,BTCUSD_PERP"
ETH = ",ETH,ETHUSDT,ETHUSD_PERP"

# BTC, T1000 (as in test_report.py): fees 0.0001 + 0.00004975 + 0.0000999 + 0.00004991 = 0.00029956;
#   funding +0.000005; net_btc 0.00020295 × exit 60100 = 12.197… → 12.20 USDT.
# ETH, T5000 buy_spot: BUY 4 ETH @ 2500 (fee 0.004 ETH) / SELL 1000 × 10 USD @ 2502.5 (fee 0.002);
#   close SELL 3.996 @ 2510 (USDT fee 10.02996 = 0.003996 ETH) / BUY 1000 @ 2508 (fee 0.002,
#   PnL 10000/2502.5 − 10000/2508 = 0.00876317). delta_btc: open 4 − 0.004 − 0.002 = 3.994;
#   close −3.996 − 0.003996 − 0.002 + 0.00876317 = −3.99323283. delta_usdt −10000 and
#   3.996 × 2510 − 10.02996 = 10019.93004. net_btc: actual ETH 3.994 + (−3.99323283 + 0.003996)
#   = 0.00476317, plus USDT 19.93004 / 2510 = 0.00794025 → 0.01270342 ETH; × 2510 = 31.89 USDT.
#   fees 0.004 + 0.002 + 0.003996 + 0.002 = 0.011996 ETH.
# Funding outside any trade at the same 08:00: −0.000001 BTC and −0.0001 ETH.
CSV = HEADER + "\n" + f"""\
1723161600000,2024-08-09T00:00:00.000Z,open,T1000,BUY_SPOT_SELL_PERP,0.1,60,60000.00000000,60299.99852265,11,21,0.00010000,0.00004975,0,0.09985025,0,-6000.0,{BTC}
1723161610000,2024-08-09T00:00:10.000Z,open,T5000,BUY_SPOT_SELL_PERP,4,1000,2500.00000000,2502.50000000,31,41,0.004,0.002,0,3.994,0,-10000,{ETH}
1723161630000,2024-08-09T00:00:30.000Z,funding,T1000,,,,,,,,,,0.00000500,0.00000500,,,{BTC}
1723161660000,2024-08-09T00:01:00.000Z,close,T1000,SELL_SPOT_BUY_PERP,0.0999,60,60100.00000000,60100.00039065,12,22,0.00009990,0.00004991,0.00033112,-0.09971869,6.00399,5997.98601,0.00020295{BTC}
1723161670000,2024-08-09T00:01:10.000Z,close,T5000,SELL_SPOT_BUY_PERP,3.996,1000,2510.00000000,2508.00000000,32,42,0.003996,0.002,0.00876317,-3.99323283,10.02996,10019.93004,0.01270342{ETH}
1723190400000,2024-08-09T08:00:00.000Z,funding,,,,,,,,,,,-0.00000100,-0.00000100,,,{BTC}
1723190400000,2024-08-09T08:00:00.000Z,funding,,,,,,,,,,,-0.00010000,-0.00010000,,,{ETH}
"""
BTC_PAIR = Pair("BTC", "BTCUSDT", "BTCUSD_PERP")
ETH_PAIR = Pair("ETH", "ETHUSDT", "ETHUSD_PERP")


@pytest.fixture
def rows(tmp_path):
    path = tmp_path / "trades_log.csv"
    path.write_text(CSV)
    return read_rows(path)


def test_rows_are_grouped_per_pair(rows):
    groups = by_pair(rows)
    assert list(groups) == [BTC_PAIR, ETH_PAIR]
    btc, loose_btc = trade_results(groups[BTC_PAIR])
    eth, loose_eth = trade_results(groups[ETH_PAIR])
    assert [t.trade_id for t in btc] == ["T1000"] and [t.trade_id for t in eth] == ["T5000"]
    assert btc[0].fees_btc == D("0.00029956") and eth[0].fees_btc == D("0.011996")
    assert btc[0].net_btc == D("0.00020295") and eth[0].net_btc == D("0.01270342")
    assert eth[0].net_usdt == D("31.89") and btc[0].net_usdt == D("12.20")
    assert (loose_btc, loose_eth) == (D("-0.000001"), D("-0.0001"))


def test_report_has_one_section_per_pair_in_its_own_coin(rows):
    text = render(rows)
    btc, eth = text.split("=== ETHUSDT / ETHUSD_PERP: amounts in ETH ===")
    assert btc.startswith("=== BTCUSDT / BTCUSD_PERP: amounts in BTC ===")
    assert "  fees                 0.00029956 BTC" in btc
    assert "  net                  +0.00020295 BTC, +12.20 USDT" in btc
    assert "(and -0.00000100 BTC outside trades)" in btc
    assert "Q ETH" in eth and "net ETH" in eth and " BTC" not in eth
    assert "  fees                 0.01199600 ETH" in eth
    assert "  net                  +0.01270342 ETH, +31.89 USDT" in eth
    assert "(and -0.00010000 ETH outside trades)" in eth
    # never mixed: BTC + ETH would be 0.01229556 fees, +0.01290637 net
    assert "0.01229556" not in text and "0.01290637" not in text
    assert all(len(line) < 100 for line in text.splitlines())


def test_the_cli_prints_both_pairs(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(CSV)
    out = subprocess.run([sys.executable, "-m", "app.report", str(path)], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("totals over 1 closed trade") == 2 and out.stderr == ""


def test_an_earlier_versions_file_is_read_as_btc_with_a_note(tmp_path):
    path = tmp_path / "old.csv"
    legacy = [line.rsplit(",", 3)[0] for line in CSV.splitlines()[1:] if line.endswith(BTC)]
    path.write_text(",".join(LEGACY_COLUMNS) + "\n" + "\n".join(legacy) + "\n")
    back = read_rows(path)
    assert len(back) == 4 and {r.pair for r in back} == {BTC_PAIR}
    assert all(r.base_asset is None for r in back)           # no cell: the default pair assumed
    out = subprocess.run([sys.executable, "-m", "app.report", str(path)], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "net                  +0.00020295 BTC" in out.stdout
    assert "read as BTCUSDT / BTCUSD_PERP" in out.stderr


def test_the_bot_never_appends_to_an_earlier_versions_file(tmp_path):
    path = tmp_path / "trades_log.csv"
    text = ",".join(LEGACY_COLUMNS) + "\n1723161630000,x\n"
    path.write_text(text)
    with pytest.raises(TradeLogError) as err:
        TradeLog(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and "earlier version (18 columns" in msg
    assert "trades_log.old.csv" in msg and "TRADES_LOG" in msg
    assert path.read_text() == text                          # untouched


def test_invariant_counts_only_its_own_pairs_rows(rows):
    # ETH rows: actual ETH 3.994 − 3.98923683 − 0.0001 = 0.00466317; USDT −10000 + 10019.93004
    start = Balances(spot_btc=D("10"), spot_usdt=D("100000"), coinm_btc=D("50"))
    end = Balances(spot_btc=D("10"), spot_usdt=D("100019.93004"), coinm_btc=D("50.00466317"))
    inv = check_invariant(rows, start, end, "ETH")
    assert inv.ledger_btc == D("0.00466317") and inv.ledger_usdt == D("19.93004")
    assert inv.ok and "invariant ETH" in inv.describe()[1]


def test_funding_of_two_pairs_at_the_same_time_are_two_rows():
    paid = [with_pair(funding_row(Income(p.coinm_symbol, "FUNDING_FEE", D("-0.0001"), p.base_asset,
                                         1723190400000, 7, ""), None), p)
            for p in (BTC_PAIR, ETH_PAIR)]
    assert row_key(paid[0]) != row_key(paid[1])
