from arbitrage.strategy.risk import FeedState, MarketLimits, market_blocks
from arbitrage.strategy.signals import spread_bps

MS = 1_000_000
LIMITS = MarketLimits(book_stale_ms=5000, mark_stale_ms=3000, max_skew_ms=500)


def feeds(spot_t, perp_t, mark_t, spot_ready=True):
    return (FeedState("spot BTCUSDT", spot_ready, "" if spot_ready else "buffering", spot_t),
            FeedState("perp BTCUSD_PERP", True, "", perp_t),
            FeedState("mark BTCUSD_PERP", mark_t > 0, "", mark_t))


def test_spread_bps():
    assert abs(spread_bps(60060.0, 60000.0) - 10.0) < 1e-9
    assert spread_bps(59940.0, 60000.0) < 0


def test_fresh_market_passes():
    now = 10_000 * MS
    assert market_blocks(*feeds(now - 100 * MS, now - 50 * MS, now - 900 * MS), now, LIMITS) == []


def test_each_gate_has_its_reason():
    now = 100_000 * MS
    r = market_blocks(*feeds(now - 100 * MS, now - 700 * MS, now - 100 * MS), now, LIMITS)
    assert r == ["book skew 600 ms > MAX_BOOK_SKEW_MS 500"]
    r = market_blocks(*feeds(now - 6000 * MS, now - 6000 * MS, now - 100 * MS), now, LIMITS)
    assert any("spot BTCUSDT book stale" in x for x in r) and any("perp BTCUSD_PERP book stale" in x for x in r)
    r = market_blocks(*feeds(now, now, now - 4000 * MS), now, LIMITS)
    assert r == ["mark BTCUSD_PERP stale (4000 ms > MARK_STALE_MS 3000)"]
    r = market_blocks(*feeds(now, now, 0, spot_ready=False), now, LIMITS)
    assert "spot BTCUSDT book not ready (buffering)" in r and "mark BTCUSD_PERP not received yet" in r


def test_market_clear_agrees_with_market_blocks_everywhere_including_the_boundaries():
    """The engine's fast check must say "clear" exactly when market_blocks has no reason."""
    import itertools
    from arbitrage.strategy.risk import market_clear
    now = 100_000 * MS
    ages = [0, 499 * MS, 500 * MS, 501 * MS, 2999 * MS, 3000 * MS, 3001 * MS, 5000 * MS, 5001 * MS]
    checked = blocked = 0
    for s_age, p_age, m_age, s_ready, p_ready, m_seen in itertools.product(
            ages, ages, ages, (True, False), (True, False), (True, False)):
        spot = FeedState("spot", s_ready, "" if s_ready else "buffering", now - s_age)
        perp = FeedState("perp", p_ready, "" if p_ready else "buffering", now - p_age)
        mark = FeedState("mark", m_seen, "", now - m_age if m_seen else 0)
        fast = market_clear(s_ready, now - s_age, p_ready, now - p_age,
                            now - m_age if m_seen else None, now, LIMITS)
        assert fast == (market_blocks(spot, perp, mark, now, LIMITS) == []), (s_age, p_age, m_age)
        checked += 1
        blocked += not fast
    assert checked == 9 ** 3 * 8 and 0 < blocked < checked
