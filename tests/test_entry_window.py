"""Issue 10 item 1: an entry needs ENTER_BPS ≤ signed spread < STOP_BPS. `make demo` (seed 15)
opened sell_spot at −16.13 bps with STOP_BPS 12 and the exit rule stopped it 0.0 s later, the
worst trade of the run."""
from __future__ import annotations

import logging
from decimal import Decimal as D
from types import SimpleNamespace

from arbitrage.accounting.bookkeeping import Accounting
from arbitrage.marketdata.book import OrderBook
from arbitrage.config import load_settings
from arbitrage.engine.evaluation import Evaluation
from arbitrage.models import CoinmAccount, MarginAsset, SpotAccount
from arbitrage.strategy.engine import ENTERING, FLAT
from arbitrage.strategy.exits import STOP, exit_reason
from arbitrage.strategy.frontier import BUY_SPOT, SELL_SPOT, compute_frontier
from arbitrage.strategy.signals import ENTER_RULE, STOP_RULE, entry_window_rule, window_reason
from arbitrage.engine.trader import AccountUpdate, Trader
from tests.test_entry import BTCUSD_PERP, BTCUSDT, FEES
from tests.test_outside_fills import SentPairs


def test_the_demo_entry_at_minus_16_13_is_beyond_the_stop():
    assert entry_window_rule(-16.13, SELL_SPOT, 6.0, 12.0) == STOP_RULE
    assert window_reason(STOP_RULE, -16.13, D("6"), D("12")) == \
        "spread -16.13 bps beyond STOP_BPS 12"
    # ... and that is exactly what the exit rule stops on its first look
    assert exit_reason(-16.13, SELL_SPOT, 0, 0, D("2"), D("12"), 30) == STOP


def test_the_window_is_enter_inclusive_stop_exclusive_on_both_sides():
    assert entry_window_rule(6.0, BUY_SPOT, 6.0, 12.0) is None              # s = 6 = ENTER
    assert entry_window_rule(11.99, BUY_SPOT, 6.0, 12.0) is None
    assert entry_window_rule(12.0, BUY_SPOT, 6.0, 12.0) == STOP_RULE        # s = STOP
    assert entry_window_rule(-11.99, SELL_SPOT, 6.0, 12.0) is None
    assert entry_window_rule(-12.0, SELL_SPOT, 6.0, 12.0) == STOP_RULE
    assert entry_window_rule(5.99, BUY_SPOT, 6.0, 12.0) == ENTER_RULE
    # the wrong side is no signal at all, however far out
    assert entry_window_rule(-16.13, BUY_SPOT, 6.0, 12.0) == ENTER_RULE
    assert window_reason(ENTER_RULE, -16.13, D("6"), D("12")) == \
        "spread -16.13 bps short of ENTER_BPS 6"
    assert entry_window_rule(16.13, SELL_SPOT, 6.0, 12.0) == ENTER_RULE


# --- the trader acts on it ------------------------------------------------------------------
# sell_spot: spot bid 60000, perp ask 59940: edge (60000/59940 − 1)·1e4 = +10.01 bps ≥ ENTER 6,
# and the frontier has plenty of size. Spread is the mark's, passed in by hand.

def _market():
    spot, perp = OrderBook("BTCUSDT"), OrderBook("BTCUSD_PERP")
    spot.load([(60000.0, 5.0)], [(60000.5, 5.0)])
    perp.load([(59939.9, 5000.0)], [(59940.0, 5000.0)])
    return SimpleNamespace(spot=SimpleNamespace(book=spot), perp=SimpleNamespace(book=perp),
                           mark=None)


def _evaluation(market, spread: float) -> Evaluation:
    spot, perp = market.spot.book, market.perp.book
    sell = compute_frontier(SELL_SPOT, spot.iter_bids(), perp.iter_asks(), 100.0, 6.0, 0.5)
    buy = compute_frontier(BUY_SPOT, spot.iter_asks(), perp.iter_bids(), 100.0, 6.0, 0.5)
    assert sell.tradable and sell.top_edge_bps > 10
    return Evaluation(spread_bps=spread, buy=buy, sell=sell, blocks=[])


def _trader() -> tuple[Trader, SentPairs]:
    settings = load_settings(["--venue", "sim", "--enter-bps", "6", "--stop-bps", "12"], {},
                             dotenv_path=None)
    sent = SentPairs()
    trader = Trader(settings, BTCUSDT, BTCUSD_PERP, sent, FEES, lambda: None,
                    Accounting(None, BTCUSDT, BTCUSD_PERP, start_ms=0))
    # plenty of both coins and of margin: only the spread decides
    spot = SpotAccount({"BTC": (D(10), D(0)), "USDT": (D(1_000_000), D(0))}, D("0.001"),
                       D("0.001"), True, 0)
    btc = D(10)
    coinm = CoinmAccount({"BTC": MarginAsset("BTC", btc, D(0), btc, D(0), D(0), btc)}, {}, 0)
    trader.on_account(AccountUpdate(spot, coinm, None, fetched_ms=1_000, epoch=0))
    return trader, sent


def test_the_trader_does_not_enter_beyond_the_stop_and_says_which_rule(caplog):
    trader, sent = _trader()
    market = _market()
    with caplog.at_level(logging.INFO, logger="arbitrage.trader"):
        trader.on_evaluation(_evaluation(market, -16.13), market, now_ms=1_000)
    assert trader.state == FLAT and sent.specs == []
    assert "[SKIP] sell_spot: spread -16.13 bps beyond STOP_BPS 12" in caplog.text


def test_the_same_book_inside_the_window_enters():
    trader, sent = _trader()
    market = _market()
    trader.on_evaluation(_evaluation(market, -11.5), market, now_ms=1_000)
    assert trader.state == ENTERING and [s.kind for s in sent.specs] == ["entry"]
    assert sent.specs[0].spot.side == "SELL"


# --- the real bot on the local exchange -------------------------------------------------------

def test_a_seeded_run_never_opens_at_or_beyond_the_stop():
    """Seed 3 with a stop just above the entry: the spread often jumps past 1 bps between two
    evaluations; the old bot entered there (and was stopped at once)."""
    from arbitrage.sim import LocalExchange
    from tests.harness import EASY, BotRun

    sim = LocalExchange(source="synthetic", seed=3).start()
    try:
        r = BotRun(sim, *EASY, "--stop-bps", "1", "--exit-bps", "0.3")
        r.wait_closed_trades(4)
        r.close()
        opened = r.trader.closed + ([r.trader.trade] if r.trader.trade else [])
        signed = [t.entry_spread_bps if t.direction == BUY_SPOT else -t.entry_spread_bps
                  for t in opened]
        assert all(0.5 <= s < 1.0 for s in signed), signed
        assert [t for t in r.trader.closed if t.exit_reason == STOP and
                t.closed_ms - t.opened_ms < 200] == []
        r.assert_exchange_agrees()
    finally:
        sim.stop()
