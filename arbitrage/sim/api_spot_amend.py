"""Spot order changes: cancel-replace (POST /api/v3/order/cancelReplace, `order.cancelReplace`) and
keep-priority amend (PUT /api/v3/order/amend/keepPriority, `order.amend.keepPriority`), with
Binance's rules and answer shapes (binance-ws-api.md §4.4–§4.5)."""
from __future__ import annotations

from arbitrage.models import SPOT
from arbitrage.sim.api_common import d8, find_order, int_param
from arbitrage.sim.api_spot import ZERO8, SpotApi, placed_body
from arbitrage.sim.filters import parse_decimal
from arbitrage.sim.market import wall_ms
from arbitrage.sim.order_amend import amend_keep_priority
from arbitrage.sim.orders import parse_spot_order
from arbitrage.sim.rest import ApiError, Reply, Request, Route

_MODES = ("STOP_ON_FAILURE", "ALLOW_FAILURE")


class SpotAmendApi:
    def __init__(self, api: SpotApi) -> None:
        self.api, self.t = api, api.t

    def routes(self) -> dict[tuple[str, str], Route]:
        return {("POST", "/api/v3/order/cancelReplace"): Route(self.cancel_replace, 1),
                ("PUT", "/api/v3/order/amend/keepPriority"): Route(self.amend_keep_priority, 4)}

    def cancel_replace(self, req: Request) -> Reply:
        """Cancel one order and place another, not atomically; filters of the new order are
        checked before either leg runs. 400 -2022 when nothing was done, 409 -2021 when one leg
        failed, `error.data` holding both legs' results."""
        self.t.faults.received(SPOT)
        self.api._signed(req)
        spec = self.api._symbol(req)
        mode = req.require("cancelReplaceMode")
        if mode not in _MODES:
            raise ApiError(-1100, "Illegal characters found in parameter 'cancelReplaceMode'.")
        order_id = int_param(req, "cancelOrderId")
        client_id = req.params.get("cancelOrigClientOrderId") or None
        if order_id is None and client_id is None:
            raise ApiError(-1102, "Param 'cancelOrigClientOrderId' or 'cancelOrderId' must be sent, "
                                  "but both were empty/null!")
        new = parse_spot_order(req, spec)
        cancel_id = req.params.get("cancelNewClientOrderId") or self.t.spot.new_client_id()
        with self.t.market.lock:
            self.t.spot.check_filters(new)
            try:
                canceled = self.t.spot.cancel(spec.symbol, order_id, client_id, cancel_id)
                cancel_ok, cancel_body = True, self.api._canceled(canceled, cancel_id)
            except ApiError as err:
                cancel_ok, cancel_body = False, {"code": err.code, "msg": err.msg}
            new_result, new_body = "NOT_ATTEMPTED", None
            if cancel_ok or mode == "ALLOW_FAILURE":
                try:
                    new_body = placed_body(self.t.spot.place(new), new.resp_type)
                    new_result = "SUCCESS"
                except ApiError as err:
                    new_result, new_body = "FAILURE", {"code": err.code, "msg": err.msg}
        legs = {"cancelResult": "SUCCESS" if cancel_ok else "FAILURE", "newOrderResult": new_result,
                "cancelResponse": cancel_body, "newOrderResponse": new_body}
        counts = self.api.counter.record()       # one unfilled order, even NOT_ATTEMPTED
        if cancel_ok and new_result == "SUCCESS":
            return Reply(legs, headers=counts)
        if cancel_ok or new_result == "SUCCESS":
            raise ApiError(-2021, "Order cancel-replace partially failed.", status=409, data=legs, headers=counts)
        raise ApiError(-2022, "Order cancel-replace failed.", data=legs, headers=counts)

    def amend_keep_priority(self, req: Request) -> dict:
        self.api._signed(req)
        spec = self.api._symbol(req)
        new_qty = parse_decimal("newQty", req.require("newQty"))
        with self.t.market.lock:
            order = find_order(self.t.spot, spec.symbol, req)
            orig_id = order.client_order_id
            new_id = req.params.get("newClientOrderId") or self.t.spot.new_client_id()
            order = amend_keep_priority(self.t.spot, order, new_qty, new_id)
            return {"transactTime": order.update_ms, "executionId": wall_ms(),
                    "amendedOrder": {
                        "symbol": order.symbol, "orderId": order.order_id, "orderListId": -1,
                        "origClientOrderId": orig_id, "clientOrderId": order.client_order_id,
                        "price": d8(order.price), "qty": d8(order.orig_qty), "executedQty": d8(order.executed),
                        "preventedQty": ZERO8, "quoteOrderQty": ZERO8, "cumulativeQuoteQty": d8(order.cum_quote),
                        "status": order.status, "timeInForce": order.time_in_force, "type": order.type,
                        "side": order.side, "workingTime": order.time_ms, "selfTradePreventionMode": "NONE"}}
