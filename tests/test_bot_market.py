"""The real bot (its clients, streams and engine thread) against the local exchange, in-process, so
that a test can inject a fault on the exchange and watch the bot's own books recover."""
from __future__ import annotations

import pytest

from app.check_capture import check_capture
from arbitrage.sim import LocalExchange
from tests.conftest import wait_for
from tests.harness import PERP, SPOT, BotRun


class Running(BotRun):
    """The bot in-process, for market-data faults (see tests/harness.py)."""

    def synced(self) -> bool:
        return self.md.spot.ready and self.md.perp.ready

    def agrees_with_exchange(self, symbol: str) -> bool:
        """The bot's top of book equals the exchange's own at the same update id."""
        bid, ask, last = self.sim.book_top(symbol)
        book = self.sync_of(symbol).book
        b, a = book.best_bid(), book.best_ask()
        return (book.last_update_id == last and b is not None and a is not None
                and (b[0], a[0]) == (bid, ask))


@pytest.fixture
def sim():
    ex = LocalExchange(source="synthetic", seed=5).start()
    yield ex
    ex.stop()


@pytest.fixture
def bot(sim):
    running = Running(sim)
    wait_for(running.synced, what="both books to sync")
    yield running
    running.close()


@pytest.mark.parametrize("symbol", [SPOT, PERP])
def test_a_dropped_diff_forces_a_resync_and_the_book_recovers(bot, symbol):
    sync = bot.sync_of(symbol)
    assert sync.resyncs == 0
    bot.sim.drop_next_diff(symbol)
    wait_for(lambda: sync.resyncs == 1, what="the gap to be detected")
    assert "gap" in sync.last_resync_reason
    wait_for(lambda: sync.ready, what="the book to sync again")
    wait_for(lambda: bot.agrees_with_exchange(symbol), what="the book to match the exchange's")
    assert bot.sync_of(PERP if symbol == SPOT else SPOT).resyncs == 0


def test_a_disconnect_resyncs_both_books_on_the_new_connection(bot):
    snapshots = bot.md.counters.snapshots
    bot.sim.disconnect_all()
    wait_for(lambda: bot.md.counters.disconnects >= 2, what="both streams to report the loss")
    wait_for(lambda: all(r.reconnects >= 1 and r.connected for r in bot.bot.runners),
             what="both streams to reconnect")
    wait_for(bot.synced, what="both books to sync again")
    assert bot.md.counters.snapshots >= snapshots + 2
    for symbol in (SPOT, PERP):
        wait_for(lambda: bot.agrees_with_exchange(symbol), what=f"{symbol} to match the exchange")


def test_an_out_of_date_snapshot_is_fetched_again(bot):
    snapshots = bot.md.counters.snapshots
    bot.sim.serve_stale_snapshot(SPOT, n=2)
    bot.sim.drop_next_diff(SPOT)
    wait_for(lambda: bot.md.spot.resyncs == 1, what="the gap")
    wait_for(lambda: bot.md.spot.ready, what="the spot book to sync again")
    assert bot.md.counters.snapshots >= snapshots + 3      # two stale ones, then a good one
    wait_for(lambda: bot.agrees_with_exchange(SPOT), what="the spot book to match the exchange")


def test_a_silent_stream_blocks_trading_until_the_book_is_fresh_again(sim):
    running = Running(sim, "--book-stale-ms", "600")
    try:
        wait_for(running.synced, what="both books to sync")
        wait_for(lambda: not running.bot.evaluation.blocks, what="trading to be allowed")
        sim.silence(PERP, 2.5)
        wait_for(lambda: any("perp BTCUSD_PERP book stale" in b
                             for b in running.bot.evaluation.blocks), what="the stale-book gate")
        # the silenced diffs are lost: the stream resumes with a gap, the book resyncs
        wait_for(lambda: running.md.perp.resyncs >= 1, what="the resync after the silence")
        wait_for(lambda: running.synced() and not running.bot.evaluation.blocks,
                 what="trading to be allowed again")
    finally:
        running.close()


def test_verify_books_compares_with_the_exchanges_book_ticker(sim):
    running = Running(sim, "--verify-books")
    try:
        wait_for(running.synced, what="both books to sync")
        checks = running.md.checks
        wait_for(lambda: all(c.counts.compared >= 5 for c in checks.values()),
                 what="bookTicker comparisons on both books")
        assert all(c.counts.mismatches == 0 for c in checks.values())
        assert running.md.resyncs == 0
    finally:
        running.close()


def test_a_recording_replays_through_the_local_exchange(sim, tmp_path):
    record = tmp_path / "session.txt.gz"
    running = Running(sim, "--record", str(record))
    wait_for(running.synced, what="both books to sync")
    wait_for(lambda: running.md.counters.diffs >= 100, what="some market data")
    running.close()
    # offline: the recording alone rebuilds both books with no gap
    reports = check_capture([record])
    assert set(reports) == {SPOT, PERP}
    assert all(r.resyncs == 0 and r.applied > 10 for r in reports.values()), reports
    # and the local exchange replays it to a fresh bot
    # recorded speed: the bot connects while the recording still has seconds to play
    with LocalExchange(source="replay", replay_files=[record], speed=1.0) as replay:
        again = Running(replay)
        try:
            wait_for(again.synced, what="both books to sync on the replay")
            assert again.md.resyncs == 0
        finally:
            again.close()
