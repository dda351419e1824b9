"""An entry's two orders leave before the state file records them (issue 6), without losing crash
safety: the trade id is reserved and saved while FLAT, so a restart after a kill in between finds
the legs by their client ids and completes the pair like any entry in flight.

1. the order of operations, in-process: with the entry's record held back at the disk, both legs
   still reach the local exchange;
2. the crash window, with the real program (`python -m app.main`) against a local exchange that
   outlives it: a FLAT state file naming trade R, R's legs on the exchange, and the restart must
   recover R (not halt), end FLAT, and the ledger must equal the exchange exactly.
"""
from __future__ import annotations

import json
import re
import threading
from decimal import ROUND_HALF_UP, Decimal

import pytest

from app.main import connect
from arbitrage.config import load_settings
from arbitrage.models import BUY, COINM, SELL, SPOT as SPOT_MARKET, OrderRequest
from arbitrage.sim import LocalExchange
from arbitrage.persistence.state import StateStore
from arbitrage.strategy.engine import ENTERING
from arbitrage.venues import VenueUrls
from tests.conftest import wait_for
from tests.harness import EASY, PERP, SPOT
from tests.test_restart import Scenario

QUIET = ("--enter-bps", "500", "--stop-bps", "600")   # after EASY: a first run that never enters


@pytest.fixture
def sim():
    ex = LocalExchange(source="synthetic", seed=3).start()
    yield ex
    ex.stop()


# -- 1. the legs do not wait for the disk ---------------------------------------------------------
class HeldStore(StateStore):
    """A state file whose first ENTERING write (the entry's record) waits until `release` is set;
    `held` says it is waiting. Every other write goes straight through."""

    def __init__(self, path) -> None:
        super().__init__(path)
        self.held, self.release = threading.Event(), threading.Event()

    def update(self, build):
        if not self.held.is_set() and build().engine_state == ENTERING:
            self.held.set()
            self.release.wait(timeout=120)
        return super().update(build)


def saved(path) -> dict:
    return json.loads(open(path).read())


def test_entry_legs_reach_the_exchange_while_their_record_is_held(sim, tmp_path):
    env = {"SPOT_KEY": sim.api_key, "SPOT_SECRET": sim.api_secret,
           "DAPI_KEY": sim.api_key, "DAPI_SECRET": sim.api_secret}
    state_path = tmp_path / "state.json"
    settings = load_settings(["--venue", "sim", "--sim-url", sim.rest_url, "--status-interval", "1",
                              "--trades-log", str(tmp_path / "trades_log.csv"),
                              "--state-path", str(state_path), *EASY], env, dotenv_path=None)
    stop = threading.Event()
    bot = connect(settings, VenueUrls(sim.rest_url, sim.ws_url, sim.rest_url, sim.ws_url), stop)
    reserved = saved(state_path)                    # written by the start-up reconciliation
    assert reserved["engine_state"] == "FLAT"
    r = reserved["next_trade_id"]
    assert r == bot.trader.next_trade_id
    store = HeldStore(state_path)
    bot.trader.store = store
    sent = {m: sim.orders_received(m) for m in ("spot", "coinm")}
    thread = threading.Thread(target=bot.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(store.held.is_set, timeout=120, what="an entry's record at the disk")
        wait_for(lambda: all(sim.orders_received(m) > sent[m] for m in sent), timeout=30,
                 what="both legs at the exchange while their record is held back")
        assert not store.release.is_set()
        on_disk = saved(state_path)                 # still the FLAT file that names the trade id
        assert (on_disk["engine_state"], on_disk["next_trade_id"]) == ("FLAT", r)
        assert bot.spot_client.get_order(SPOT, f"{r}-s-e1").client_order_id == f"{r}-s-e1"
        assert bot.coinm_client.get_order(PERP, f"{r}-p-e1").client_order_id == f"{r}-p-e1"
    finally:
        store.release.set()
        wait_for(lambda: not bot.trader.in_flight, timeout=60, what="the entry to complete")
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    after = saved(state_path)
    assert r in after["entry_ids"] and after["next_trade_id"] not in (None, r)
    assert bot.trader.halt_reason is None, bot.trader.halt_reason


# -- 2. killed between the send and the save ----------------------------------------------------
def flat_file_with_reserved_id(s: Scenario) -> str:
    """A first run that never trades, stopped cleanly: the state file says FLAT and names the
    trade id the next entry would use."""
    first = s.bot(*QUIET)
    wait_for(lambda: first.saw(r"\[STATUS\]"), timeout=60, what="the first run trading-ready")
    code, err = s.stop(first)
    assert code == 0, err
    state = saved(s.env["STATE_PATH"])
    assert state["engine_state"] == "FLAT" and state["next_trade_id"]
    return state["next_trade_id"]


def send_entry_legs(s: Scenario, r: str, spot_btc: Decimal, perp: bool = True) -> None:
    """What the killed run had sent: the entry's spot BUY and, unless `perp` is False, the COIN-M
    SELL of about the same notional (100 USD contracts), under R's client ids."""
    s.spot.new_order(OrderRequest(SPOT_MARKET, SPOT, BUY, "MARKET", spot_btc, f"{r}-s-e1"))
    if perp:
        bid = Decimal(str(s.sim.book_top(PERP)[0]))
        contracts = (spot_btc * bid / 100).quantize(Decimal(1), ROUND_HALF_UP)
        s.coinm.new_order(OrderRequest(COINM, PERP, SELL, "MARKET", contracts, f"{r}-p-e1"))


def test_killed_before_the_entry_was_recorded_recovers_it(sim, tmp_path):
    s = Scenario(sim, tmp_path)
    r = flat_file_with_reserved_id(s)
    send_entry_legs(s, r, Decimal("0.05"))
    second = s.last_bot("--max-hold-sec", "1")
    t = re.escape(r)
    wait_for(lambda: second.saw(rf"\[STATE\] entry of trade {t} was in flight \(its record had "
                                rf"not reached the disk"), timeout=60, what="the recovery decision")
    wait_for(lambda: second.saw(rf"\[RECOVER\] {t} entry"), timeout=60, what="the recovery")
    wait_for(lambda: second.saw(rf"\[ENTRY\] {t} hedged"), timeout=60, what="trade R hedged")
    wait_for(lambda: second.saw(rf"\[EXIT\] {t} flat"), timeout=60, what="trade R closed")
    code, err = s.stop(second)
    assert code == 0 and "[HALT]" not in err, err
    assert saved(s.env["STATE_PATH"])["next_trade_id"] != r      # never used twice
    s.check()


def test_killed_after_only_the_spot_leg_left_rescues_it(sim, tmp_path):
    s = Scenario(sim, tmp_path)
    r = flat_file_with_reserved_id(s)
    send_entry_legs(s, r, Decimal("0.05"), perp=False)
    second = s.last_bot("--max-hold-sec", "1")
    t = re.escape(r)
    wait_for(lambda: second.saw(rf"\[STATE\] entry of trade {t} was in flight"), timeout=60,
             what="the recovery decision")
    wait_for(lambda: second.saw(rf"{t}-p-e1 was not placed"), timeout=60,
             what="the perp leg found never sent")
    wait_for(lambda: second.saw(rf"\[RESCUE\] {t} unhedged"), timeout=60, what="the rescue")
    wait_for(lambda: second.saw(rf"\[ENTRY\] {t} left nothing open"), timeout=60,
             what="trade R flat after the rescue")
    code, err = s.stop(second)
    assert code == 0 and "[HALT]" not in err, err
    s.check()
