"""OrderBook: levels, best prices, lazy walks and VWAP with hand-computed numbers."""
from __future__ import annotations

import math
import random
from itertools import islice

import pytest

from arbitrage.marketdata.book import OrderBook


def make_book() -> OrderBook:
    book = OrderBook("BTCUSDT")
    book.load(bids=[(99.0, 1.0), (98.0, 3.0), (97.5, 2.0)],
              asks=[(100.0, 1.0), (101.0, 2.0), (103.0, 5.0)],
              update_id=10, event_ms=1_000, recv_ns=2_000)
    return book


def test_best_mid_and_times():
    book = make_book()
    assert book.best_bid() == (99.0, 1.0)
    assert book.best_ask() == (100.0, 1.0)
    assert book.mid() == 99.5
    assert not book.crossed()
    assert (book.last_update_id, book.last_event_ms, book.last_recv_ns) == (10, 1_000, 2_000)


def test_empty_book():
    book = OrderBook("X")
    assert book.best_bid() is None and book.best_ask() is None and book.mid() is None
    assert not book.crossed()
    assert list(book.iter_bids()) == [] and book.depth("ask", 3) == []


def test_zero_qty_removes_and_new_best_appears():
    book = make_book()
    book.apply(bids=[(99.0, 0.0)], asks=[(100.0, 0.0), (99.9, 4.0)], update_id=11)
    assert book.best_bid() == (98.0, 3.0)
    assert book.best_ask() == (99.9, 4.0)
    assert book.size() == (2, 3)
    assert book.last_update_id == 11


def test_removing_an_unknown_level_is_harmless():
    book = make_book()
    book.apply(bids=[(50.0, 0.0)], asks=[(200.0, 0.0)])
    assert book.size() == (3, 3)
    assert book.depth("bid", 5) == [(99.0, 1.0), (98.0, 3.0), (97.5, 2.0)]


def test_overwrite_is_absolute_not_additive():
    book = make_book()
    book.apply(bids=[(98.0, 0.5)], asks=[])
    assert book.depth("bid", 2) == [(99.0, 1.0), (98.0, 0.5)]


def test_iteration_is_best_first_and_lazy():
    book = make_book()
    assert list(book.iter_asks()) == [(100.0, 1.0), (101.0, 2.0), (103.0, 5.0)]
    assert list(book.iter_bids()) == [(99.0, 1.0), (98.0, 3.0), (97.5, 2.0)]
    walk = book.iter_asks()
    assert next(walk) == (100.0, 1.0)  # a generator: nothing beyond what is asked for
    assert list(islice(book.iter_bids(), 2)) == [(99.0, 1.0), (98.0, 3.0)]
    assert book.depth("ask", 2) == [(100.0, 1.0), (101.0, 2.0)]
    with pytest.raises(ValueError):
        book.depth("buy", 1)


def test_crossed():
    book = make_book()
    book.apply(bids=[(100.0, 1.0)], asks=[])  # bid equal to the best ask
    assert book.crossed()


def test_load_replaces_everything():
    book = make_book()
    book.load(bids=[(10.0, 1.0)], asks=[(11.0, 1.0)], update_id=5)
    assert book.size() == (1, 1) and book.mid() == 10.5 and book.last_update_id == 5


def test_vwap_qty():
    book = make_book()
    # 1 @ 100 + 1.5 @ 101 = 251.5 over 2.5
    assert book.vwap_qty("ask", 2.5) == pytest.approx((100.6, 2.5))
    # selling 2 walks the bids: 99 + 98 = 197 over 2
    assert book.vwap_qty("bid", 2.0) == pytest.approx((98.5, 2.0))
    # more than the book holds: 100 + 202 + 515 = 817 over 8
    assert book.vwap_qty("ask", 10.0) == pytest.approx((102.125, 8.0))
    vwap, filled = OrderBook("X").vwap_qty("ask", 1.0)
    assert math.isnan(vwap) and filled == 0.0


def test_vwap_notional_spot():
    book = make_book()
    # 100 USD (1 BTC) at 100, then 202 USD (2 BTC) at 101: 302 USD for 3 BTC
    assert book.vwap_notional("ask", 302.0) == pytest.approx((302.0 / 3.0, 3.0, 302.0))
    # 150 USD: 1 BTC at 100, then 50/101 BTC at 101
    qty = 1.0 + 50.0 / 101.0
    assert book.vwap_notional("ask", 150.0) == pytest.approx((150.0 / qty, qty, 150.0))


def test_vwap_notional_inverse_is_harmonic():
    book = OrderBook("BTCUSD_PERP")
    book.load(bids=[(49_900.0, 10.0)], asks=[(50_000.0, 2.0), (50_100.0, 3.0)])
    # 2 contracts at 50000 (200 USD) + 2 of 3 contracts at 50100 (200 USD):
    # harmonic mean 2 / (1/50000 + 1/50100) = 50049.95004995005
    vwap, contracts, usd = book.vwap_notional("ask", 400.0, contract_size=100.0)
    assert vwap == pytest.approx(50_049.95004995005, rel=1e-12)
    assert (contracts, usd) == (4.0, 400.0)
    # partial contract: the caller rounds to the grid
    assert book.vwap_notional("ask", 250.0, contract_size=100.0)[1] == pytest.approx(2.5)
    # beyond the book: 500 USD in 5 contracts
    vwap, contracts, usd = book.vwap_notional("ask", 1_000.0, contract_size=100.0)
    assert (contracts, usd) == (5.0, 500.0)
    assert vwap == pytest.approx(500.0 / (200.0 / 50_000.0 + 300.0 / 50_100.0))
    assert book.vwap_notional("bid", 300.0, contract_size=100.0) == pytest.approx((49_900.0, 3.0, 300.0))


def test_random_updates_match_a_naive_book():
    """Sorted-list bookkeeping against a plain dict sorted on demand."""
    rng = random.Random(7)
    book = OrderBook("X")
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    for _ in range(3_000):
        side, ref = (book.apply, bids) if rng.random() < 0.5 else (book.apply, asks)
        price = round(rng.uniform(90, 110), 1)
        qty = 0.0 if rng.random() < 0.4 else round(rng.uniform(0.1, 5), 2)
        if ref is bids:
            side([(price, qty)], [])
        else:
            side([], [(price, qty)])
        if qty:
            ref[price] = qty
        else:
            ref.pop(price, None)
    assert list(book.iter_bids()) == sorted(bids.items(), reverse=True)
    assert list(book.iter_asks()) == sorted(asks.items())
    assert book.size() == (len(bids), len(asks))
