"""The SIGKILL restarts of test_restart.py, with a fault active when the bot is killed and while it
restarts: a noisy venue (dropped diffs, 5xx, malformed messages, slow answers, disconnects), an
order executed but answered 503, and a rate limit. After the restart the bot must recover, never
send an order twice, and the ledger must reproduce the exchange's balances exactly."""
from __future__ import annotations

import pytest

from arbitrage.sim import LocalExchange
from tests.conftest import wait_for
from tests.test_restart import Scenario

# frequent enough that the kill and the restart both happen under faults; mild enough that the bot
# can still trade (a 5 % 5xx rate means a few retried reads per second)
NOISY = "drop=0.01,http5xx=0.05,malformed=0.003,slow=0.03:0.4,disconnect=6,seed=4"


@pytest.fixture
def noisy_sim():
    ex = LocalExchange(source="synthetic", seed=3, faults=NOISY).start()
    yield ex
    ex.stop()


@pytest.fixture
def sim():
    ex = LocalExchange(source="synthetic", seed=3).start()
    yield ex
    ex.stop()


def test_killed_while_hedged_on_a_noisy_venue_resumes_and_exits(noisy_sim, tmp_path):
    s = Scenario(noisy_sim, tmp_path)
    hold = ("--exit-bps", "-50", "--stop-bps", "50")
    first = s.bot(*hold, "--max-hold-sec", "600")
    wait_for(lambda: s.saved_state("HEDGED"), timeout=120, what="a hedged trade")
    s.kill(first)
    second = s.last_bot(*hold, "--max-hold-sec", "1")
    wait_for(lambda: second.saw(r"\[STATE\] state matches the exchange: resuming HEDGED"),
             timeout=90, what="the resume")
    wait_for(lambda: second.saw(r"\[EXIT\] T\d+ flat"), timeout=90, what="the exit by timeout")
    wait_for(lambda: second.saw(r"\[STATUS\] FLAT"), timeout=90, what="FLAT")
    counts = noisy_sim.fault_counts()
    assert counts["http5xx"] > 0 and counts["drop"] > 0, counts   # the faults really ran
    noisy_sim.calm()
    code, err = s.stop(second)
    assert code == 0 and "[HALT]" not in err, err[-3000:]
    s.check()


def test_killed_on_a_noisy_venue_with_an_entry_in_flight_recovers_it(noisy_sim, tmp_path):
    s = Scenario(noisy_sim, tmp_path)
    first = s.bot("--execution-mode", "maker", "--pair-timeout-sec", "20")
    wait_for(lambda: s.saved_state("ENTERING"), timeout=120, what="a maker entry in flight")
    s.kill(first)
    second = s.last_bot("--max-hold-sec", "2")
    wait_for(lambda: second.saw(r"\[RECOVER\]"), timeout=90, what="the recovery")
    wait_for(lambda: second.saw(r"\[STATUS\] FLAT"), timeout=120, what="FLAT after the recovery")
    noisy_sim.calm()
    code, err = s.stop(second)
    assert code == 0 and "[HALT]" not in err, err[-3000:]
    s.check()


def test_killed_while_the_exchange_executes_an_entry_it_will_answer_503(sim, tmp_path):
    """Both entry legs reach the matching engine 2 s late and are answered 503 although they
    executed; the bot is killed before either answer. The restart finds both orders by client id
    (they are filled), books them, and the run ends flat with each order sent once."""
    s = Scenario(sim, tmp_path)
    for market in ("spot", "coinm"):
        sim.delay_next_orders(market, 2.0)
        sim.answer_503_after_executing(market)
    first = s.bot()
    wait_for(lambda: s.saved_state("ENTERING"), timeout=120, what="an entry in flight")
    wait_for(lambda: sim.orders_received("spot") and sim.orders_received("coinm"), timeout=10,
             what="both legs at the exchange")
    s.kill(first)
    sent = sim.orders_received("spot"), sim.orders_received("coinm")
    executed = lambda desk: any(o.status == "FILLED" for o in desk.orders.values())  # noqa: E731
    wait_for(lambda: executed(sim.trading.spot) and executed(sim.trading.coinm), timeout=30,
             what="both legs executed (and answered 503) after the kill")
    second = s.last_bot("--max-hold-sec", "1")
    wait_for(lambda: second.saw(r"\[STATE\] entry of trade T\d+ was in flight"), timeout=60,
             what="the recovery decision")
    wait_for(lambda: second.saw(r"\[STATUS\] FLAT"), timeout=120, what="FLAT")
    code, err = s.stop(second)
    assert code == 0 and "[HALT]" not in err, err[-3000:]
    assert sent == (1, 1)                      # the first run sent each leg once, then died
    s.check()


def test_killed_during_a_rate_limit_restarts_and_waits_it_out(sim, tmp_path):
    """The exchange answers 429 to everything for 6 s; the bot is killed inside that window and
    restarted at once. The new process meets the limit (or the ban its predecessor earned), waits
    out each Retry-After, then reconciles and trades on."""
    s = Scenario(sim, tmp_path)
    first = s.bot("--exit-bps", "-50", "--stop-bps", "50", "--max-hold-sec", "600")
    wait_for(lambda: s.saved_state("HEDGED"), timeout=120, what="a hedged trade")
    sim.rate_limit_next(6.0)
    wait_for(lambda: sim.fault_counts().get("ratelimit", 0) > 0, timeout=30, what="a 429")
    s.kill(first)
    second = s.last_bot("--exit-bps", "-50", "--stop-bps", "50", "--max-hold-sec", "1")
    wait_for(lambda: second.saw(r"\[STATE\] state matches the exchange: resuming HEDGED"),
             timeout=90, what="the resume after the limit")
    wait_for(lambda: second.saw(r"\[EXIT\] T\d+ flat"), timeout=60, what="the exit")
    wait_for(lambda: second.saw(r"\[STATUS\] FLAT"), timeout=60, what="FLAT")
    code, err = s.stop(second)
    assert code == 0 and "[HALT]" not in err, err[-3000:]
    assert "429" in err or "418" in err or "Retry-After" in err
    s.check()
