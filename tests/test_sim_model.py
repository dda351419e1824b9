"""The synthetic market and the exchange's book, driven tick by tick without any server."""
from __future__ import annotations

from arbitrage.sim.book import SimBook
from arbitrage.sim.market import DEPTH, MARK, Market
from arbitrage.sim.marks import funding_rate, next_funding_ms
from arbitrage.sim.symbols import SYMBOLS, resolve
from arbitrage.sim.synthetic import SyntheticSource

START_MS = 1_723_161_600_000      # 2024-08-09 00:00:00 UTC, a funding time


def run_model(seed: int, ticks: int, symbols=None, **kw) -> tuple[Market, list[tuple[str, str, dict]]]:
    market = Market()
    market.clock_ms = lambda: START_MS
    source = SyntheticSource(resolve(symbols), seed=seed, **kw)
    source.prepare(market)
    events: list[tuple[str, str, dict]] = []
    market.add_listener(lambda s, c, p: events.append((s, c, p)))
    for i in range(ticks):
        source.tick(market, START_MS + 100 * (i + 1))
    return market, events


def test_same_seed_same_market_other_seed_other_market():
    _, a = run_model(7, 50)
    _, b = run_model(7, 50)
    _, c = run_model(8, 50)
    assert a == b
    assert a != c


def test_books_are_layered_on_the_tick_grid_with_tight_spreads():
    market, events = run_model(4, 200)
    for sym, book in market.books.items():
        spec = book.spec
        assert 40 <= len(book.bids) <= 60 and 40 <= len(book.asks) <= 60, sym
        spread_ticks = round((book.best_ask() - book.best_bid()) / spec.tick)
        assert spread_ticks == 1 if spec.is_spot else 1 <= spread_ticks <= 2
        for price in list(book.bids) + list(book.asks):
            assert abs(price / spec.tick - round(price / spec.tick)) < 1e-6
        mid = book.mid()
        usd = sum(p * q if spec.is_spot else q * spec.contract_size
                  for p, q in book.asks.items() if p <= mid * 1.0003)
        assert 1_000 < usd < 500_000, (sym, usd)       # a few thousand to some tens of thousands
    diffs = [p for s, c, p in events if c == DEPTH and s == "BTCUSDT"]
    assert len(diffs) == 200
    assert all(0 < len(d["b"]) + len(d["a"]) < 60 for d in diffs)       # only what changed


def test_spread_crosses_entry_and_returns_under_exit_within_a_minute():
    for seed in (7, 11):
        _, events = run_model(seed, 600, symbols=["BTCUSD_PERP", "ETHUSD_PERP"])
        for perp in ("BTCUSD_PERP", "ETHUSD_PERP"):
            spreads = [(float(p["p"]) / float(p["i"]) - 1) * 1e4 for s, c, p in events if c == MARK and s == perp]
            assert len(spreads) == 60
            up = sum(1 for x, y in zip(spreads, spreads[1:]) if abs(x) < 6 <= abs(y))
            down = sum(1 for x, y in zip(spreads, spreads[1:]) if abs(x) >= 2 > abs(y))
            assert up >= 2 and down >= 2, (seed, perp, up, down)


def test_diff_events_rebuild_the_book_exactly():
    market, events = run_model(5, 100, symbols=["ETHUSDT", "ETHUSD_PERP"])
    for sym in ("ETHUSDT", "ETHUSD_PERP"):
        book = market.books[sym]
        diffs = [p for s, c, p in events if c == DEPTH and s == sym]
        replica = SimBook(book.spec)
        # the same seed with no ticks gives the book as it was before the first diff
        fresh, _ = run_model(5, 0, symbols=["ETHUSDT", "ETHUSD_PERP"])
        start = fresh.books[sym]
        replica.load(list(start.bids.items()), list(start.asks.items()), start.last_update_id)
        for d in diffs:
            if book.spec.is_spot:
                assert d["U"] == replica.last_update_id + 1
            else:
                assert d["pu"] == replica.last_update_id
            replica.apply_recorded(d)
        assert replica.bids == book.bids and replica.asks == book.asks
        assert replica.last_update_id == book.last_update_id


def test_marks_funding_and_intervals():
    _, events = run_model(2, 20, symbols=["BTCUSD_PERP"], funding_interval_sec=60)
    marks = [p for s, c, p in events if c == MARK]
    assert len(marks) == 2 and all(m["T"] % 60_000 == 0 and m["T"] > m["E"] for m in marks)
    assert next_funding_ms(START_MS, 8 * 3600) == START_MS + 8 * 3600 * 1000
    assert next_funding_ms(START_MS - 1, 8 * 3600) == START_MS
    assert funding_rate(0.0) == 0.0001                 # small basis: the interest rate
    assert abs(funding_rate(0.0008) - 0.0003) < 1e-12   # large basis: P + clamp(I - P)
    assert funding_rate(1.0) == 0.025


def test_wire_formats_of_the_symbols():
    assert SYMBOLS["BTCUSDT"].fmt_price(61837.63) == "61837.63000000"
    assert SYMBOLS["BTCUSDT"].fmt_qty(0.32332) == "0.32332000"
    assert SYMBOLS["BTCUSD_PERP"].fmt_price(61804.7) == "61804.7"
    assert SYMBOLS["BTCUSD_PERP"].fmt_qty(35.0) == "35"
    assert SYMBOLS["ETHUSD_PERP"].fmt_price(2500.5) == "2500.50"
    spec = SYMBOLS["BTCUSDT"]
    assert spec.round_price(6183763) == float("61837.63")
