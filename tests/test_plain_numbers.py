"""Issue 10 item 9: logs showed `2E-8` and `-20287.5514132000000000`; the status line said
"trades 0" while the first trade was open. Every Decimal shown to a human goes through
`numbers.plain` (log arguments by the handler's filter, f-strings by calling it)."""
from __future__ import annotations

import logging
from decimal import Decimal as D
from types import SimpleNamespace

from arbitrage.bot import Bot
from arbitrage.engine.evaluation import Evaluation
from arbitrage.logs import setup_logging
from arbitrage.marketdata.view import MarketData
from arbitrage.numbers import plain
from tests.test_entry import BTCUSDT
from tests.test_logs import restore_logging  # noqa: F401  (autouse: logging put back)
from tests.test_outside_fills import hedged_trader


def test_plain_never_writes_an_exponent_nor_sixteen_decimals():
    assert plain(D("2E-8")) == "0.00000002"
    assert plain(D("0E-8")) == "0.00000000"
    assert plain(D("3E+2")) == "300"
    # 0.33825 BTC × 59977.98 USDT: 20287.551413200 exactly; 8 places keep it exact
    assert plain(D("-20287.5514132000000000")) == "-20287.55141320"
    assert plain(D("60011.7481700393")) == "60011.7481700393"    # not rounded: exact stays exact
    assert plain(D("0.33825000")) == "0.33825000"
    assert plain(None) == "-" and plain(203) == "203"


def test_decimals_passed_to_the_log_are_plain_and_formats_still_work(capsys):
    setup_logging("INFO", [])
    log = logging.getLogger("arbitrage.accounting")
    log.info("[LEDGER] open T1 Δbtc %s Δusdt %s", D("2E-8"), D("-20287.5514132000000000"))
    # a product of two 8-place numbers: 0.33825000 × 59977.98000000 = 20287.5517350000000000
    log.info("Δusdt %s", D("0.33825000") * D("-59977.98000000"))
    log.info("price %.2f, qty %s, id %d, %s%%", D("59977.976"), D("1E+1"), 7, D("5E-1"))
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith("[LEDGER] open T1 Δbtc 0.00000002 Δusdt -20287.55141320"), lines
    assert lines[1].endswith("Δusdt -20287.55173500"), lines
    assert lines[2].endswith("price 59977.98, qty 10, id 7, 0.5%"), lines


def _status(trader) -> str:
    md = MarketData("BTCUSDT", "BTCUSD_PERP", lambda symbol: None)
    shell = SimpleNamespace(market=md, evaluation=Evaluation(), trader=trader, spot_rules=BTCUSDT)
    return Bot.status_line(shell, now_ns=3_000 * 1_000_000)


def test_the_status_line_counts_the_open_trade():
    trader, _ = hedged_trader(opened_ms=2_000)
    trader.trade = trader.trade.closed(spot_btc=D("0.05000000"), contracts=D("-30"))
    line = _status(trader)
    assert "trades open 1, closed 0 |" in line, line
    assert "spot 0.05000000 BTC -30 cntr" in line
    trader.trade, trader.state = None, "FLAT"
    assert "trades open 0, closed 0 |" in _status(trader)
