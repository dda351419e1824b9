"""Restart reconciliation, pure: hand-made snapshots against hand-made exchange views."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from arbitrage.models import BUY, COINM, SELL, SPOT, OrderRequest, OrderState
from arbitrage.persistence.reconcile import (ADOPT, FRESH, HALT, RECOVER, RESUME, ExchangeView, is_ours,
                                             reconcile, reserved_entry, reserved_legs)
from arbitrage.persistence.state import EngineSnapshot
from arbitrage.strategy.engine import ENTERING, EXITING, FLAT, HALTED, HEDGED, Trade

SPOT_SYM, CM_SYM = "BTCUSDT", "BTCUSD_PERP"
TID = "T1723100000123"


def trade(direction="buy_spot", contracts="-119", held="0.19800000") -> Trade:
    return Trade(TID, direction, 1, 3.0, spot_btc=D("0.198"), spot_held=D(held),
                 contracts=D(contracts), spot_vwap=D("60000"), perp_vwap=D("60100"))


def req(leg: str, step: str, side: str, qty: str, n: int = 1) -> OrderRequest:
    market, symbol = (SPOT, SPOT_SYM) if leg == "s" else (COINM, CM_SYM)
    return OrderRequest(market, symbol, side, "MARKET", D(qty), f"{TID}-{leg}-{step}{n}",
                        reduce_only=leg == "p" and step != "e")


def order(cid: str, status: str, executed: str, orig: str, side: str = SELL,
          market: str = COINM) -> OrderState:
    symbol = CM_SYM if market == COINM else SPOT_SYM
    return OrderState(market, symbol, 42, cid, side, "LIMIT", status, D(orig), D(executed), D(0),
                      None, D("60000"), False, 1)


def snap(state: str, **changes) -> EngineSnapshot:
    base = dict(spot_symbol=SPOT_SYM, coinm_symbol=CM_SYM, venue="sim", saved_ms=5,
                engine_state=state, baseline_contracts=D(0),
                trade=None if state == FLAT else trade(),
                pair_kind={ENTERING: "entry", EXITING: "exit"}.get(state))
    base.update(changes)
    return EngineSnapshot(**base)


def view(position="0", open_orders=(), orders=None, spot_total="1") -> ExchangeView:
    return ExchangeView(tuple(open_orders), dict(orders or {}), D(position), D(spot_total))


def test_client_id_form():
    assert is_ours("T1723100000123-p-e1") and is_ours("T1-s-x2") and is_ours("T1-p-r12")
    assert not is_ours("web_abc123") and not is_ours("T1-q-e1") and not is_ours("T1-s-e")
    assert not is_ours("") and not is_ours("x-T1-s-e1 ")


# -- fresh ----------------------------------------------------------------------------------------
def test_fresh_takes_the_position_as_baseline():
    d = reconcile(None, view("-3"), adopt=False)
    assert d.action == FRESH and d.baseline_contracts == D(-3) and d.snapshot is None
    assert "-3 contracts is the baseline" in d.message


def test_fresh_ignores_foreign_open_orders_but_says_so():
    d = reconcile(None, view("0", [order("web_123", "NEW", "0", "5")]), adopt=False)
    assert d.action == FRESH
    assert any("web_123" in line and "left alone" in line for line in d.details)


def test_no_state_but_open_orders_of_ours_halts():
    d = reconcile(None, view("0", [order("T9-p-e1", "NEW", "0", "120")]), adopt=False)
    assert d.action == HALT and d.snapshot is None
    assert "open order T9-p-e1 on BTCUSD_PERP (NEW, 0/120 filled)" in d.message
    assert "inspect: GET /dapi/v1/openOrders?symbol=BTCUSD_PERP" in d.details


# -- resume -------------------------------------------------------------------------------------
def test_resume_flat():
    s = snap(FLAT, baseline_contracts=D(-5))
    d = reconcile(s, view("-5", [order("web_1", "NEW", "0", "1")]), adopt=False)
    assert d.action == RESUME and d.snapshot == s and d.baseline_contracts == D(-5)


def test_resume_flat_without_baseline_takes_the_position():
    d = reconcile(snap(FLAT, baseline_contracts=None), view("7"), adopt=False)
    assert d.action == RESUME and d.snapshot.baseline_contracts == D(7)


def test_resume_hedged():
    s = snap(HEDGED, baseline_contracts=D(-1))
    d = reconcile(s, view("-120", spot_total="0.2"), adopt=False)
    assert d.action == RESUME and d.snapshot == s
    assert f"HEDGED in trade {TID}" in d.message


def test_sell_spot_hedge_makes_no_spot_claim():
    s = snap(HEDGED, trade=trade("sell_spot", contracts="119", held="-0.198"))
    assert reconcile(s, view("119", spot_total="0"), adopt=False).action == RESUME


# -- halt ---------------------------------------------------------------------------------------
def test_hedged_position_differs():
    d = reconcile(snap(HEDGED), view("-120"), adopt=False)
    assert d.action == HALT
    assert (f"COIN-M position of BTCUSD_PERP is -120 contracts, the state file expects -119 "
            f"(baseline 0 + trade {TID} -119)") in d.message
    assert d.snapshot.engine_state == HALTED and d.snapshot.halt_reason == d.message
    assert d.snapshot.trade == trade()                 # kept for inspection / a later --adopt
    for cmd in ("inspect: python -m app.main --print-config", "inspect: GET /dapi/v1/positionRisk",
                "inspect: GET /api/v3/openOrders?symbol=BTCUSDT",
                "inspect: GET /dapi/v1/openOrders?symbol=BTCUSD_PERP"):
        assert any(line.startswith(cmd) for line in d.details), cmd
    assert "--adopt" in d.details[-1]


def test_flat_position_differs():
    d = reconcile(snap(FLAT, baseline_contracts=D(2)), view("0"), adopt=False)
    assert d.action == HALT
    assert ("COIN-M position of BTCUSD_PERP is 0 contracts, the state file expects 2 "
            "(baseline 2, no trade open)") in d.message


def test_open_order_of_ours_unknown_to_the_state():
    stray = order(f"{TID}-p-e1", "NEW", "0", "120")
    d = reconcile(snap(HEDGED), view("-119", [stray]), adopt=False)
    assert d.action == HALT
    assert d.message.endswith(f"open order {TID}-p-e1 on BTCUSD_PERP (NEW, 0/120 filled) not known "
                              f"to the state")


def test_every_difference_is_listed():
    stray = order("T5-s-x1", "PARTIALLY_FILLED", "0.001", "0.002", market=SPOT)
    d = reconcile(snap(FLAT), view("3", [stray]), adopt=False)
    assert "(and 1 more)" in d.message
    assert any("T5-s-x1 on BTCUSDT (PARTIALLY_FILLED, 0.001/0.002 filled)" in x for x in d.details)
    assert any("is 3 contracts, the state file expects 0" in x for x in d.details)


def test_hedged_buy_spot_whose_btc_is_gone():
    d = reconcile(snap(HEDGED), view("-119", spot_total="0.1"), adopt=False)
    assert d.action == HALT
    assert ("spot holds 0.1 BTC (free + locked), less than the 0.19800000 BTC trade "
            f"{TID} bought") in d.message


def test_hedged_without_baseline_halts():
    d = reconcile(snap(HEDGED, baseline_contracts=None), view("-119"), adopt=False)
    assert d.action == HALT and "no COIN-M baseline" in d.message


def test_halted_stays_halted_with_its_reason():
    s = snap(HALTED, halt_reason="rescue T1-p-r1 failed (UNKNOWN)")
    d = reconcile(s, view("-119"), adopt=False)
    assert d.action == HALT and d.snapshot == s
    assert d.message == "still HALTED: rescue T1-p-r1 failed (UNKNOWN)"
    assert any("position of BTCUSD_PERP is now -119 contracts" in x for x in d.details)


# -- recover ------------------------------------------------------------------------------------
def entering(**changes) -> EngineSnapshot:
    pending = (req("s", "e", BUY, "0.198"), req("p", "e", SELL, "119"))
    return snap(ENTERING, trade=replace(trade(), contracts=D(0), spot_held=D(0), spot_btc=D(0)),
                pending_orders=pending, **changes)


def test_recover_entry_known_and_unknown_orders():
    s = entering()
    perp = order(f"{TID}-p-e1", "FILLED", "119", "119")
    d = reconcile(s, view("-119", orders={f"{TID}-s-e1": None, f"{TID}-p-e1": perp}), adopt=False)
    assert d.action == RECOVER and d.snapshot == s
    assert d.known == ((s.pending_orders[1], perp),)
    assert d.not_found == (s.pending_orders[0],)
    assert f"{TID}-p-e1 on BTCUSD_PERP: FILLED, 119/119 filled" in d.details
    assert any(f"{TID}-s-e1 on BTCUSDT: the exchange has no such order" in x for x in d.details)


def test_recover_entry_position_must_match_final_fills():
    perp = order(f"{TID}-p-e1", "CANCELED", "50", "119")
    d = reconcile(entering(), view("-119", orders={f"{TID}-s-e1": None, f"{TID}-p-e1": perp}),
                  adopt=False)
    assert d.action == HALT
    assert (f"is -119 contracts, the state file expects -50 (baseline 0 + trade {TID} 0 + filled "
            f"by its pending orders -50)") in d.message
    assert any(f"origClientOrderId={TID}-p-e1" in x for x in d.details)


def test_recover_with_an_order_still_open_defers_the_position_check():
    perp = order(f"{TID}-p-e1", "PARTIALLY_FILLED", "50", "119")
    d = reconcile(entering(), view("-70", [perp], {f"{TID}-s-e1": None, f"{TID}-p-e1": perp}),
                  adopt=False)
    assert d.action == RECOVER and d.known[0][1] is perp
    assert any("still open" in x for x in d.details)


def test_recover_exit_counts_the_trade_and_the_exit_fills():
    s = snap(EXITING, baseline_contracts=D(-1),
             pending_orders=(req("s", "x", SELL, "0.198"), req("p", "x", BUY, "119"),
                             req("p", "x", BUY, "19", n=2)))
    orders = {f"{TID}-s-x1": order(f"{TID}-s-x1", "FILLED", "0.198", "0.198", market=SPOT),
              f"{TID}-p-x1": order(f"{TID}-p-x1", "EXPIRED", "100", "119", side=BUY),
              f"{TID}-p-x2": order(f"{TID}-p-x2", "FILLED", "19", "19", side=BUY)}
    d = reconcile(s, view("-1", orders=orders), adopt=False)
    assert d.action == RECOVER and len(d.known) == 3 and d.not_found == ()
    d = reconcile(s, view("-20", orders=orders), adopt=False)
    assert d.action == HALT and "expects -1 (baseline -1 + trade" in d.message


def test_recover_with_a_foreign_open_order_of_ours_halts():
    stray = order("T99-p-e1", "NEW", "0", "3")
    d = reconcile(entering(), view("0", [stray], {f"{TID}-s-e1": None, f"{TID}-p-e1": None}),
                  adopt=False)
    assert d.action == HALT and "open order T99-p-e1" in d.message


def test_recover_needs_every_pending_order_queried():
    with pytest.raises(ValueError, match=f"{TID}-p-e1"):
        reconcile(entering(), view("0", orders={f"{TID}-s-e1": None}), adopt=False)


# -- adopt --------------------------------------------------------------------------------------
def test_adopt_takes_the_exchange_as_truth():
    s = snap(EXITING, baseline_contracts=D(0), entry_ids=("T1", TID), income_cursor_ms=99,
             pending_orders=(req("s", "x", SELL, "0.198"), req("p", "x", BUY, "119")))
    ours = order(f"{TID}-p-x1", "NEW", "0", "119", side=BUY)
    foreign = order("web_1", "NEW", "0", "1")
    d = reconcile(s, view("-130", [ours, foreign], {f"{TID}-p-x1": ours}), adopt=True)
    assert d.action == ADOPT and d.baseline_contracts == D(-130)
    a = d.snapshot
    assert (a.engine_state, a.trade, a.pair_kind, a.pending_orders, a.baseline_contracts,
            a.halt_reason) == (FLAT, None, None, (), D(-130), None)
    assert a.entry_ids == s.entry_ids and a.income_cursor_ms == 99   # history is kept
    assert d.to_cancel == (ours,)
    text = "\n".join(d.details)
    assert "-130 contracts becomes the baseline" in text
    assert f"trade {TID} (EXITING, -119 contracts, 0.19800000 BTC on spot) is dropped" in text
    assert f"pending order {TID}-s-x1 on BTCUSDT is dropped (not queried)" in text
    assert f"pending order {TID}-p-x1 on BTCUSD_PERP is dropped (NEW, 0/119 filled)" in text
    assert f"open order {TID}-p-x1 on BTCUSD_PERP (NEW, 0/119 filled) has the bot's client id" in text
    assert "web_1" not in text
    assert "1 open order(s) of the bot to cancel" in d.message


def test_adopt_clears_a_halt_and_works_without_a_state_file():
    d = reconcile(snap(HALTED, halt_reason="boom"), view("4"), adopt=True)
    assert d.action == ADOPT and d.snapshot.engine_state == FLAT
    assert any("previous halt is cleared: boom" in x for x in d.details)
    d = reconcile(None, view("4", [order("T2-s-e1", "NEW", "0", "1", market=SPOT)]), adopt=True)
    assert d.action == ADOPT and d.snapshot is None and d.baseline_contracts == D(4)
    assert [o.client_order_id for o in d.to_cancel] == ["T2-s-e1"]


# -- the reserved trade id: an entry sent before its record reached the disk ----------------------
R = "T1723100000999"
R_S, R_P = f"{R}-s-e1", f"{R}-p-e1"


def flat_reserved(**changes) -> EngineSnapshot:
    return snap(FLAT, next_trade_id=R, saved_ms=77, entry_ids=("T1",), **changes)


def reserved_order(cid: str, market: str, side: str, typ: str = "MARKET", status: str = "FILLED",
                   qty: str = "119", update_ms: int = 1234) -> OrderState:
    symbol = CM_SYM if market == COINM else SPOT_SYM
    price = D(0) if typ == "MARKET" else D("60000.5")
    return OrderState(market, symbol, 7, cid, side, typ, status, D(qty), D(qty), D(0), None, price,
                      False, update_ms)


def test_reserved_legs_are_queried_only_when_flat_with_a_reserved_id():
    assert reserved_legs(flat_reserved()) == ((SPOT, SPOT_SYM, R_S), (COINM, CM_SYM, R_P))
    assert reserved_legs(snap(FLAT)) == () and reserved_legs(None) == ()
    assert reserved_legs(snap(HEDGED, next_trade_id=R)) == ()


def test_flat_with_reserved_orders_found_recovers_the_entry():
    spot = reserved_order(R_S, SPOT, BUY, qty="0.198", update_ms=1500)
    perp = reserved_order(R_P, COINM, SELL, update_ms=1400)
    d = reconcile(flat_reserved(), view("-119", orders={R_S: spot, R_P: perp}), adopt=False)
    assert d.action == RECOVER
    s = d.snapshot
    assert (s.engine_state, s.pair_kind) == (ENTERING, "entry")
    assert s.trade == Trade(R, "buy_spot", 1400, 0.0)
    assert s.pending_orders == (
        OrderRequest(SPOT, SPOT_SYM, BUY, "MARKET", D("0.198"), R_S),
        OrderRequest(COINM, CM_SYM, SELL, "MARKET", D("119"), R_P))
    assert s.entry_ids == ("T1", R) and s.next_trade_id is None     # R is used now
    assert d.known == ((s.pending_orders[0], spot), (s.pending_orders[1], perp)) and not d.not_found
    assert d.message.startswith(f"entry of trade {R} was in flight (its record had not reached "
                                f"the disk")
    # the position is checked as for any entry in flight
    d = reconcile(flat_reserved(), view("-100", orders={R_S: spot, R_P: perp}), adopt=False)
    assert d.action == HALT and "expects -119" in d.message


def test_flat_with_reserved_maker_orders_keeps_prices_and_post_only():
    spot = reserved_order(R_S, SPOT, SELL, "LIMIT_MAKER", "NEW", "0.2", update_ms=0)
    perp = reserved_order(R_P, COINM, BUY, "LIMIT", "NEW", "120", update_ms=0)
    d = reconcile(flat_reserved(), view("0", [spot, perp], {R_S: spot, R_P: perp}), adopt=False)
    assert d.action == RECOVER
    s = d.snapshot
    assert s.trade.direction == "sell_spot" and s.trade.opened_ms == 77    # no order time: saved_ms
    assert s.pending_orders == (
        OrderRequest(SPOT, SPOT_SYM, SELL, "LIMIT_MAKER", D("0.2"), R_S, price=D("60000.5")),
        OrderRequest(COINM, CM_SYM, BUY, "LIMIT", D("120"), R_P, price=D("60000.5"),
                     time_in_force="GTX"))


def test_flat_with_nothing_found_resumes_as_before():
    s = flat_reserved()
    d = reconcile(s, view("0", orders={R_S: None, R_P: None}), adopt=False)
    assert d.action == RESUME and d.snapshot == s and d.snapshot.next_trade_id == R
    assert reserved_entry(s, {R_S: None, R_P: None}) is None


def test_flat_with_only_one_reserved_leg_found():
    spot = reserved_order(R_S, SPOT, BUY, qty="0.198")
    d = reconcile(flat_reserved(), view("0", orders={R_S: spot, R_P: None}), adopt=False)
    assert d.action == RECOVER and d.snapshot.trade.direction == "buy_spot"
    # the perp leg was never sent: a stand-in the recovery queries and finds not placed
    stand_in = OrderRequest(COINM, CM_SYM, SELL, "MARKET", D(0), R_P)
    assert d.snapshot.pending_orders[1] == stand_in and d.not_found == (stand_in,)
    assert any(f"{R_P} on BTCUSD_PERP: the exchange has no such order" in x for x in d.details)
    # only the perp leg: the direction is the opposite of its side
    perp = reserved_order(R_P, COINM, BUY)
    d = reconcile(flat_reserved(), view("119", orders={R_S: None, R_P: perp}), adopt=False)
    assert d.action == RECOVER and d.snapshot.trade.direction == "sell_spot"
    assert d.snapshot.pending_orders[0] == OrderRequest(SPOT, SPOT_SYM, SELL, "MARKET", D(0), R_S)


def test_reserved_legs_must_be_queried():
    with pytest.raises(ValueError, match=R_P):
        reconcile(flat_reserved(), view("0", orders={R_S: None}), adopt=False)


def test_adopt_drops_an_unrecorded_entry_and_retires_its_id():
    spot = reserved_order(R_S, SPOT, BUY, "LIMIT_MAKER", "NEW", "0.198")
    d = reconcile(flat_reserved(), view("0", [spot], {R_S: spot, R_P: None}), adopt=True)
    assert d.action == ADOPT and d.to_cancel == (spot,)
    assert d.snapshot.engine_state == FLAT and d.snapshot.next_trade_id is None
    assert R in d.snapshot.entry_ids
    assert any(f"trade {R} (ENTERING" in x for x in d.details)
