"""Issue 10 item 8: DRY_RUN results meant nothing — a dry order "filled" at the price the caller
passed in, so a dry exit filled at the entry's own prices. A dry order now fills on paper by
walking the local book like the real order would, with commissions at the account's rates.

Hand numbers: BTCUSDT asks 60000.00 × 0.1, 60001.00 × 0.2; bids 59999.00 × 0.05, 59998.00 × 1;
BTCUSD_PERP (100 USD contracts) bids 60010.0 × 100, 60000.0 × 500; asks 59990.0 × 1000.
Rates: spot taker 0.1 %, maker 0.1 %; COIN-M taker 0.05 %, maker 0.02 % (the sim's, Binance's)."""
from __future__ import annotations

import threading
from decimal import Decimal as D

from arbitrage.marketdata.book import OrderBook
from arbitrage.execution.pairs import PairExecutor, PairSpec
from arbitrage.models import BUY, COINM, SELL, SPOT, OrderRequest
from arbitrage.execution.paper import PaperDesk
from arbitrage.strategy.entry import FeeRates
from tests.test_entry import BTCUSD_PERP, BTCUSDT

RATES = FeeRates(spot_maker=D("0.001"), spot_taker=D("0.001"), coinm_maker=D("0.0002"),
                 coinm_taker=D("0.0005"))
# 3 · 60010 · 60000 / (2 · 60000 + 60010): the harmonic mean of 100 contracts at 60010 and 50 at
# 60000, i.e. 150·100 / (100·100/60010 + 50·100/60000)
PERP_SELL_150 = D("60006.66629632")


def books():
    spot, perp = OrderBook("BTCUSDT"), OrderBook("BTCUSD_PERP")
    spot.load([(59999.0, 0.05), (59998.0, 1.0)], [(60000.0, 0.1), (60001.0, 0.2)])
    perp.load([(60010.0, 100.0), (60000.0, 500.0)], [(59990.0, 1000.0)])
    return spot, perp


def desk() -> PaperDesk:
    spot, perp = books()
    d = PaperDesk(lambda: (spot, perp), BTCUSDT, BTCUSD_PERP, RATES, clock=lambda: 1_700_000_000.0)
    d.snapshot(D("0.25"), D(150))
    return d


def spot_req(side, qty, cid="T1-s-e1"):
    return OrderRequest(SPOT, "BTCUSDT", side, "MARKET", D(qty), cid)


def perp_req(side, qty, cid="T1-p-e1", reduce_only=False):
    return OrderRequest(COINM, "BTCUSD_PERP", side, "MARKET", D(qty), cid, reduce_only=reduce_only)


def test_spot_buy_walks_the_asks_and_pays_its_commission_in_btc():
    s = desk().fill(spot_req(BUY, "0.25"))
    # 0.1 @ 60000 + 0.15 @ 60001 = 6000 + 9000.15 = 15000.15 USDT for 0.25 BTC
    assert (s.status, s.executed_qty, s.cum_quote) == ("FILLED", D("0.25"), D("15000.15"))
    assert s.avg_price == D("60000.6")
    assert [(f.price, f.qty) for f in s.fills] == [(D("60000"), D("0.1")), (D("60001"), D("0.15"))]
    assert [(f.commission, f.commission_asset) for f in s.fills] == \
        [(D("0.0001"), "BTC"), (D("0.00015"), "BTC")]          # 0.1 % of each fill's BTC


def test_spot_sell_walks_the_bids_and_pays_its_commission_in_usdt():
    s = desk().fill(spot_req(SELL, "0.25"))
    # 0.05 @ 59999 + 0.2 @ 59998 = 2999.95 + 11999.6 = 14999.55 USDT; / 0.25 = 59998.2
    assert (s.executed_qty, s.cum_quote, s.avg_price) == (D("0.25"), D("14999.55"), D("59998.2"))
    assert [(f.commission, f.commission_asset) for f in s.fills] == \
        [(D("2.99995"), "USDT"), (D("11.9996"), "USDT")]      # 0.1 % of 2999.95 and 11999.6


def test_coinm_contracts_walk_with_the_harmonic_vwap_of_an_inverse_contract():
    d = desk()
    s = d.fill(perp_req(SELL, 150))
    assert (s.status, s.executed_qty) == ("FILLED", D(150))
    assert s.avg_price == PERP_SELL_150 != D("60006.67")      # not the arithmetic mean
    # baseQty per fill: 100·100/60010 = 0.16663889…, 50·100/60000 = 0.08333333…
    assert [f.quote_qty for f in s.fills] == [D("0.16663889"), D("0.08333333")]
    # 0.05 %, truncated to 8 places: 0.0000833194… and 0.0000416666…
    assert [f.commission for f in s.fills] == [D("0.00008331"), D("0.00004166")]
    assert {f.commission_asset for f in s.fills} == {"BTC"}
    assert [f.realized_pnl for f in s.fills] == [D(0), D(0)]   # opening a short
    # closing it at 59990: a short gains 150·100·(1/59990 − 1/entry) = 0.0000694467… BTC
    c = d.fill(perp_req(BUY, 150, "T1-p-x1", reduce_only=True))
    assert c.avg_price == D("59990") and c.fills[0].realized_pnl == D("0.00006945")
    assert d.position == 0


def test_a_book_too_thin_fills_what_it_has_and_the_order_expires():
    d = desk()
    s = d.fill(spot_req(BUY, "0.5"))                         # only 0.3 BTC on the asks
    assert (s.status, s.executed_qty, s.cum_quote) == ("EXPIRED", D("0.3"), D("18000.2"))
    again = d.fill(spot_req(BUY, "0.1", "T1-s-r1"))          # that liquidity is gone now
    assert (again.status, again.executed_qty) == ("EXPIRED", D(0))


def test_a_remainder_walks_on_from_where_its_leg_stopped():
    d = desk()
    d.fill(spot_req(BUY, "0.05"))                            # 0.05 of the 0.1 at 60000
    s = d.fill(spot_req(BUY, "0.1", "T1-s-x2"))
    # 0.05 @ 60000 + 0.05 @ 60001 = 6000.05 for 0.1
    assert (s.cum_quote, s.avg_price) == (D("6000.05"), D("60000.5"))


def test_a_limit_order_fills_at_its_price_at_the_maker_rate():
    d = desk()
    req = OrderRequest(COINM, "BTCUSD_PERP", SELL, "LIMIT", D(10), "T1-p-e1", price=D("60010.0"),
                       time_in_force="GTX")
    s = d.fill(req)
    assert s.avg_price == D("60010.00000000") and s.fills[0].maker
    # 10·100/60010 = 0.016663889… BTC; 0.02 % = 0.0000033327… → 0.00000333
    assert s.fills[0].commission == D("0.00000333")


class NoVenue:
    """DRY_RUN must not touch the venue at all."""

    def __getattr__(self, name):
        raise AssertionError(f"DRY_RUN called the venue: {name}")


def test_a_dry_exit_is_priced_by_the_book_not_by_the_entry():
    spot, perp = books()
    done: list = []
    finished = threading.Event()
    executor = PairExecutor(NoVenue(), NoVenue(), "BTC", pair_timeout_s=1.0, poll_s=0.01,
                            dry_run=True, on_done=lambda r: (done.append(r), finished.set()),
                            paper=PaperDesk(lambda: (spot, perp), BTCUSDT, BTCUSD_PERP, RATES))
    try:
        # the trade was entered long spot at 50000 / short 150 contracts at 50100: its exit
        # sells the spot and buys the contracts back at what the books offer now
        spec = PairSpec("T1", "exit", spot_req(SELL, "0.25", "T1-s-x1"),
                        perp_req(BUY, 150, "T1-p-x1", reduce_only=True), D("50000"), D("50100"),
                        BTCUSDT, BTCUSD_PERP)
        executor.submit(spec)
        assert finished.wait(10)
    finally:
        executor.shutdown()
    r = done[0]
    assert r.halt_reason is None
    assert (r.spot_vwap, r.perp_vwap) == (D("59998.2"), D("59990"))
    assert (r.spot_btc, r.contracts) == (D("-0.25"), D(150))
    # the paper fills are the pair's fills: the ledger rows (kept in memory) get real fees
    fills = r.fills["T1-s-x1"]
    assert sum((f.commission for f in fills), D(0)) == D("14.99955")
    assert executor.orders_sent == 0


def test_the_real_bot_in_dry_run_reports_paper_results_and_writes_nothing():
    import io

    from app.summary import print_summary
    from arbitrage.sim import LocalExchange
    from tests.harness import EASY, BotRun

    sim = LocalExchange(source="synthetic", seed=3).start()
    try:
        r = BotRun(sim, *EASY, "--dry-run")
        r.wait_closed_trades(2)
        r.close()
        assert sim.orders_received("spot") == 0 and sim.orders_received("coinm") == 0
        assert not r.trades_log.exists() and not r.state_path.exists()
        for t in r.trader.closed:
            # the exit was priced by the book of its moment, not by the entry's prices
            assert (t.exit_spot_vwap, t.exit_perp_vwap) != (t.spot_vwap, t.perp_vwap), t
        rows = r.bot.accounting.rows
        closes = [row for row in rows if row.event == "close"]
        assert len(closes) >= 2 and all(row.net_btc is not None for row in closes)
        assert all(row.fee_btc_cm > 0 and row.fee_btc_spot > 0 for row in rows)
        out = io.StringIO()
        print_summary(r.bot, r.bot.stats, out)
        assert "on paper" in out.getvalue() and "net BTC" in out.getvalue()
    finally:
        sim.stop()
