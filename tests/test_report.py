"""`python -m app.report` on a known CSV (rows made by the ledger; numbers checked by hand)."""
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

from app.report import main, render, trade_results
from arbitrage.accounting.ledger import LEGACY_COLUMNS, actual_btc, close_net_btc
from arbitrage.accounting.tradelog import HEADER, read_rows

REPO = Path(__file__).resolve().parent.parent

# T1000 buy_spot: BUY 0.1 @ 60000 (BTC fee 0.0001) / SELL 60 @ 60300 (baseQty 0.09950249, fee
#   0.00004975); funding +0.000005; close SELL 0.0999 @ 60100 (USDT fee 6.00399 = 0.0000999 BTC) /
#   BUY 60 @ 60100 (fee 0.00004991, PnL 6000·(1/60100 − 1/60300) = 0.00033112).
#   net: actual BTC 0.09985025 + 0.000005 − 0.09961879 = 0.00023646; USDT −6000 + 5997.98601 =
#   −2.01399 / 60100 = −0.00003351 → 0.00020295 BTC; × 60100 = 12.197… USDT
# T2000 sell_spot: SELL 0.1 @ 60000 (USDT fee 6 = 0.0001 BTC) / BUY 60 @ 59970 (fee 0.00005002);
#   close BUY 0.1 @ 59990 (BTC fee 0.0001) / SELL 60 @ 59984 (fee 0.00005001, PnL
#   6000·(1/59970 − 1/59984) = 0.00002335). net_btc left empty: the report recomputes it:
#   −0.10005002 + 0.09987334 = −0.00017668; (5994 − 5999)/59990 = −0.00008335 → −0.00026003 BTC;
#   × 59990 = −15.599… USDT
# T3000 still open; one funding row outside any trade.
# The 18 columns of the first versions (no pair columns): read as BTCUSDT / BTCUSD_PERP.
CSV = ",".join(LEGACY_COLUMNS) + "\n" + """\
1723161600000,2024-08-09T00:00:00.000Z,open,T1000,BUY_SPOT_SELL_PERP,0.1,60,60000.00000000,60299.99852265,11,21,0.00010000,0.00004975,0,0.09985025,0,-6000.0,
1723161630000,2024-08-09T00:00:30.000Z,funding,T1000,,,,,,,,,,0.00000500,0.00000500,,,
1723161660000,2024-08-09T00:01:00.000Z,close,T1000,SELL_SPOT_BUY_PERP,0.0999,60,60100.00000000,60100.00039065,12,22,0.00009990,0.00004991,0.00033112,-0.09971869,6.00399,5997.98601,0.00020295
1723161700000,2024-08-09T00:01:40.000Z,open,T2000,SELL_SPOT_BUY_PERP,0.1,60,60000.00000000,59969.99701050,13,23,0.00010000,0.00005002,0,-0.10015002,6,5994.0,
1723161730000,2024-08-09T00:02:10.000Z,close,T2000,BUY_SPOT_SELL_PERP,0.1,60,59990.00000000,59984.00226660,14,24,0.00010000,0.00005001,0.00002335,0.09987334,0,-5999.0,
1723161800000,2024-08-09T00:03:20.000Z,open,T3000,BUY_SPOT_SELL_PERP,0.1,60,60000.00000000,60039.99864710,15,25,0.00010000,0.00004996,0,0.09985004,0,-6000.0,
1723190400000,2024-08-09T08:00:00.000Z,funding,,,,,,,,,,,-0.00000100,-0.00000100,,,
"""


def known(tmp_path):
    path = tmp_path / "trades_log.csv"
    path.write_text(CSV)
    return path


def test_trade_results(tmp_path):
    trades, loose = trade_results(read_rows(known(tmp_path)))
    a, b, c = trades
    assert (a.direction, b.direction, c.direction) == ("buy_spot", "sell_spot", "buy_spot")
    # A: basis in (60299.99852265 − 60000)/60000 = +49.99975 bps, out +0.00007 → captured +49.99969
    assert round(a.edge_bps, 4) == D("49.9997")
    # B (sell_spot, sign −1): in (59969.9970105 − 60000)/60000 = −5.00050 bps,
    #   out (59984.0022666 − 59990)/59990 = −0.99979 bps → −(−5.00050 + 0.99979) = +4.00071
    assert round(b.edge_bps, 4) == D("4.0007")
    assert a.fees_btc == D("0.00029956")        # 0.0001 + 0.00004975 + 0.0000999 + 0.00004991
    assert b.fees_btc == D("0.00030003")        # 0.0001 + 0.00005002 + 0.0001 + 0.00005001
    assert a.funding_btc == D("0.000005") and loose == D("-0.000001")
    assert a.net_btc == D("0.00020295") and a.net_usdt == D("12.20")
    assert b.net_btc == D("-0.00026003") and b.net_usdt == D("-15.60")    # recomputed
    assert (a.held_s, b.held_s) == (60.0, 30.0) and not c.closed and c.net_btc is None


def test_render_known_csv(tmp_path):
    text = render(read_rows(known(tmp_path)))
    assert all(len(line) < 100 for line in text.splitlines())
    assert "  T1000          2024-08-09 00:00:00  1m00s 0.10000000   60  60000.00  60100.00  " \
           "60300.00  60100.00" in text
    assert "  T1000          buy_spot   +50.00  0.00029956 +0.00000500 +0.00020295     +12.20" in text
    assert "  T2000          sell_spot   +4.00  0.00030003 +0.00000000 -0.00026003     -15.60" in text
    assert "T3000" in text and "open" in text
    assert "totals over 2 closed trades (1 still open)" in text
    assert "win rate             50.0% (1 of 2 with net BTC > 0)" in text
    assert "gross edge captured  +27.00 bps" in text          # (49.99969·0.1 + 4.00071·0.1) / 0.2
    assert "fees                 0.00059959 BTC" in text
    assert "funding              +0.00000500 BTC (and -0.00000100 BTC outside trades)" in text
    assert "net                  -0.00005708 BTC, -3.40 USDT" in text   # 0.00020295 − 0.00026003
    assert "holding time         mean 45.0s, max 1m00s" in text


def test_the_example_file_satisfies_the_formulas_and_renders():
    rows = read_rows(REPO / "trades_log.csv.example")
    assert [r.event for r in rows] == ["open", "funding", "close"]
    for r in rows:
        if r.event == "funding":
            assert r.delta_btc == r.income_btc
            continue
        sign = 1 if r.delta_usdt < 0 else -1                  # a spot BUY pays USDT
        assert r.delta_btc == (sign * r.Q_btc - r.fee_btc_spot) + (-r.fee_btc_cm + r.income_btc)
    close = rows[-1]
    assert close.net_btc == close_net_btc(rows, close.spot_vwap)
    assert sum(actual_btc(r) for r in rows) == D("-0.00006763")
    assert "T1723161300123" in render(rows)


def test_cli_on_a_file_with_a_malformed_line(tmp_path):
    path = tmp_path / "t.csv"
    lines = CSV.splitlines()
    lines.insert(3, "1723161650000,oops")
    path.write_text("\n".join(lines) + "\n")
    out = subprocess.run([sys.executable, "-m", "app.report", str(path)], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert f"{path}: line 4 skipped: 2 cells, expected 18" in out.stderr
    assert "totals over 2 closed trades" in out.stdout


def test_missing_or_empty_file_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "nope.csv")]) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "no such file" in out
    (tmp_path / "empty.csv").write_text("")
    assert main([str(tmp_path / "empty.csv")]) == 1
    (tmp_path / "header.csv").write_text(HEADER + "\n")
    assert main([str(tmp_path / "header.csv")]) == 1
    assert capsys.readouterr().out.count("\n") == 2
    (tmp_path / "seed.csv").write_text("ts_ms,ts_iso,event\n")
    assert main([str(tmp_path / "seed.csv")]) == 1
    assert "header differs" in capsys.readouterr().out
