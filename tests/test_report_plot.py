"""`python -m app.report --plot`: PNGs per ledger; without matplotlib one line and exit 2."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from app import plots
from app.report import main
from arbitrage.accounting.tradelog import read_rows

EXAMPLE = Path(__file__).resolve().parent.parent / "trades_log.csv.example"


def test_plot_writes_spread_and_net_pngs_per_ledger(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    ledger = tmp_path / "btc" / "trades_log.csv"
    ledger.parent.mkdir()
    ledger.write_text(EXAMPLE.read_text())
    assert main(["--plot", "--out", str(tmp_path / "png"), str(ledger)]) == 0
    for name in ("btc_spread.png", "btc_net_btc.png"):
        data = (tmp_path / "png" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    spread, net = plots.series(read_rows(ledger, errors=[]))
    assert len(spread) == 2 and len(net) == 1          # one open and one close row, one trade
    assert f"{tmp_path / 'png' / 'btc_spread.png'}: 2 point(s)" in capsys.readouterr().out


def test_plot_without_matplotlib_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)      # import fails as if not installed
    assert main(["--plot", "--out", str(tmp_path), str(EXAMPLE)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["--plot needs matplotlib, which is optional: pip install -r requirements-plot.txt"]


def test_a_ledger_of_several_pairs_gets_charts_per_pair(tmp_path):
    pytest.importorskip("matplotlib")
    lines = EXAMPLE.read_text().splitlines()
    eth = [line.replace("T1723161300123", "T1723161300999").replace(",BTC,BTCUSDT,BTCUSD_PERP",
                                                                    ",ETH,ETHUSDT,ETHUSD_PERP")
           for line in lines[1:]]
    ledger = tmp_path / "trades_log.csv"
    ledger.write_text("\n".join(lines + eth) + "\n")
    groups = plots.groups_of(ledger, read_rows(ledger, errors=[]))
    assert [(label, len(rows)) for label, rows in groups] == [
        (f"{tmp_path.name}_btcusdt", 3), (f"{tmp_path.name}_ethusdt", 3)]
    assert main(["--plot", "--out", str(tmp_path / "png"), str(ledger)]) == 0
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == [
        f"{tmp_path.name}_{s}_{k}.png" for s in ("btcusdt", "ethusdt") for k in ("net_btc", "spread")]
