"""COIN-M trading endpoints (reference §7.5–7.9, §8.2–8.4, §9.1–9.2), all SIGNED.

Contracts print as integers ("3"), prices at tick precision ("60000.1"), coin amounts with 8
decimals. `avgPrice` is the harmonic mean of the fills (contracts·S / Σ baseQty), as for any
inverse contract. One-way mode only: every position row is `positionSide` BOTH.
"""
from __future__ import annotations

from decimal import Decimal

from arbitrage.models import COINM
from arbitrage.sim.api_common import (
    OrderCounter, find_order, wait_before_matching, d8, int_param, limit_param, listed,
    lose_the_answer_if_scripted, order_ref, window,
)
from arbitrage.sim.orders import SimOrder, SimTrade, parse_coinm_order
from arbitrage.sim.rest import ApiError, Reply, Request, Route
from arbitrage.sim.symbols import SimSymbol
from arbitrage.sim.trading import Trading


INCOME_TYPES = ("TRANSFER", "WELCOME_BONUS", "FUNDING_FEE", "REALIZED_PNL", "COMMISSION",
                "INSURANCE_CLEAR", "DELIVERED_SETTELMENT")
MAX_QTY = "1000"        # positionRisk maxQty: the one bracket's qtyCap (see leverage_brackets)
MAX_LEVERAGE = 125      # the first bracket of BTCUSD_PERP on Binance


def price_str(value: Decimal, spec: SimSymbol) -> str:
    return f"{value:.{spec.price_decimals}f}"


def qty_str(value: Decimal, spec: SimSymbol) -> str:
    return format(value.quantize(spec.step_size), "f")


def avg_str(o: SimOrder, spec: SimSymbol) -> str:
    if o.executed == 0 or o.base_exact == 0:
        return price_str(Decimal(0), spec)
    avg = (o.executed * Decimal(spec.contract_size) / o.base_exact).quantize(Decimal("0.00000001"))
    return price_str(avg, spec) if avg == avg.quantize(spec.tick_size) else format(avg.normalize(), "f")


def entry_str(entry: Decimal) -> str:
    return "0.0" if entry == 0 else d8(entry)


def order_row(o: SimOrder, spec: SimSymbol, query: bool = False, ack: bool = False) -> dict:
    executed = Decimal(0) if ack else o.executed
    row = {"clientOrderId": o.client_order_id, "cumQty": qty_str(executed, spec),
           "cumBase": "0" if ack or o.cum_quote == 0 else d8(o.cum_quote),
           "executedQty": qty_str(executed, spec), "orderId": o.order_id,
           "avgPrice": price_str(Decimal(0), spec) if ack else avg_str(o, spec),
           "origQty": qty_str(o.orig_qty, spec),
           "price": "0" if o.type == "MARKET" else price_str(o.price, spec),
           "reduceOnly": o.reduce_only, "side": o.side, "positionSide": "BOTH",
           "status": "NEW" if ack else o.status, "stopPrice": "0", "closePosition": False,
           "symbol": o.symbol, "pair": spec.pair, "timeInForce": o.time_in_force, "type": o.type,
           "origType": o.type, "updateTime": o.time_ms if ack else o.update_ms,
           "workingType": "CONTRACT_PRICE", "priceProtect": False, "priceMatch": "NONE",
           "selfTradePreventionMode": "NONE"}
    if query:       # GET order / openOrders: order time, no cumQty
        del row["cumQty"]
        row["time"] = o.time_ms
    return row


def trade_row(t: SimTrade, spec: SimSymbol) -> dict:
    return {"symbol": t.symbol, "id": t.trade_id, "orderId": t.order_id, "pair": spec.pair,
            "side": t.side, "price": price_str(t.price, spec), "qty": qty_str(t.qty, spec),
            "realizedPnl": d8(t.realized_pnl), "marginAsset": spec.base_asset,
            "baseQty": d8(t.quote_qty), "commission": d8(t.commission),
            "commissionAsset": t.commission_asset, "time": t.time_ms, "positionSide": "BOTH",
            "buyer": t.side == "BUY", "maker": t.maker}


class CoinmApi:
    def __init__(self, trading: Trading) -> None:
        self.t = trading
        self.counter = OrderCounter([("1M", 60.0)])

    def routes(self) -> dict[tuple[str, str], Route]:
        return {
            ("POST", "/dapi/v1/order"): Route(self.new_order, 0),      # order count, not IP weight
            ("GET", "/dapi/v1/order"): Route(self.get_order, 1),
            ("DELETE", "/dapi/v1/order"): Route(self.cancel_order, 1),
            ("DELETE", "/dapi/v1/allOpenOrders"): Route(self.cancel_all_open_orders, 1),
            ("GET", "/dapi/v1/openOrders"): Route(self.open_orders,
                                                  lambda r: 1 if r.params.get("symbol") else 40),
            ("GET", "/dapi/v1/userTrades"): Route(self.user_trades,
                                                  lambda r: 20 if r.params.get("symbol") else 40),
            ("GET", "/dapi/v1/income"): Route(self.income, 20),
            ("GET", "/dapi/v1/positionRisk"): Route(self.position_risk, 1),
            ("GET", "/dapi/v1/account"): Route(self.account, 5),
            ("GET", "/dapi/v1/commissionRate"): Route(self.commission_rate, 20),
            ("GET", "/dapi/v2/leverageBracket"): Route(self.leverage_brackets,
                                                       lambda r: 1 if r.params.get("symbol") else 2),
            ("GET", "/dapi/v1/fundingRate"): Route(self.funding_rate, 1),      # market data, unsigned
        }

    def _signed(self, req: Request) -> None:
        self.t.auth.check(req, spot=False)

    def _specs(self) -> list[SimSymbol]:
        return [b.spec for b in self.t.market.books.values() if not b.spec.is_spot]

    def _symbol(self, req: Request) -> SimSymbol:
        return listed(req.require("symbol"), self._specs())

    # -- orders ------------------------------------------------------------------------------
    def new_order(self, req: Request) -> Reply:
        self.t.faults.received(COINM)
        self._signed(req)
        wait_before_matching(self.t.faults, COINM)
        spec = self._symbol(req)
        new = parse_coinm_order(req, spec)
        with self.t.market.lock:
            order = self.t.coinm.place(new)
            body = order_row(order, spec, ack=new.resp_type == "ACK")
        lose_the_answer_if_scripted(self.t.faults, COINM, order.client_order_id, order.status)
        return Reply(body, headers=self.counter.record())

    def get_order(self, req: Request) -> dict:
        self._signed(req)
        spec = self._symbol(req)
        with self.t.market.lock:
            order = find_order(self.t.coinm, spec.symbol, req)
            return order_row(order, spec, query=True)

    def cancel_order(self, req: Request) -> dict:
        self._signed(req)
        spec = self._symbol(req)
        order_id, client_id = order_ref(req)
        with self.t.market.lock:
            return order_row(self.t.coinm.cancel(spec.symbol, order_id, client_id), spec)

    def cancel_all_open_orders(self, req: Request) -> dict:
        """Every open order of the symbol; the answer is a status, not the orders (reference §7,
        binance-sdk-derivatives-trading-coin-futures model CancelAllOpenOrdersResponse; the text
        is the one ccxt binance checks for)."""
        self._signed(req)
        spec = self._symbol(req)
        with self.t.market.lock:
            for order in self.t.coinm.open_list(spec.symbol):
                self.t.coinm.cancel(spec.symbol, order.order_id, None)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def open_orders(self, req: Request) -> list[dict]:
        self._signed(req)
        symbol = self._symbol(req).symbol if req.params.get("symbol") else None
        pair = req.params.get("pair")
        specs = {s.symbol: s for s in self._specs()}
        with self.t.market.lock:
            return [order_row(o, specs[o.symbol], query=True) for o in self.t.coinm.open_list(symbol)
                    if pair in (None, specs[o.symbol].pair)]

    # -- fills and income --------------------------------------------------------------------
    def user_trades(self, req: Request) -> list[dict]:
        self._signed(req)
        symbol, pair = req.params.get("symbol"), req.params.get("pair")
        if not symbol and not pair:
            raise ApiError(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        if symbol and pair:
            raise ApiError(-1128, "Combination of optional parameters invalid.")
        order_id = int_param(req, "orderId")
        if pair and (order_id is not None or req.params.get("fromId")):
            raise ApiError(-1128, "Combination of optional parameters invalid.")
        specs = {s.symbol: s for s in self._specs()}
        if symbol:
            listed(symbol, list(specs.values()))
        with self.t.market.lock:
            rows = [t for t in self.t.coinm.trades
                    if (t.symbol == symbol or specs[t.symbol].pair == pair)
                    and order_id in (None, t.order_id)]
        picked = window(rows, lambda t: t.time_ms, lambda t: t.trade_id, req, 50, 1000)
        return [trade_row(t, specs[t.symbol]) for t in picked]

    def income(self, req: Request) -> list[dict]:
        self._signed(req)
        symbol, kind = req.params.get("symbol"), req.params.get("incomeType")
        if kind and kind not in INCOME_TYPES:
            raise ApiError(-1100, "Illegal characters found in parameter 'incomeType'.")
        with self.t.market.lock:
            rows = [r for r in self.t.account.income
                    if symbol in (None, "", r.symbol) and kind in (None, "", r.income_type)]
        picked = window(rows, lambda r: r.time_ms, lambda r: r.tran_id, req, 100, 1000)
        return [{"symbol": r.symbol, "incomeType": r.income_type, "income": d8(r.income),
                 "asset": r.asset, "info": "", "time": r.time_ms, "tranId": str(r.tran_id),
                 "tradeId": r.trade_id} for r in picked]

    # -- positions and account ---------------------------------------------------------------
    def _position_numbers(self, spec: SimSymbol) -> dict:
        acct, desk = self.t.account, self.t.coinm
        mark = desk.mark(spec.symbol)
        pos = acct.position(spec.symbol)
        return {"mark": mark, "pos": pos, "upnl": acct.unrealized(spec, mark),
                "maint": acct.maint_margin(spec, mark), "pim": acct.position_initial_margin(spec, mark),
                "oim": acct.order_initial_margin(o for o in desk.open_margin() if o.spec.symbol == spec.symbol),
                "notional": acct.notional(spec, mark), "liq": acct.liquidation_price(spec)}

    def position_risk(self, req: Request) -> list[dict]:
        self._signed(req)
        asset, pair = req.params.get("marginAsset"), req.params.get("pair")
        out = []
        with self.t.market.lock:
            for spec in self._specs():
                if asset not in (None, "", spec.base_asset) or pair not in (None, "", spec.pair):
                    continue
                n = self._position_numbers(spec)
                pos = n["pos"]
                out.append({"symbol": spec.symbol, "positionAmt": qty_str(pos.amount, spec),
                            "entryPrice": entry_str(pos.entry), "breakEvenPrice": entry_str(pos.entry),
                            "markPrice": d8(n["mark"]), "unRealizedProfit": d8(n["upnl"]),
                            "liquidationPrice": "0" if n["liq"] == 0 else d8(n["liq"]),
                            "leverage": str(self.t.account.leverage), "maxQty": MAX_QTY,
                            "marginType": "cross", "isolatedMargin": d8(Decimal(0)),
                            "isAutoAddMargin": "false", "positionSide": "BOTH",
                            "notionalValue": d8(n["notional"]), "isolatedWallet": "0",
                            "updateTime": pos.update_ms})
        return out

    def account(self, req: Request) -> dict:
        self._signed(req)
        acct = self.t.account
        with self.t.market.lock:
            specs = self._specs()
            numbers = {s.symbol: self._position_numbers(s) for s in specs}
            positions = [{"symbol": s.symbol, "positionAmt": qty_str(n["pos"].amount, s),
                          "initialMargin": d8(n["pim"] + n["oim"]), "maintMargin": d8(n["maint"]),
                          "unrealizedProfit": d8(n["upnl"]), "positionInitialMargin": d8(n["pim"]),
                          "openOrderInitialMargin": d8(n["oim"]), "leverage": str(acct.leverage),
                          "isolated": False, "positionSide": "BOTH", "entryPrice": entry_str(n["pos"].entry),
                          "breakEvenPrice": entry_str(n["pos"].entry), "maxQty": MAX_QTY,
                          "notionalValue": d8(n["notional"]), "updateTime": n["pos"].update_ms}
                         for s, n in ((s, numbers[s.symbol]) for s in specs)]
            assets = []
            for coin in sorted({s.base_asset for s in specs} | set(acct.wallet)):
                mine = [numbers[s.symbol] for s in specs if s.base_asset == coin]
                total = {k: sum((n[k] for n in mine), Decimal(0)) for k in ("upnl", "maint", "pim", "oim")}
                wallet = acct.balance(coin)
                margin_balance = wallet + total["upnl"]
                available = max(Decimal(0), margin_balance - total["pim"] - total["oim"])
                assets.append({"asset": coin, "walletBalance": d8(wallet),
                               "unrealizedProfit": d8(total["upnl"]), "marginBalance": d8(margin_balance),
                               "maintMargin": d8(total["maint"]),
                               "initialMargin": d8(total["pim"] + total["oim"]),
                               "positionInitialMargin": d8(total["pim"]),
                               "openOrderInitialMargin": d8(total["oim"]),
                               "maxWithdrawAmount": d8(min(available, max(wallet, Decimal(0)))),
                               "crossWalletBalance": d8(wallet), "crossUnPnl": d8(total["upnl"]),
                               "availableBalance": d8(available),
                               "updateTime": acct.update_ms.get(coin, 0)})
        return {"assets": assets, "positions": positions, "canDeposit": True, "canTrade": True,
                "canWithdraw": True, "feeTier": 0, "updateTime": 0}

    def commission_rate(self, req: Request) -> dict:
        self._signed(req)
        spec = self._symbol(req)
        maker, taker = self.t.coinm_rates
        return {"symbol": spec.symbol, "makerCommissionRate": format(maker, "f"),
                "takerCommissionRate": format(taker, "f")}

    def leverage_brackets(self, req: Request) -> list[dict]:
        """One bracket per symbol: the whole position up to MAX_QTY coins at this exchange's single
        maintenance rate. Numbers are JSON numbers on this endpoint (binance-sdk-derivatives-
        trading-coin-futures models NotionalBracketForSymbolResponseInner and
        NotionalBracketForPairResponseInnerBracketsInner: StrictInt / StrictFloat)."""
        self._signed(req)
        specs = [self._symbol(req)] if req.params.get("symbol") else self._specs()
        return [{"symbol": s.symbol, "notionalCoef": 1.0,
                 "brackets": [{"bracket": 1, "initialLeverage": MAX_LEVERAGE, "qtyCap": int(MAX_QTY),
                               "qtylFloor": 0, "maintMarginRatio": float(self.t.account.maint_rate),
                               "cum": 0.0}]} for s in specs]

    # -- funding history (market data) -------------------------------------------------------
    def funding_rate(self, req: Request) -> list[dict]:
        """Past settlements of one perpetual (reference §6.3): symbol required, startTime /
        endTime inclusive, limit default 100, max 1000; oldest first."""
        spec = self._symbol(req)
        limit = limit_param(req, 100, 1000)
        rows = self.t.market.funding.funding_history(
            spec.symbol, int_param(req, "startTime"), int_param(req, "endTime"), limit)
        return [r.wire() for r in rows]
