"""STRATEGY=scalp | carry through the trader: the same gates and pair protocol, the strategy's own
entry and exit decisions; MIN_NET_EDGE_BPS on the scalp; the strategy in the state file."""
from __future__ import annotations

import json
import logging
from decimal import Decimal as D
from types import SimpleNamespace

from arbitrage.accounting.bookkeeping import Accounting
from arbitrage.config import load_settings
from arbitrage.models import CoinmAccount, FundingSettlement, MarginAsset, MarkPrice, SpotAccount
from arbitrage.persistence.state import EngineSnapshot, decode, encode
from arbitrage.strategy.engine import ENTERING, FLAT, HEDGED, Trade
from arbitrage.strategy.frontier import BUY_SPOT, SELL_SPOT
from arbitrage.strategy.strategies import resume_problem
from arbitrage.engine.trader import AccountUpdate, Trader
from arbitrage.strategy.entry import FeeRates
from tests.test_entry import BTCUSD_PERP, BTCUSDT
from tests.test_entry_window import _evaluation, _market
from tests.test_outside_fills import SentPairs

# Binance's standard rates: a round trip of both legs costs 30 bps
FEES = FeeRates(spot_maker=D("0.001"), spot_taker=D("0.001"), coinm_maker=D("0.0002"),
                coinm_taker=D("0.0005"))
NOW = 1_800_000_000_000
INTERVAL = 20_000


def _trader(*argv: str, spot_btc: str = "10") -> tuple[Trader, SentPairs]:
    settings = load_settings(["--venue", "sim", *argv], {}, dotenv_path=None)
    sent = SentPairs()
    trader = Trader(settings, BTCUSDT, BTCUSD_PERP, sent, FEES, lambda: None,
                    Accounting(None, BTCUSDT, BTCUSD_PERP, start_ms=0))
    spot = SpotAccount({"BTC": (D(spot_btc), D(0)), "USDT": (D(1_000_000), D(0))}, D("0.001"),
                       D("0.001"), True, 0)
    btc = D(10)
    coinm = CoinmAccount({"BTC": MarginAsset("BTC", btc, D(0), btc, D(0), D(0), btc)}, {}, 0)
    trader.on_account(AccountUpdate(spot, coinm, None, fetched_ms=NOW - 1_000, epoch=0))
    return trader, sent


# --- scalp: MIN_NET_EDGE_BPS ----------------------------------------------------------------

def test_scalp_keeps_the_seed_behaviour_without_min_net_edge():
    trader, sent = _trader("--enter-bps", "6", "--stop-bps", "12")
    market = _market()
    trader.on_evaluation(_evaluation(market, -8.0), market, NOW)
    assert trader.state == ENTERING and sent.specs[0].spot.side == "SELL"


def test_scalp_min_net_edge_refuses_an_entry_that_does_not_pay_its_fees(caplog):
    # the edge is +10 bps, the round trip of taker fees 30: net −20 < 0
    trader, sent = _trader("--enter-bps", "6", "--stop-bps", "12", "--min-net-edge-bps", "0")
    market = _market()
    with caplog.at_level(logging.INFO, logger="arbitrage.trader"):
        trader.on_evaluation(_evaluation(market, -8.0), market, NOW)
    assert trader.state == FLAT and not sent.specs
    assert "sell_spot: net edge -19.99 bps after fees 30.00 < MIN_NET_EDGE_BPS 0" in caplog.text
    # a threshold the trade clears lets it through
    trader, sent = _trader("--enter-bps", "6", "--stop-bps", "12", "--min-net-edge-bps", "-25")
    trader.on_evaluation(_evaluation(market, -8.0), market, NOW)
    assert trader.state == ENTERING


# --- carry through the trader ------------------------------------------------------------------

def _funding(trader: Trader, market, predicted: float, *rates: str, next_ms: int = NOW + 15_000):
    n = len(rates)
    trader.on_funding_history([FundingSettlement("BTCUSD_PERP", NOW - 5_000 - (n - 1 - i) * INTERVAL,
                                                 D(r), None) for i, r in enumerate(rates)])
    market.mark = MarkPrice("BTCUSD_PERP", 59950.0, 59990.0, predicted, next_ms, NOW, 0)


CARRY = ("--strategy", "carry", "--carry-invest-usd", "6000", "--carry-hold-hours", "0.05",
         "--carry-max-hold-hours", "0.1", "--carry-min-net-apr", "0")


def test_carry_opens_positive_carry_sized_from_the_invested_amount(caplog):
    trader, sent = _trader(*CARRY)
    market = _market()
    _funding(trader, market, 0.003, "0.003", "0.003", "0.003")
    with caplog.at_level(logging.INFO, logger="arbitrage.trader"):
        trader.on_evaluation(_evaluation(market, 0.0), market, NOW)
    assert trader.state == ENTERING, caplog.text
    spec = sent.specs[0]
    assert (spec.spot.side, spec.perp.side) == ("BUY", "SELL")
    # $6000 with the base-coin fee gross-up: 59 contracts, the spot leg holds their BTC
    assert spec.perp.quantity == D(59)
    assert "buy_spot carry: rate +0.3000%/settlement × 9.0 → expected funding +270.00 bps" in caplog.text
    assert "fees 30.00" in caplog.text and "net +" in caplog.text


def test_carry_negative_funding_reverse_only_with_the_coin_on_hand(caplog):
    trader, sent = _trader(*CARRY, spot_btc="0")
    market = _market()
    _funding(trader, market, -0.003, "-0.003", "-0.003", "-0.003")
    with caplog.at_level(logging.INFO, logger="arbitrage.trader"):
        trader.on_evaluation(_evaluation(market, 0.0), market, NOW)
    assert trader.state == FLAT and not sent.specs
    assert "reverse carry sells spot held, never borrowed" in caplog.text
    trader, sent = _trader(*CARRY, spot_btc="1")
    _funding(trader, market, -0.003, "-0.003", "-0.003", "-0.003")
    trader.on_evaluation(_evaluation(market, 0.0), market, NOW)
    assert trader.state == ENTERING
    assert (sent.specs[0].spot.side, sent.specs[0].perp.side) == ("SELL", "BUY")


def test_carry_holds_across_a_settlement_and_exits_when_funding_turns(caplog):
    trader, sent = _trader(*CARRY)
    market = _market()
    trader.state = HEDGED
    trader.trade = Trade("T1", BUY_SPOT, NOW - 60_000, 0.0, spot_btc=D("0.1"), spot_held=D("0.0999"),
                         contracts=D(-60))
    # the scalp's 30 s timeout and convergence rules are not the carry's: it holds
    _funding(trader, market, 0.003, "0.003", "0.003", "0.003")
    trader.on_evaluation(_evaluation(market, 0.0), market, NOW)
    trader.on_timer(_evaluation(market, 0.0), NOW)
    assert trader.state == HEDGED
    # one tick of a negative prediction: still held
    _funding(trader, market, -0.004, "0.003", "0.003", "0.003")
    trader.on_timer(_evaluation(market, 0.0), NOW)
    assert trader.state == HEDGED
    # the settlements turned too: closed by the rule, on the timer as on a market event
    _funding(trader, market, -0.004, "0.003", "-0.003", "-0.004")
    with caplog.at_level(logging.INFO, logger="arbitrage.trader"):
        trader.on_timer(_evaluation(market, 0.0), NOW)
    assert trader.state == "EXITING" and trader.trade.exit_reason == "funding turned"
    assert "[CARRY] T1 exit: exit buy_spot: funding turned" in caplog.text


def test_carry_settlement_buffer(caplog):
    trader, sent = _trader(*CARRY, "--funding-buffer-sec", "5")
    market = _market()
    _funding(trader, market, -0.0005, "0.004", "0.004", "0.004", next_ms=NOW + 3_000)
    with caplog.at_level(logging.INFO, logger="arbitrage.trader"):
        trader.on_evaluation(_evaluation(market, 0.0), market, NOW)
    assert trader.state == FLAT and "FUNDING_BUFFER_SEC 5 would be paid against it" in caplog.text
    _funding(trader, market, -0.0005, "0.004", "0.004", "0.004", next_ms=NOW + 6_000)
    trader.on_evaluation(_evaluation(market, 0.0), market, NOW)
    assert trader.state == ENTERING


# --- the strategy in the state file ------------------------------------------------------------

def test_the_state_file_names_the_strategy_and_an_old_file_reads_as_scalp():
    trader, _ = _trader(*CARRY)
    snap = trader.snapshot()
    assert decode(encode(snap)).strategy == "carry"
    raw = json.loads(encode(snap))
    del raw["strategy"]                        # a file of an earlier version
    assert decode(json.dumps(raw)).strategy == "scalp"


def test_a_trade_of_another_strategy_is_refused_a_flat_file_is_not():
    problem = resume_problem("carry", "scalp", "state/x.json", True, "T5")
    assert problem == ("STRATEGY: 'scalp', but state/x.json holds trade T5 opened under "
                       "STRATEGY=carry (expected STRATEGY=carry until that trade is closed)")
    assert resume_problem("carry", "scalp", "state/x.json", False, None) is None
    assert resume_problem("carry", "carry", "state/x.json", True, "T5") is None


def test_the_carry_status_shows_the_estimate_and_binance_s_3_day_apr():
    trader, _ = _trader(*CARRY)
    market = _market()
    assert trader.strategy.status(trader.funding_state(market), NOW) == \
        "carry: funding history not known yet"
    _funding(trader, market, 0.003, "0.003", "0.003", "0.003")
    # 3 settlements of 0.3 % in the last 3 days: Binance's |Σ| / 3 × 365 / 2 = 54.75 %
    assert trader.strategy.status(trader.funding_state(market), NOW) == (
        "carry buy_spot: rate +0.3000% expected +270.0 bps over 0.05 h (APR +473040.0%; "
        "Binance 3-day APR 54.8%)")


def test_a_carry_investment_below_one_contract_is_refused_at_start():
    from decimal import Decimal
    from arbitrage.strategy.feasibility import Sizing, entry_problems
    settings = load_settings(["--venue", "sim", *CARRY[:2], "--carry-invest-usd", "50"], {},
                             dotenv_path=None)
    problems = entry_problems(Sizing.from_settings(settings), BTCUSDT, BTCUSD_PERP, Decimal(60000))
    assert problems == ["CARRY_INVEST_USD: 50 is less than the smallest BTCUSD_PERP order "
                        "(100 USD) (expected a larger CARRY_INVEST_USD)"]
