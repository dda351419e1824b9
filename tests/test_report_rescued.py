"""An entry undone by its rescues (a maker pair with one leg filled, the other cancelled, the
filled one sold back) has no close row, yet it has ended and its loss is real: the report counts
it, and the backtest's figures agree with the report's. Numbers checked by hand."""
from decimal import Decimal as D

from app.backtest import trade_nets
from app.report import render, trade_results
from arbitrage.accounting.ledger import LEGACY_COLUMNS
from arbitrage.accounting.tradelog import read_rows

# T1500 and T3000: BUY 0.1 @ 60000 (BTC fee 0.0001: 0.0999 held), the perp leg never filled;
#   rescue SELL 0.0999 @ 59990 (USDT fee 5.993001). BTC back to 0; USDT −6000 + 5987.007999 =
#   −12.992001 / 59990 = −0.00021657 BTC; × 59990 = −12.99 USDT. fees 0.0001 + 0.0000999.
# T2000 between them: a trade with a close (test_report.py's, net −0.00026003).
CSV = ",".join(LEGACY_COLUMNS) + "\n" + """\
1723161600000,2024-08-09T00:00:00.000Z,open,T1500,BUY_SPOT_SELL_PERP,0.1,,60000.00000000,,11,21,0.00010000,0,0,0.09990000,0,-6000.0,
1723161604000,2024-08-09T00:00:04.000Z,rescue,T1500,SELL_SPOT,0.0999,,59990.00000000,,12,,0.00009990,,,-0.09999990,5.993001,5987.007999,
1723161700000,2024-08-09T00:01:40.000Z,open,T2000,SELL_SPOT_BUY_PERP,0.1,60,60000.00000000,59969.99701050,13,23,0.00010000,0.00005002,0,-0.10015002,6,5994.0,
1723161730000,2024-08-09T00:02:10.000Z,close,T2000,BUY_SPOT_SELL_PERP,0.1,60,59990.00000000,59984.00226660,14,24,0.00010000,0.00005001,0.00002335,0.09987334,0,-5999.0,
1723161800000,2024-08-09T00:03:20.000Z,open,T3000,BUY_SPOT_SELL_PERP,0.1,,60000.00000000,,15,25,0.00010000,0,0,0.09990000,0,-6000.0,
1723161804000,2024-08-09T00:03:24.000Z,rescue,T3000,SELL_SPOT,0.0999,,59990.00000000,,16,,0.00009990,,,-0.09999990,5.993001,5987.007999,
"""


def rows(tmp_path):
    path = tmp_path / "trades_log.csv"
    path.write_text(CSV)
    return read_rows(path)


def test_an_entry_followed_by_another_trade_has_ended_with_its_rescue_loss(tmp_path):
    (a, b, c), _ = trade_results(rows(tmp_path))
    assert a.closed and a.rescued_away and a.held_s == 4.0
    assert a.net_btc == D("-0.00021657") and a.net_usdt == D("-12.99")
    assert a.fees_btc == D("0.00019990") and a.edge_bps is None
    assert b.closed and not b.rescued_away and b.net_btc == D("-0.00026003")
    # the last one: nothing follows it and nobody said it is over: still open
    assert not c.closed and c.net_btc is None


def test_the_bot_saying_what_it_holds_ends_the_last_one_too(tmp_path):
    (_, _, c), _ = trade_results(rows(tmp_path), open_trades=[])
    assert c.closed and c.rescued_away and c.net_btc == D("-0.00021657")
    (_, _, c), _ = trade_results(rows(tmp_path), open_trades=["T3000"])
    assert not c.closed


def test_the_totals_count_the_rescue_losses(tmp_path):
    text = render(rows(tmp_path), open_trades=[])
    assert "totals over 3 ended trades (1 closed, 2 entries undone by rescues)" in text
    # −0.00021657 × 2 − 0.00026003; fees 0.0001999 × 2 + 0.00030003
    assert "net                  -0.00069317 BTC" in text
    assert "fees                 0.00069983 BTC" in text
    assert "win rate             0.0% (0 of 3" in text


def test_the_backtest_counts_the_same_results(tmp_path):
    nets = trade_nets(rows(tmp_path))
    assert nets == {"T1500": D("-0.00021657"), "T2000": D("-0.00026003"),
                    "T3000": D("-0.00021657")}
