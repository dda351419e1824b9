"""Where every satoshi came from: net = edge + funding − fees per trade and in total, and the
realized APR on the coin at work (app.report, also the end-of-run summary)."""
from __future__ import annotations

from decimal import Decimal as D

from app.report import render, trade_results
from arbitrage.accounting.tradelog import read_rows
from tests.test_report import known


def test_net_splits_into_edge_funding_and_fees(tmp_path):
    trades, _ = trade_results(read_rows(known(tmp_path)))
    a, b, c = trades
    # T1000: net 0.00020295, funding +0.000005, fees 0.00029956 → edge 0.00049751
    assert a.edge_btc == D("0.00049751")
    assert a.edge_btc + a.funding_btc - a.fees_btc == a.net_btc
    assert b.edge_btc == D("-0.00026003") + D("0.00030003")
    assert c.edge_btc is None and c.apr_pct is None          # still open
    # APR: 0.00020295 / 0.1 BTC over 60 s, × 525 600 minutes a year
    assert round(a.apr_pct, 2) == round(D("0.00020295") / D("0.1") * 525600 * 100, 2)


def test_the_report_says_where_the_net_came_from(tmp_path):
    text = render(read_rows(known(tmp_path)))
    assert "  T1000          +0.00049751 -0.00029956 +0.00000500 +0.00020295  1m00s  +106,671%" in text
    assert ("  net from             edge +0.00053751 BTC, fees -0.00059959 BTC, funding "
            "+0.00000500 BTC") in text


def test_the_pair_s_realized_apr_weighs_each_trade_by_its_coin_and_time(tmp_path):
    text = render(read_rows(known(tmp_path)))
    # (0.00020295 − 0.00026003) / (0.1 × 60 s + 0.1 × 30 s) per year
    apr = (D("0.00020295") - D("0.00026003")) / D("9") * 365 * 24 * 3600 * 100
    assert f"  realized APR         {apr:+.1f}% (net per BTC at work per year" in text
