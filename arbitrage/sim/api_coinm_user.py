"""COIN-M endpoints beyond the order book's: balances, position mode, order modification and the listenKey of
the user data stream (reference §12.2, binance-ws-api.md §5.3–§5.5), for REST and the WebSocket
API alike. The listenKey endpoints need only the API key (no timestamp, no signature)."""
from __future__ import annotations

from arbitrage.sim.api_coinm import CoinmApi, order_row
from arbitrage.sim.api_common import find_order
from arbitrage.sim.filters import parse_decimal
from arbitrage.sim.order_amend import modify
from arbitrage.sim.rest import ApiError, Request, Route
from arbitrage.sim.user_stream import ACCOUNT_ALIAS, UserStreams


class CoinmUserApi:
    def __init__(self, api: CoinmApi, streams: UserStreams) -> None:
        self.api, self.t, self.streams = api, api.t, streams

    def routes(self) -> dict[tuple[str, str], Route]:
        return {
            ("GET", "/dapi/v1/balance"): Route(self.balance, 1),
            ("PUT", "/dapi/v1/order"): Route(self.modify_order, 1),
            ("POST", "/dapi/v1/listenKey"): Route(self.start_key, 1),
            ("PUT", "/dapi/v1/listenKey"): Route(lambda r: (self.ping_key(r), {})[1], 1),
            ("DELETE", "/dapi/v1/listenKey"): Route(self.stop_key, 1),
            ("GET", "/dapi/v1/positionSide/dual"): Route(self.position_mode, 30),
        }

    def position_mode(self, req: Request) -> dict:
        """The local exchange is one-way only (reference §7: positionSide BOTH)."""
        self.api._signed(req)
        return {"dualSidePosition": False}

    def balance(self, req: Request) -> list[dict]:
        """One row per coin, as `account.balance` / GET /dapi/v1/balance send them."""
        account = self.api.account(req)         # signed there; the same numbers
        return [{"accountAlias": ACCOUNT_ALIAS, "asset": a["asset"], "balance": a["walletBalance"],
                 "withdrawAvailable": a["maxWithdrawAmount"], "crossWalletBalance": a["crossWalletBalance"],
                 "crossUnPnl": a["crossUnPnl"], "availableBalance": a["availableBalance"],
                 "updateTime": a["updateTime"]} for a in account["assets"]]

    def modify_order(self, req: Request, both_required: bool = False) -> dict:
        """REST takes quantity or price (the other stays); the WebSocket API needs both."""
        self.api._signed(req)
        spec = self.api._symbol(req)
        side = req.require("side")
        for name in ("quantity", "price"):
            if both_required or not (req.params.get("quantity") or req.params.get("price")):
                req.require(name)
        with self.t.market.lock:
            order = find_order(self.t.coinm, spec.symbol, req)
            if side != order.side:
                raise ApiError(-4016, "Side does not match the order's side.")
            qty = parse_decimal("quantity", req.params["quantity"]) if req.params.get("quantity") else order.orig_qty
            price = parse_decimal("price", req.params["price"]) if req.params.get("price") else order.price
            return order_row(modify(self.t.coinm, order, qty, price), spec)

    # -- the listenKey -----------------------------------------------------------------------
    def start_key(self, req: Request) -> dict:
        self.t.auth.check_key(req)
        return {"listenKey": self.streams.start_key()}

    def ping_key(self, req: Request) -> dict:
        self.t.auth.check_key(req)
        return {"listenKey": self.streams.ping_key()}

    def stop_key(self, req: Request) -> dict:
        self.t.auth.check_key(req)
        self.streams.stop_key()
        return {}

