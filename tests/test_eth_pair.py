"""ETH is a first-class pair (issue 10, item 6): on the local exchange, with the default sizing
settings, the bot trades ETHUSDT / ETHUSD_PERP, a buy-spot entry above $10k needs no rescue (the
spot commission, taken in ETH, is bought on top), and every amount of ETH is printed as ETH.
Settings under which no entry can pass stop the program before it trades (exit 2)."""
from __future__ import annotations

import io
import logging
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from app.summary import print_summary
from arbitrage.sim import LocalExchange
from arbitrage.strategy.frontier import BUY_SPOT
from arbitrage.accounting.tradelog import read_rows
from tests.conftest import wait_for
from tests.harness import BotRun

REPO = Path(__file__).resolve().parent.parent

# Only the thresholds differ from the defaults (so that the synthetic market enters within
# seconds); MIN_V_USD 10000 makes every entry large enough that the ETH commission of a buy
# (10 bps of ≥ $10,000 = ≥ one 10 USD contract) would need a rescue if it were not bought on top.
ETH = ("--spot", "ETHUSDT", "--coinm", "ETHUSD_PERP", "--enter-bps", "0.5", "--exit-bps", "0.3",
       "--stop-bps", "40", "--min-v-usd", "10000", "--reopen-cooldown-sec", "0.5")


@pytest.fixture
def sim():
    ex = LocalExchange(source="synthetic", seed=15).start()
    yield ex
    ex.stop()


def test_eth_buy_spot_entry_on_default_caps_needs_no_rescue_and_shows_eth(sim, caplog):
    caplog.set_level(logging.INFO)
    r = BotRun(sim, *ETH)
    assert r.base == "ETH" and r.settings.max_v_usd_frontier == Decimal(30000)
    wait_for(lambda: any(t.direction == BUY_SPOT for t in r.trader.closed) or r.trader.halt_reason,
             timeout=120, what="a closed buy-spot ETH trade")
    r.close()
    assert r.trader.halt_reason is None, r.trader.halt_reason
    assert r.trader.rescued_entries == 0
    buys = [t for t in r.trader.closed if t.direction == BUY_SPOT]
    for t in buys:
        assert t.rescues == 0 and abs(t.contracts) * 10 >= 10000        # ≥ $10k: ≥ 1000 contracts
        # the commission (ETH) was bought on top: what is held hedges the contracts within one
        # contract (the rescue's rule), and is never short of them by more than float dust
        hedge = abs(t.contracts) * 10 / t.perp_vwap
        assert t.spot_held < t.spot_btc                                   # a commission in ETH
        assert abs(t.spot_held - hedge) * t.perp_vwap / 10 < 1, (t.spot_held, hedge)
    entry_lines = [m for m in caplog.messages if m.startswith("[ENTRY]")]
    assert entry_lines and all(" BTC" not in m for m in entry_lines), entry_lines
    assert any("hedge error" in m and m.split("hedge error ")[1].split()[1] == "ETH"
               for m in entry_lines), entry_lines
    assert any("hedged: spot" in m and " ETH @ " in m for m in entry_lines), entry_lines
    # the ledger names the pair on every row
    rows = read_rows(r.trades_log)
    assert rows and {(x.base_asset, x.spot_symbol, x.coinm_symbol) for x in rows} == \
        {("ETH", "ETHUSDT", "ETHUSD_PERP")}
    assert not [x for x in rows if x.event == "rescue"]
    # the end-of-run summary: its trade table, the report and the invariant in ETH
    out = io.StringIO()
    print_summary(r.bot, r.bot.stats, out)
    summary = out.getvalue()
    assert "spot ETH" in summary and "net ETH" in summary and "invariant ETH" in summary
    assert " BTC" not in summary, summary
    r.assert_exchange_agrees()


def test_settings_no_entry_can_pass_are_refused_before_trading(tmp_path):
    # MAX_Q_BTC_FRONTIER 0.5 was the old default: 0.5 ETH is ~$1,250 on the local exchange, below
    # MIN_V_USD 5000, so every frontier would be refused.
    out = subprocess.run(
        [sys.executable, "-m", "app.main", "--venue", "sim", "--run-seconds", "20",
         "--max-q-btc-frontier", "0.5", "--trades-log", str(tmp_path / "t.csv"),
         "--state-path", str(tmp_path / "s.json")],
        cwd=REPO, env={"PAIR": "ETH", "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
        timeout=60)
    assert out.returncode == 2, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, out.stderr
    assert errors[0].startswith("error: MAX_Q_BTC_FRONTIER: 0.5 ETH is $")
    assert "below MIN_V_USD 5000" in errors[0] and "ETHUSD_PERP price" in errors[0]
    assert "Traceback" not in out.stderr and "[ENTRY]" not in out.stderr
    assert not (tmp_path / "t.csv").exists()          # refused before anything was set up
