"""The connector smoke test's checks (`python -m app.smoke`), in order, each timed.

`Lanes` holds the clients of both products (REST, WebSocket API, user streams). Every check is a
function returning a one-line detail or raising; `run_checks` records them as rows and, whatever
failed, cancels every order it placed by client order id over REST and verifies with openOrders.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_UP, Decimal
from typing import Any

from arbitrage.exchanges.binance_coinm import CoinmClient
from arbitrage.exchanges.binance_spot import SpotClient
from arbitrage.exchanges.errors import BinanceError, CancelRejected, OrderNotFound
from arbitrage.exchanges.price_bands import bid_floor
from arbitrage.exchanges.user_streams import CoinmUserStream, SpotUserStream
from arbitrage.exchanges.ws_api_coinm import CoinmWsApi
from arbitrage.exchanges.ws_api_spot import SpotWsApi
from arbitrage.models import BUY, COINM, SPOT, ExecutionEvent, OrderRequest, SymbolRules

EVENT_WAIT_S = 10.0


@dataclass
class Row:
    name: str
    ok: bool
    detail: str
    ms: float


class Events:
    """What the user streams delivered, for the checks to wait on."""

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._cond = threading.Condition()

    def put(self, item: Any) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def wait(self, pred: Callable[[Any], bool], timeout: float = EVENT_WAIT_S) -> Any:
        with self._cond:
            found = self._cond.wait_for(lambda: next((i for i in self._items if pred(i)), None),
                                        timeout)
        if found is None:
            raise TimeoutError(f"not seen on the user stream within {timeout:g}s")
        return found


@dataclass
class Lanes:
    spot: SpotClient
    coinm: CoinmClient
    spot_ws: SpotWsApi
    coinm_ws: CoinmWsApi
    spot_user: SpotUserStream
    coinm_user: CoinmUserStream
    events: Events
    spot_symbol: str
    coinm_symbol: str
    rules: dict[str, SymbolRules] = field(default_factory=dict)
    placed: list[tuple[str, str, str]] = field(default_factory=list)   # (market, symbol, id)


def run_checks(lanes: Lanes, tag: str) -> list[Row]:
    rows: list[Row] = []

    def check(name: str, fn: Callable[[], str]) -> bool:
        began = time.monotonic()
        try:
            detail, ok = fn(), True
        except (BinanceError, TimeoutError, ValueError, KeyError, AssertionError) as exc:
            detail, ok = f"{type(exc).__name__}: {exc}", False
        rows.append(Row(name, ok, detail[:110], (time.monotonic() - began) * 1000))
        return ok

    try:
        check("server time, clock offset", lambda: _clock(lanes))
        check("spot key can trade", lambda: _spot_permissions(lanes))
        check("COIN-M key can trade", lambda: _coinm_permissions(lanes))
        check("COIN-M position mode one-way", lambda: _position_mode(lanes))
        check("balances", lambda: _balances(lanes))
        filters = check("pair filters", lambda: _filters(lanes))
        check("WebSocket API reachable", lambda: _ws_api(lanes))
        streams = check("user streams reachable", lambda: _user_streams(lanes))
        if filters and streams:
            for market in (SPOT, COINM):
                _order_round_trip(lanes, market, tag, check)
    finally:
        check("nothing left open", lambda: _clean_up(lanes))
    return rows


def _clock(l: Lanes) -> str:
    spot_ms, coinm_ms = l.spot.sync_time(), l.coinm.sync_time()
    return f"spot {l.spot.server_time()} offset {spot_ms} ms; COIN-M offset {coinm_ms} ms"


def _spot_permissions(l: Lanes) -> str:
    rest, ws = l.spot.account().can_trade, l.spot_ws.account().can_trade
    assert rest and ws, f"canTrade REST {rest}, WebSocket API {ws}"
    return "canTrade (REST account, account.status)"


def _coinm_permissions(l: Lanes) -> str:
    assert l.coinm_ws.can_trade(), "canTrade false"
    return "canTrade (account.status)"


def _position_mode(l: Lanes) -> str:
    assert not l.coinm.dual_side_position(), "hedge mode (dualSidePosition true): set one-way"
    return "dualSidePosition false"


def _balances(l: Lanes) -> str:
    spot, coinm = l.spot.account(), l.coinm.account()
    held = ", ".join(f"{a} {spot.total(a):f}" for a in sorted(spot.balances) if spot.total(a))
    margin = ", ".join(f"{a} {m.wallet_balance:f}" for a, m in sorted(coinm.assets.items()))
    return f"spot {held or 'none'}; COIN-M {margin or 'none'}"


def _filters(l: Lanes) -> str:
    l.rules[SPOT] = s = l.spot.exchange_info(l.spot_symbol)
    l.rules[COINM] = c = l.coinm.exchange_info(l.coinm_symbol)
    assert s.trading and c.trading, f"status {s.status} / {c.status}"
    return (f"{s.symbol} tick {s.tick_size:f} step {s.step_size:f} minNotional {s.min_notional:f}; "
            f"{c.symbol} tick {c.tick_size:f} contract {c.contract_size:f} USD")


def _ws_api(l: Lanes) -> str:
    status = l.spot_ws.session_status()
    position = l.coinm_ws.position(l.coinm_symbol)
    return (f"spot session.status serverTime {status['serverTime']}; "
            f"COIN-M account.position {position.amount:f} contracts")


def _user_streams(l: Lanes) -> str:
    assert l.spot_user.subscribed.wait(EVENT_WAIT_S), "spot subscription not active"
    assert l.coinm_user.connected.wait(EVENT_WAIT_S), "COIN-M listenKey stream not connected"
    return "spot subscription active; COIN-M listenKey stream connected"


def _far_order(l: Lanes, market: str, client_id: str) -> OrderRequest:
    """Post-only, the minimum size, halfway between the bid and the lowest price the exchange's
    percent-price band accepts: never fills, never refused for its price."""
    rules = l.rules[market]
    client = l.spot if market == SPOT else l.coinm
    bid = Decimal(str(client.depth(rules.symbol, 5).bids[0][0]))
    floor = bid_floor(client.http, market, rules.symbol)      # the band's multiplier down
    price = _on_grid(bid * (1 + floor) / 2, rules.tick_size, ROUND_CEILING)
    price = max(price, rules.min_price)
    qty = rules.min_qty
    if rules.min_notional:                                   # spot: price × qty ≥ minNotional
        need = _on_grid(rules.min_notional * Decimal("1.1") / price, rules.step_size, ROUND_UP)
        qty = max(qty, need)
    if market == SPOT:
        return OrderRequest(SPOT, rules.symbol, BUY, "LIMIT_MAKER", qty, client_id, price=price)
    return OrderRequest(COINM, rules.symbol, BUY, "LIMIT", qty, client_id, price=price,
                        time_in_force="GTX")


def _on_grid(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    """A multiple of `step` (a tick or lot step; its exponent says nothing about the grid)."""
    return (value / step).to_integral_value(rounding) * step


def _order_round_trip(l: Lanes, market: str, tag: str, check) -> None:
    api = l.spot_ws if market == SPOT else l.coinm_ws
    label = "spot" if market == SPOT else "COIN-M"
    client_id = f"smoke-{tag}-{market[0]}"
    req = _far_order(l, market, client_id)

    def seen(status: str) -> Callable[[Any], bool]:
        return lambda e: (isinstance(e, ExecutionEvent) and e.client_order_id == client_id
                          and e.status == status)

    def place() -> str:
        l.placed.append((market, req.symbol, client_id))      # before sending: cleaned up whatever
        state = api.place(req)
        assert state.status == "NEW", f"status {state.status}"
        return f"{req.type} {req.time_in_force or ''} {req.quantity:f} @ {req.price:f}: NEW".replace("  ", " ")

    if not check(f"{label} order.place (WebSocket API)", place):
        return
    check(f"{label} NEW on the user stream", lambda: f"order {l.events.wait(seen('NEW')).order_id}")

    def cancel() -> str:
        state = api.cancel(req.symbol, client_id)
        assert state.status == "CANCELED", f"status {state.status}"
        return "CANCELED"

    if check(f"{label} order.cancel (WebSocket API)", cancel):
        check(f"{label} CANCELED on the user stream",
              lambda: f"order {l.events.wait(seen('CANCELED')).order_id}")


def _clean_up(l: Lanes) -> str:
    """Every order this run placed, cancelled over REST by client order id, then openOrders."""
    left = []
    for market, symbol, client_id in l.placed:
        client = l.spot if market == SPOT else l.coinm
        try:
            client.cancel_order(symbol, client_id)
        except (CancelRejected, OrderNotFound):
            pass                                  # already final, or never placed
        if any(o.client_order_id == client_id for o in client.open_orders(symbol)):
            left.append(client_id)
    assert not left, f"still open: {', '.join(left)}"
    return f"{len(l.placed)} smoke order(s) placed, none open (openOrders)"
