"""Spot trading endpoints (reference §7.1–7.4, §8.1, §9.3), all SIGNED, with Binance's shapes:
prices and quantities as 8-decimal strings, `cummulativeQuoteQty` (sic), `orderListId` -1."""
from __future__ import annotations

from decimal import Decimal

from arbitrage.models import SPOT
from arbitrage.sim.api_common import (
    OrderCounter, find_order, wait_before_matching, d8, int_param, listed, lose_the_answer_if_scripted, order_ref, window,
)
from arbitrage.sim.market import wall_ms
from arbitrage.sim.orders import SimOrder, SimTrade, parse_spot_order
from arbitrage.sim.rest import ApiError, Reply, Request, Route
from arbitrage.sim.trading import Trading


ZERO8 = "0.00000000"
UID = 354937868


def order_result(o: SimOrder) -> dict:
    return {"symbol": o.symbol, "orderId": o.order_id, "orderListId": -1,
            "clientOrderId": o.client_order_id, "transactTime": o.time_ms, "price": d8(o.price),
            "origQty": d8(o.orig_qty), "executedQty": d8(o.executed), "origQuoteOrderQty": ZERO8,
            "cummulativeQuoteQty": d8(o.cum_quote), "status": o.status, "timeInForce": o.time_in_force,
            "type": o.type, "side": o.side, "workingTime": o.time_ms, "selfTradePreventionMode": "NONE"}


def order_query(o: SimOrder) -> dict:
    return {"symbol": o.symbol, "orderId": o.order_id, "orderListId": -1,
            "clientOrderId": o.client_order_id, "price": d8(o.price), "origQty": d8(o.orig_qty),
            "executedQty": d8(o.executed), "cummulativeQuoteQty": d8(o.cum_quote), "status": o.status,
            "timeInForce": o.time_in_force, "type": o.type, "side": o.side, "stopPrice": ZERO8,
            "icebergQty": ZERO8, "time": o.time_ms, "updateTime": o.update_ms, "isWorking": True,
            "workingTime": o.time_ms, "origQuoteOrderQty": ZERO8, "selfTradePreventionMode": "NONE"}


def placed_body(order: SimOrder, resp_type: str) -> dict:
    """The answer to a new order in its newOrderRespType (ACK / RESULT / FULL)."""
    if resp_type == "ACK":
        return {k: v for k, v in order_result(order).items()
                if k in ("symbol", "orderId", "orderListId", "clientOrderId", "transactTime")}
    body = order_result(order)
    if resp_type == "FULL":
        body["fills"] = [fill_row(t) for t in order.trades]
    return body


def fill_row(t: SimTrade) -> dict:
    return {"price": d8(t.price), "qty": d8(t.qty), "commission": d8(t.commission),
            "commissionAsset": t.commission_asset, "tradeId": t.trade_id}


def trade_row(t: SimTrade) -> dict:
    return {"symbol": t.symbol, "id": t.trade_id, "orderId": t.order_id, "orderListId": -1,
            "price": d8(t.price), "qty": d8(t.qty), "quoteQty": d8(t.quote_qty),
            "commission": d8(t.commission), "commissionAsset": t.commission_asset, "time": t.time_ms,
            "isBuyer": t.side == "BUY", "isMaker": t.maker, "isBestMatch": True}


def _flag(req: Request, name: str) -> bool:
    return (req.params.get(name) or "").lower() == "true"


class SpotApi:
    def __init__(self, trading: Trading) -> None:
        self.t = trading
        self.counter = OrderCounter([("10S", 10.0), ("1D", 86400.0)])

    def routes(self) -> dict[tuple[str, str], Route]:
        return {
            ("POST", "/api/v3/order"): Route(self.new_order, 1),
            ("GET", "/api/v3/order"): Route(self.get_order, 4),
            ("DELETE", "/api/v3/order"): Route(self.cancel_order, 1),
            ("POST", "/api/v3/order/test"): Route(self.test_order,
                                                  lambda r: 20 if _flag(r, "computeCommissionRates") else 1),
            ("DELETE", "/api/v3/openOrders"): Route(self.cancel_open_orders, 1),
            ("GET", "/api/v3/openOrders"): Route(self.open_orders,
                                                 lambda r: 6 if r.params.get("symbol") else 80),
            ("GET", "/api/v3/myTrades"): Route(self.my_trades,
                                               lambda r: 5 if r.params.get("orderId") else 20),
            ("GET", "/api/v3/account"): Route(self.account, 20),
            ("GET", "/api/v3/account/commission"): Route(self.commission, 20),
        }

    def _signed(self, req: Request) -> None:
        self.t.auth.check(req, spot=True)

    def _symbol(self, req: Request):
        specs = [b.spec for b in self.t.market.books.values() if b.spec.is_spot]
        return listed(req.require("symbol"), specs)

    # -- orders ------------------------------------------------------------------------------
    def new_order(self, req: Request) -> Reply:
        self.t.faults.received(SPOT)
        self._signed(req)
        wait_before_matching(self.t.faults, SPOT)
        new = parse_spot_order(req, self._symbol(req))
        with self.t.market.lock:
            order = self.t.spot.place(new)
            body = placed_body(order, new.resp_type)
        lose_the_answer_if_scripted(self.t.faults, SPOT, order.client_order_id, order.status)
        return Reply(body, headers=self.counter.record())

    def get_order(self, req: Request) -> dict:
        self._signed(req)
        spec = self._symbol(req)
        with self.t.market.lock:
            order = find_order(self.t.spot, spec.symbol, req)
            return order_query(order)

    def cancel_order(self, req: Request) -> dict:
        self._signed(req)
        spec = self._symbol(req)
        order_id, client_id = order_ref(req)
        cancel_id = req.params.get("newClientOrderId") or self.t.spot.new_client_id()
        with self.t.market.lock:
            order = self.t.spot.cancel(spec.symbol, order_id, client_id, cancel_id)
        return self._canceled(order, cancel_id)

    def cancel_open_orders(self, req: Request) -> list[dict]:
        """Every open order of the symbol, each answered as a single cancel is (binance-sdk-spot
        model DeleteOpenOrdersResponseInner); none open is -2011 "Unknown order sent.", as a
        single cancel of an unknown order."""
        self._signed(req)
        spec = self._symbol(req)
        with self.t.market.lock:
            orders = [(self.t.spot.cancel(spec.symbol, o.order_id, None, cancel_id), cancel_id)
                      for o in self.t.spot.open_list(spec.symbol)
                      for cancel_id in (self.t.spot.new_client_id(),)]
        if not orders:
            raise ApiError(-2011, "Unknown order sent.")
        return [self._canceled(o, cancel_id) for o, cancel_id in orders]

    def _canceled(self, order: SimOrder, cancel_id: str) -> dict:
        body = order_result(order)
        return {"symbol": body["symbol"], "origClientOrderId": order.client_order_id,
                "orderId": order.order_id, "orderListId": -1, "clientOrderId": cancel_id,
                "transactTime": wall_ms(), **{k: body[k] for k in (
                    "price", "origQty", "executedQty", "origQuoteOrderQty", "cummulativeQuoteQty",
                    "status", "timeInForce", "type", "side", "selfTradePreventionMode")}}

    def test_order(self, req: Request) -> dict:
        """Validates the order as POST /api/v3/order does (parameters, filters), without the
        matching engine or the balances: `{}`, or with computeCommissionRates=true the rates
        (binance-sdk-spot model OrderTestResponse; this exchange has no BNB discount or tax)."""
        self._signed(req)
        new = parse_spot_order(req, self._symbol(req))
        with self.t.market.lock:
            self.t.spot.check_filters(new)
        if not _flag(req, "computeCommissionRates"):
            return {}
        maker, taker = self.t.spot_rates
        zero = {"maker": ZERO8, "taker": ZERO8}
        return {"standardCommissionForOrder": {"maker": d8(maker), "taker": d8(taker)},
                "specialCommissionForOrder": zero, "taxCommissionForOrder": zero,
                "discount": {"enabledForAccount": False, "enabledForSymbol": False,
                             "discountAsset": "BNB", "discount": ZERO8}}

    def open_orders(self, req: Request) -> list[dict]:
        self._signed(req)
        symbol = self._symbol(req).symbol if req.params.get("symbol") else None
        with self.t.market.lock:
            return [order_query(o) for o in self.t.spot.open_list(symbol)]

    # -- fills and balances ------------------------------------------------------------------
    def my_trades(self, req: Request) -> list[dict]:
        self._signed(req)
        spec = self._symbol(req)
        order_id = int_param(req, "orderId")
        with self.t.market.lock:
            rows = [t for t in self.t.spot.trades
                    if t.symbol == spec.symbol and order_id in (None, t.order_id)]
        picked = window(rows, lambda t: t.time_ms, lambda t: t.trade_id, req, 500, 1000)
        return [trade_row(t) for t in picked]

    def account(self, req: Request) -> dict:
        self._signed(req)
        omit_zero = (req.params.get("omitZeroBalances") or "").lower() == "true"
        maker, taker = self.t.spot_rates
        with self.t.market.lock:
            balances = [{"asset": a, "free": d8(free), "locked": d8(locked)}
                        for a, free, locked in self.t.wallet.rows()
                        if not (omit_zero and free == 0 and locked == 0)]
            updated = self.t.wallet.update_ms
        return {"makerCommission": int(maker * 10000), "takerCommission": int(taker * 10000),
                "buyerCommission": 0, "sellerCommission": 0,
                "commissionRates": {"maker": d8(maker), "taker": d8(taker), "buyer": d8(Decimal(0)),
                                    "seller": d8(Decimal(0))},
                "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
                "requireSelfTradePrevention": False, "preventSor": False, "updateTime": updated,
                "accountType": "SPOT", "balances": balances, "permissions": ["SPOT"], "uid": UID}

    def commission(self, req: Request) -> dict:
        """The account's rates on one symbol (reference §8.1; binance-ws-api.md §4.8): no
        special rate, tax or BNB discount on this exchange."""
        self._signed(req)
        spec = self._symbol(req)
        maker, taker = self.t.spot_rates
        zero = {"maker": ZERO8, "taker": ZERO8, "buyer": ZERO8, "seller": ZERO8}
        return {"symbol": spec.symbol,
                "standardCommission": {"maker": d8(maker), "taker": d8(taker), "buyer": ZERO8, "seller": ZERO8},
                "specialCommission": zero, "taxCommission": zero,
                "discount": {"enabledForAccount": False, "enabledForSymbol": False,
                             "discountAsset": "BNB", "discount": ZERO8}}
