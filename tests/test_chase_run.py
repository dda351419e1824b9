"""EXECUTION_MODE=chase with the real bot against the local exchange over loopback (issue 15):
the spot leg rests at the touch (queue model risk_averse), each fill hedged at once with a COIN-M
MARKET order; a chase that gives up leaves nothing open; an emergency unwind closes both legs, and
one that fails halts. The ledger is exact in each (one row per execution, the invariant to 0)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from arbitrage import models
from arbitrage.exchanges.errors import OrderNotFound
from arbitrage.sim import LocalExchange
from arbitrage.accounting.tradelog import read_rows
from tests.conftest import wait_for
from tests.harness import EASY, PERP, SPOT, BotRun

CHASE = ("--execution-mode", "chase", "--pair-timeout-sec", "4")


@pytest.fixture
def sim():
    ex = LocalExchange(source="synthetic", seed=3, queue_model="risk_averse").start()
    yield ex
    ex.stop()


def ledger_exact(r: BotRun) -> None:
    """Every execution of the bot's orders in exactly one ledger row; the invariant to the unit."""
    r.assert_exchange_agrees()
    inv = r.bot.last_invariant
    assert inv is not None and inv.ok, inv.describe()
    rows = read_rows(r.trades_log)
    for market, client, symbol in (("spot", r.bot.spot_client, SPOT),
                                   ("coinm", r.bot.coinm_client, PERP)):
        column = "spot_orderId" if market == "spot" else "cm_orderId"
        booked = [i for row in rows for i in (getattr(row, column) or "").split()]
        assert len(booked) == len(set(booked)), f"a {market} order in two rows"


def chase_orders(r: BotRun, trade_id: str, leg: str):
    """The chase's orders on the exchange: `<trade>-s-e<n>` or `<trade>-p-e<n>`, in order (a
    post-only order refused for taking is not on the exchange: its id is skipped)."""
    client, symbol = (r.bot.spot_client, SPOT) if leg == "s" else (r.bot.coinm_client, PERP)
    out, missing, n = [], 0, 1
    while missing < 3:
        try:
            out.append(client.get_order(symbol, f"{trade_id}-{leg}-e{n}"))
            missing = 0
        except OrderNotFound:
            missing += 1
        n += 1
    return out


@pytest.mark.parametrize("transport", ["rest", "ws"])
def test_a_chase_that_fills_in_parts_hedges_each_part(sim, transport):
    """Fills polled (rest) or pushed by the user streams (ws): each one hedged as it is seen."""
    r = BotRun(sim, *EASY, *CHASE, "--order-transport", transport)
    stats = r.bot.trader.chase.stats
    wait_for(lambda: any(n >= 2 for n in stats.hedges_by_trade.values()) or r.trader.halt_reason,
             timeout=120, what="a chase filled in two parts or more, each hedged")
    trade_id = next(t for t, n in stats.hedges_by_trade.items() if n >= 2)
    r.close()
    assert r.trader.halt_reason is None
    spot = chase_orders(r, trade_id, "s")
    hedges = chase_orders(r, trade_id, "p")
    assert all(o.type == "LIMIT_MAKER" for o in spot)
    assert len(hedges) >= 2 and all(o.type == "MARKET" and o.status == "FILLED" for o in hedges)
    bought = sum((o.executed_qty for o in spot), Decimal(0))
    contracts = sum((o.executed_qty for o in hedges), Decimal(0))
    price = hedges[-1].avg_price
    # whole contracts for what was held: within one contract of the spot (the carried part)
    assert 0 <= bought * price / 100 - contracts < 1 + bought * Decimal("0.001") * price / 100
    rows = [row for row in read_rows(r.trades_log) if row.trade_id == trade_id and row.event == "open"]
    assert len(rows) == 1                       # every part of the chase in its one open row
    assert rows[0].Q_btc == bought and rows[0].N_cntr == contracts
    assert len(rows[0].cm_orderId.split()) == len(hedges)
    assert stats.naked_ms and max(stats.naked_usd_max, Decimal(0)) < 100   # below one contract
    ledger_exact(r)


def test_a_chase_gives_up_when_the_basis_closes_and_leaves_nothing_open(sim):
    # ENTER_BPS 3: the synthetic spread crosses it briefly and falls back, often before the
    # resting order fills
    flags = list(EASY)
    flags[flags.index("--enter-bps") + 1] = "3"
    r = BotRun(sim, *flags, *CHASE, "--chase-max-slip-bps", "50")
    stats = r.bot.trader.chase.stats
    wait_for(lambda: stats.given_up >= 1 or r.trader.halt_reason, timeout=120,
             what="a chase given up")
    wait_for(lambda: not r.trader.in_flight, timeout=30, what="the chase to finish")
    r.close()
    assert r.trader.halt_reason is None
    assert r.bot.spot_client.open_orders(SPOT) == []
    ledger_exact(r)


NO_CONVERGENCE = ("--exit-bps", "-30", "--max-hold-sec", "600")


@pytest.mark.parametrize("mode", ["chase", "taker"])
def test_an_emergency_unwind_closes_both_legs_at_market(sim, mode):
    """In every execution mode: the trader's exit path checks it before the strategy's rules."""
    r = BotRun(sim, *EASY, *CHASE[2:], "--execution-mode", mode, *NO_CONVERGENCE,
               "--emergency-unwind-bps", "2")
    wait_for(lambda: any(t.exit_reason == "emergency unwind" for t in r.trader.closed)
             or r.trader.halt_reason, timeout=120, what="an emergency unwind")
    r.close()
    assert r.trader.halt_reason is None
    t = next(t for t in r.trader.closed if t.exit_reason == "emergency unwind")
    exit_spot = r.bot.spot_client.get_order(SPOT, f"{t.trade_id}-s-x1")
    exit_perp = r.bot.coinm_client.get_order(PERP, f"{t.trade_id}-p-x1")
    assert exit_spot.type == exit_perp.type == "MARKET" and exit_perp.reduce_only
    assert exit_spot.status == exit_perp.status == "FILLED"
    closes = [row for row in read_rows(r.trades_log) if row.trade_id == t.trade_id
              and row.event == "close"]
    assert len(closes) == 1
    ledger_exact(r)


def test_a_failed_emergency_unwind_halts(sim):
    r = BotRun(sim, *EASY, *CHASE, *NO_CONVERGENCE, "--emergency-unwind-bps", "2")
    wait_for(lambda: r.trader.state == "HEDGED", timeout=120, what="a hedged chase")
    sim.reject_next_orders("coinm", 10)          # the unwind's contract leg and its remainders
    wait_for(lambda: r.trader.halt_reason, timeout=120, what="the halt")
    assert r.trader.state == "HALTED"
    assert r.trader.trade.exit_reason == "emergency unwind"
    assert "exit of BTCUSD_PERP incomplete" in r.trader.halt_reason
    r.close()
    r.assert_exchange_agrees()
    inv = r.bot.last_invariant
    assert inv is not None and inv.ok, inv.describe()


RACE = ("--chase-hedge", "race")


def race_orders(r: BotRun):
    """The running race's two orders, from the trader's pre-send record: (hedge, way back)."""
    hedge = back = None
    for req in list(r.trader.pending):
        if req.market == models.SPOT and req.client_order_id.endswith("-s-r1"):
            back = req
        elif req.market == models.COINM and req.type == "LIMIT" and req.time_in_force == "GTX":
            hedge = req
    return hedge, back


def settle_race(sim, r: BotRun, winner: str) -> None:
    """Decide the running race at the test's moment: the market trades through the winner's
    resting order(s) (the exchange fills them whole at their price). An order not resting yet,
    or gone already (the race ended by itself), is tried again at the next race."""
    hedge, back = race_orders(r)
    if hedge is None or back is None:
        return
    # still for a while: the loser must not fill by the market before the race has cancelled it
    # (a loaded CI machine gave over-hedges instead of way-back wins)
    sim.hold_still(5)
    try:
        if winner in ("way_back", "over_hedged"):
            sim.fill_resting(SPOT, back.client_order_id)
        if winner in ("hedge", "over_hedged"):
            sim.fill_resting(PERP, hedge.client_order_id)
    except ValueError:
        sim.hold_still(0)       # not this race: the market moves on


@pytest.mark.parametrize("winner", ["hedge", "way_back", "over_hedged"])
def test_a_race_is_won_by_either_side_and_an_over_hedge_is_closed(sim, winner, caplog):
    """Seed 000's race after the chase fills: a perp order at the touch against a spot order
    back at no loss. The test settles races itself (the synthetic market alone gives each
    outcome only now and then), until one is won by `winner`."""
    r = BotRun(sim, *EASY, *CHASE, *RACE)
    race = r.bot.trader.chase.race
    wait_for(lambda: race.outcomes[winner] >= 1 or r.trader.halt_reason
             or settle_race(sim, r, winner), timeout=150, interval=0.01,
             what=f"a race won by {winner}")
    wait_for(lambda: not r.trader.in_flight, timeout=60, what="the race's pair to finish")
    r.close()
    assert r.trader.halt_reason is None
    trade_id = next(t for t, o in race.by_trade.items() if o == winner)
    spot, perp = r.bot.spot_client, r.bot.coinm_client
    try:
        back = spot.get_order(SPOT, f"{trade_id}-s-r1")
    except OrderNotFound:      # refused as post-only (it would have crossed): the hedge raced alone
        back = None
    hedges = [o for o in chase_orders(r, trade_id, "p") if o.type == "LIMIT"]
    assert len(hedges) == 1 and hedges[0].price > 0
    assert back is not None or winner == "hedge"
    assert back is None or back.type == "LIMIT_MAKER"
    if winner == "hedge":
        assert hedges[0].executed_qty > 0
        assert back is None or (back.executed_qty == 0 and back.status == "CANCELED")
    elif winner == "way_back":
        assert back.executed_qty > 0 and hedges[0].executed_qty == 0
    else:
        excess = perp.get_order(PERP, f"{trade_id}-p-r1")
        assert excess.type == "MARKET" and excess.reduce_only and excess.status == "FILLED"
    # a way back lowered once is not lowered to the same quantity again (Binance: -2038)
    assert "-2038" not in caplog.text
    ledger_exact(r)


def test_a_hedge_filled_in_part_lowers_the_way_back_once(sim, caplog):
    """One contract of the race's hedge fills in a market held still: the way back is lowered
    (keep-priority amend) to the spot still unhedged, once, and the race runs to its deadline
    (the rest cancelled, the unhedged spot flattened); the ledger is exact."""
    r = BotRun(sim, *EASY, *CHASE, *RACE)
    race = r.bot.trader.chase.race
    raced: dict[str, object] = {}

    def fill_one_contract():
        hedge, back = race_orders(r)
        if hedge is None or back is None or hedge.quantity < 2:
            return False
        try:
            sim.hold_still(8)       # nothing else fills: the race runs on to its deadline
            sim.fill_resting(PERP, hedge.client_order_id, Decimal(1))
        except ValueError:          # not resting yet, or the race is over already
            return False
        raced.update(trade=hedge.client_order_id.split("-p-")[0], back=back)
        return True

    wait_for(lambda: fill_one_contract() or r.trader.halt_reason, timeout=150, interval=0.01,
             what="a race with a hedge of 2 contracts or more")
    wait_for(lambda: raced.get("trade") in race.by_trade or r.trader.halt_reason, timeout=60,
             what="that race to end")
    wait_for(lambda: not r.trader.in_flight, timeout=60, what="the race's pair to finish")
    r.close()
    assert r.trader.halt_reason is None
    back = r.bot.spot_client.get_order(SPOT, raced["back"].client_order_id)
    assert back.orig_qty < raced["back"].quantity          # lowered to what is left unhedged
    assert caplog.text.count(f"lowering {back.client_order_id} failed") == 0
    assert "-2038" not in caplog.text
    ledger_exact(r)
