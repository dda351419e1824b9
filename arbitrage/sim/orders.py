"""Orders and trades as the local exchange keeps them, and new-order parameter parsing.

Everything is Decimal. Spot quantities are base-asset units and `cum_quote` is quote (USDT);
COIN-M quantities are contracts and `cum_quote` is the filled value in the coin (Binance `cumBase`).
Supported types: spot LIMIT / MARKET / LIMIT_MAKER, COIN-M LIMIT / MARKET (the bot needs no more);
spot `quoteOrderQty` is not supported.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from arbitrage.models import BUY, COINM, SELL, SPOT
from arbitrage.sim.filters import parse_decimal
from arbitrage.sim.rest import ApiError, Request
from arbitrage.sim.symbols import SimSymbol

ZERO = Decimal(0)
OPEN_STATUSES = ("NEW", "PARTIALLY_FILLED")
_SPOT_TYPES = ("LIMIT", "MARKET", "LIMIT_MAKER")
_SPOT_OTHER_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
_COINM_TYPES = ("LIMIT", "MARKET")
_SPOT_CLIENT_ID = re.compile(r"^[a-zA-Z0-9-_]{1,36}$")
_COINM_CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")


@dataclass
class SimTrade:
    market: str
    symbol: str
    trade_id: int
    order_id: int
    side: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal          # spot: qty × price (USDT); COIN-M: baseQty (coin, 8 decimals)
    commission: Decimal
    commission_asset: str
    realized_pnl: Decimal       # COIN-M only
    time_ms: int
    maker: bool


@dataclass
class SimOrder:
    market: str
    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    time_in_force: str
    price: Decimal              # 0 for MARKET
    orig_qty: Decimal
    reduce_only: bool
    time_ms: int
    update_ms: int
    status: str = "NEW"
    executed: Decimal = ZERO
    cum_quote: Decimal = ZERO   # spot cummulativeQuoteQty; COIN-M cumBase (Σ trade baseQty)
    base_exact: Decimal = ZERO  # COIN-M Σ contracts×S/price unrounded: avgPrice is its harmonic mean
    fill_cap: Decimal | None = None    # test fault: never fill beyond this quantity
    trades: list[SimTrade] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed

    @property
    def fillable(self) -> Decimal:
        """What may still fill: the remainder, or less when a partial-fill fault caps the order."""
        cap = self.orig_qty if self.fill_cap is None else min(self.fill_cap, self.orig_qty)
        return max(ZERO, cap - self.executed)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class NewOrder:
    """A validated `POST .../order`. Grid and account checks come later (they need the book)."""
    market: str
    spec: SimSymbol
    side: str
    type: str
    time_in_force: str
    quantity: Decimal
    price: Decimal | None
    client_order_id: str | None
    resp_type: str
    reduce_only: bool = False


def _mandatory(name: str) -> ApiError:
    return ApiError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def _not_required(name: str) -> ApiError:
    return ApiError(-1106, f"Parameter '{name}' sent when not required.")


def _side(req: Request) -> str:
    side = req.require("side")
    if side not in (BUY, SELL):
        raise ApiError(-1117, "Invalid side.")
    return side


def _resp_type(req: Request, allowed: tuple[str, ...], default: str) -> str:
    value = req.params.get("newOrderRespType") or default
    if value not in allowed:
        raise ApiError(-1136, "Invalid newOrderRespType.")
    return value


def parse_spot_order(req: Request, spec: SimSymbol) -> NewOrder:
    side = _side(req)
    kind = req.require("type")
    if kind not in _SPOT_TYPES:
        # the stop types exist on Binance but this local exchange does not run them
        if kind in _SPOT_OTHER_TYPES:
            raise ApiError(-1014, "Unsupported order combination.")
        raise ApiError(-1116, "Invalid orderType.")
    tif = req.params.get("timeInForce", "")
    if kind == "LIMIT":
        if not tif:
            raise _mandatory("timeInForce")
        if tif not in ("GTC", "IOC", "FOK"):
            raise ApiError(-1115, "Invalid timeInForce.")
    elif tif:
        raise _not_required("timeInForce")
    if req.params.get("quoteOrderQty"):
        raise _not_required("quoteOrderQty")      # not supported here (see the module doc)
    qty = parse_decimal("quantity", req.params.get("quantity") or _raise(_mandatory("quantity")))
    price: Decimal | None = None
    if kind == "MARKET":
        if req.params.get("price"):
            raise _not_required("price")
    else:
        price = parse_decimal("price", req.params.get("price") or _raise(_mandatory("price")))
    client_id = req.params.get("newClientOrderId") or None
    if client_id is not None and not _SPOT_CLIENT_ID.match(client_id):
        raise ApiError(-1100, "Illegal characters found in parameter 'newClientOrderId'; "
                              "legal range is '^[a-zA-Z0-9-_]{1,36}$'.")
    resp = _resp_type(req, ("ACK", "RESULT", "FULL"), "FULL" if kind in ("MARKET", "LIMIT") else "ACK")
    return NewOrder(SPOT, spec, side, kind, tif or "GTC", qty, price, client_id, resp)


def parse_coinm_order(req: Request, spec: SimSymbol) -> NewOrder:
    side = _side(req)
    position_side = req.params.get("positionSide") or "BOTH"
    if position_side != "BOTH":     # one-way mode only
        raise ApiError(-4061, "Order's position side does not match user's setting.")
    kind = req.require("type")
    if kind not in _COINM_TYPES:
        raise ApiError(-1116, "Invalid orderType.")
    tif = req.params.get("timeInForce", "")
    if kind == "LIMIT":
        if not tif:
            raise _mandatory("timeInForce")
        if tif not in ("GTC", "IOC", "FOK", "GTX"):
            raise ApiError(-1115, "Invalid timeInForce.")
    qty = parse_decimal("quantity", req.params.get("quantity") or _raise(_mandatory("quantity")))
    price: Decimal | None = None
    if kind == "LIMIT":
        price = parse_decimal("price", req.params.get("price") or _raise(_mandatory("price")))
    elif req.params.get("price"):
        raise _not_required("price")
    reduce_raw = (req.params.get("reduceOnly") or "false").lower()
    if reduce_raw not in ("true", "false"):
        raise ApiError(-1100, "Illegal characters found in parameter 'reduceOnly'; "
                              "legal range is 'true, false'.")
    client_id = req.params.get("newClientOrderId") or None
    if client_id is not None and not _COINM_CLIENT_ID.match(client_id):
        raise ApiError(-4015, "Client order id is not valid.")
    resp = _resp_type(req, ("ACK", "RESULT"), "ACK")
    return NewOrder(COINM, spec, side, kind, tif or "GTC", qty, price, client_id, resp,
                    reduce_only=reduce_raw == "true")


def _raise(err: ApiError) -> str:
    raise err
