"""The ledger against the local exchange: funding during a hedged trade, the bot's own invariant
check, and a state file that cannot be trusted."""
from __future__ import annotations

from arbitrage.sim import LocalExchange
from arbitrage.accounting.tradelog import read_rows
from tests.conftest import wait_for
from tests.harness import EASY, BotRun
from tests.test_app_watch import run_bot

import pytest


@pytest.fixture
def sim():
    ex = LocalExchange(source="synthetic", seed=3).start()
    yield ex
    ex.stop()


def test_funding_while_hedged_is_one_row_and_the_invariant_holds(sim):
    r = BotRun(sim, *EASY, "--exit-bps", "-50", "--stop-bps", "50", "--max-hold-sec", "600",
               "--flatten-on-exit")
    wait_for(lambda: r.trader.state == "HEDGED", timeout=120, what="a hedged trade")
    trade_id = r.trader.trade.trade_id
    rows = sim.settle_funding_now(rate="0.0001")     # longs pay shorts
    assert rows
    r.close()                                        # flattens, fetches funding, checks
    funding = [row for row in read_rows(r.trades_log) if row.event == "funding"]
    assert len(funding) == 1 and funding[0].trade_id == trade_id
    assert funding[0].income_btc == funding[0].delta_btc != 0
    # it is part of the trade's result: the close row comes after it and counts it in net_btc
    events = [row.event for row in read_rows(r.trades_log) if row.trade_id == trade_id]
    assert events == ["open", "funding", "close"]
    assert r.bot.last_invariant is not None and r.bot.last_invariant.ok, \
        r.bot.last_invariant.describe()
    # a second look at the same income window adds nothing (dedup by tranId)
    r.bot.accounting.on_income(r.bot.coinm_client.income("BTCUSD_PERP", "FUNDING_FEE"),
                               lambda t: None)
    assert [row.event for row in read_rows(r.trades_log)].count("funding") == 1


def test_a_corrupt_state_file_stops_with_a_clear_message(sim, tmp_path):
    state = tmp_path / "state.json"
    state.write_text('{"version": 1, "spot_symbol": "BTCUSDT", "engine_st')   # cut short
    result = run_bot(["--venue", "sim", "--sim-url", sim.rest_url, "--run-seconds", "3"],
                     STATE_PATH=str(state))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert str(state) in result.stderr and "--adopt" in result.stderr
    assert state.read_text().endswith("engine_st")   # never silently reset
