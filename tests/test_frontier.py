"""The frontier against hand-computed numbers and against a brute-force walk."""
import pytest

from arbitrage.strategy.frontier import BUY_SPOT, SELL_SPOT, compute_frontier


def brute_edge(direction, spot, perp, s, v):
    """Average edge at notional v by filling both ladders in small USD slices (independent check)."""
    def btc_for(levels, usd, cs):
        got, left = 0.0, usd
        for price, qty in levels:
            cap = qty * (cs if cs else price)
            take = min(cap, left)
            got += take / price
            left -= take
            if left <= 1e-12:
                break
        return got
    bs, bp = btc_for(spot, v, None), btc_for(perp, v, s)
    return (bs / bp - 1) * 1e4 if direction == BUY_SPOT else (bp / bs - 1) * 1e4


def test_cap_bites_on_a_deep_top_level():
    # Spot ask 50 000 x 1 BTC, perp bid 50 050 x 1000 contracts of 100 USD: 10 bps everywhere.
    f = compute_frontier(BUY_SPOT, [(50000.0, 1.0)], [(50050.0, 1000.0)], 100.0, 6.0, 0.5)
    assert f.capped
    assert f.size_usd == pytest.approx(25000.0)
    assert f.spot_btc == pytest.approx(0.5)
    assert f.perp_btc == pytest.approx(25000.0 / 50050.0)
    assert f.edge_bps == pytest.approx(10.0, abs=1e-9)
    assert f.top_edge_bps == pytest.approx(10.0, abs=1e-9)


def test_edge_crossing_inside_a_segment_is_solved_exactly():
    # Hand computation (S = 1): segment 1 fills 100 USD at 100 (spot) vs 101 (perp): 1 BTC vs 100/101.
    # Segment 2 is flat at 101/101, so the average falls; it reaches 50 bps when
    # 1 + t/101 = 1.005·(100/101 + t/101)  =>  t = 100 USD. V = 200.
    spot_asks = [(100.0, 1.0), (101.0, 100.0)]
    perp_bids = [(101.0, 100.0), (101.0, 1000.0)]
    f = compute_frontier(BUY_SPOT, spot_asks, perp_bids, 1.0, 50.0, 0.0)
    assert not f.capped
    assert f.size_usd == pytest.approx(200.0)
    assert f.spot_btc == pytest.approx(1.0 + 100.0 / 101.0)
    assert f.edge_bps == pytest.approx(50.0, abs=1e-9)
    assert f.top_edge_bps == pytest.approx(100.0, abs=1e-9)


def test_no_size_when_the_top_is_below_enter():
    f = compute_frontier(BUY_SPOT, [(60000.0, 5.0)], [(60020.0, 5000.0)], 100.0, 6.0, 0.0)
    assert f.top_edge_bps == pytest.approx((60020 / 60000 - 1) * 1e4)
    assert f.size_usd == 0.0 and not f.tradable


def test_exhausted_book_takes_everything():
    f = compute_frontier(BUY_SPOT, [(60000.0, 0.1)], [(60100.0, 1000.0)], 100.0, 6.0, 0.0)
    assert f.size_usd == pytest.approx(6000.0)
    assert f.spot_btc == pytest.approx(0.1)


def test_sell_direction_mirrors():
    # Perp cheap: sell spot at 60 060 bid, buy perp at 60 000 ask (10 bps).
    f = compute_frontier(SELL_SPOT, [(60060.0, 0.2)], [(60000.0, 1000.0)], 100.0, 6.0, 0.5)
    assert f.size_usd == pytest.approx(0.2 * 60060.0)
    assert f.spot_px == pytest.approx(60060.0)
    assert f.perp_px == pytest.approx(60000.0)
    assert f.edge_bps == pytest.approx(10.0, abs=1e-9)


@pytest.mark.parametrize("direction", [BUY_SPOT, SELL_SPOT])
def test_matches_brute_force_on_a_layered_book(direction):
    # Real ticks: spot 0.01, perp 0.1, contract 100 USD; perp rich for buy-spot, cheap for sell-spot.
    if direction == BUY_SPOT:
        spot = [(61000.00 + 0.01 * i * 7, 0.05 + 0.03 * i) for i in range(40)]
        perp = [(61060.0 - 0.1 * i * 9, 20 + 7 * i) for i in range(40)]
    else:
        spot = [(61060.00 - 0.01 * i * 7, 0.05 + 0.03 * i) for i in range(40)]
        perp = [(61000.0 + 0.1 * i * 9, 20 + 7 * i) for i in range(40)]
    f = compute_frontier(direction, spot, perp, 100.0, 6.0, 0.0)
    assert f.tradable and not f.capped
    assert f.levels_touched < 80          # did not walk the whole book
    assert brute_edge(direction, spot, perp, 100.0, f.size_usd) == pytest.approx(6.0, abs=1e-6)
    assert brute_edge(direction, spot, perp, 100.0, f.size_usd * 1.01) < 6.0
    assert f.edge_bps == pytest.approx(6.0, abs=1e-6)


def test_empty_books():
    f = compute_frontier(BUY_SPOT, [], [(1.0, 1.0)], 100.0, 6.0, 0.0)
    assert f.top_edge_bps is None and not f.tradable
