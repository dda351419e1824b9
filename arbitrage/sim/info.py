"""exchangeInfo bodies, shaped like the captured entries of binance-reference.md §3.

Integers stay JSON numbers (limits, precisions, dates, contractSize); prices and quantities are
strings — spot with 8 decimals, COIN-M in its own short form.
"""
from __future__ import annotations

from decimal import Decimal

from arbitrage.sim.symbols import SimSymbol

PERPETUAL_DELIVERY_MS = 4133404800000   # Binance's "year 2100" sentinel for perpetuals


def _d8(value: Decimal) -> str:
    return f"{value:.8f}"


def _short(value: Decimal) -> str:
    """COIN-M filter numbers are printed without trailing zeros ("0.1", "100000")."""
    text = format(value.normalize(), "f")
    return text


def spot_rate_limits(weight_limit: int) -> list[dict]:
    return [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": weight_limit},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
        {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 300000},
    ]


def coinm_rate_limits(weight_limit: int) -> list[dict]:
    return [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": weight_limit},
        {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
    ]


def spot_symbol_entry(s: SimSymbol) -> dict:
    return {
        "symbol": s.symbol, "status": "TRADING",
        "baseAsset": s.base_asset, "baseAssetPrecision": 8,
        "quoteAsset": s.quote_asset, "quotePrecision": 8, "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True, "ocoAllowed": True, "otoAllowed": True, "opoAllowed": False,
        "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": True, "cancelReplaceAllowed": True,
        "amendAllowed": True, "pegInstructionsAllowed": False,
        "isSpotTradingAllowed": True, "isMarginTradingAllowed": True,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": _d8(s.min_price), "maxPrice": _d8(s.max_price),
             "tickSize": _d8(s.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": _d8(s.min_qty), "maxQty": _d8(s.max_qty),
             "stepSize": _d8(s.step_size)},
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {"filterType": "MARKET_LOT_SIZE", "minQty": _d8(Decimal(0)), "maxQty": _d8(s.market_max_qty),
             "stepSize": _d8(Decimal(0))},
            {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
             "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
            {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "5", "bidMultiplierDown": "0.2",
             "askMultiplierUp": "5", "askMultiplierDown": "0.2", "avgPriceMins": 5},
            {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        ],
        "permissions": [], "permissionSets": [["SPOT", "MARGIN"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def coinm_symbol_entry(s: SimSymbol) -> dict:
    filters: list[dict] = [
        {"filterType": "PRICE_FILTER", "minPrice": _short(s.min_price), "maxPrice": _short(s.max_price),
         "tickSize": _short(s.tick_size)},
        {"filterType": "LOT_SIZE", "minQty": _short(s.min_qty), "maxQty": _short(s.max_qty),
         "stepSize": _short(s.step_size)},
        {"filterType": "MARKET_LOT_SIZE", "minQty": _short(s.market_min_qty),
         "maxQty": _short(s.market_max_qty), "stepSize": _short(s.step_size)},
        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
    ]
    if s.max_algo_orders:
        filters.append({"filterType": "MAX_NUM_ALGO_ORDERS", "limit": s.max_algo_orders})
    # multiplierDecimal is a string on the wire ("4"), unlike the doc example's number:
    # binance-sdk-derivatives-trading-coin-futures model
    # ExchangeInformationResponseSymbolsInnerFiltersInner types it StrictStr
    filters.append({"filterType": "PERCENT_PRICE", "multiplierUp": s.percent_up,
                    "multiplierDown": s.percent_down, "multiplierDecimal": "4"})
    return {
        "symbol": s.symbol, "pair": s.pair, "contractType": "PERPETUAL",
        "deliveryDate": PERPETUAL_DELIVERY_MS, "onboardDate": s.onboard_ms,
        "contractStatus": "TRADING", "contractSize": s.contract_size,
        "marginAsset": s.base_asset, "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
        "baseAsset": s.base_asset, "quoteAsset": s.quote_asset,
        "pricePrecision": s.price_precision, "quantityPrecision": 0,
        "baseAssetPrecision": 8, "quotePrecision": 8, "equalQtyPrecision": 4,
        "triggerProtect": "0.0500", "underlyingType": "COIN", "underlyingSubType": [],
        "filters": filters,
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                       "TRAILING_STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
        "liquidationFee": s.liquidation_fee, "marketTakeBound": s.market_take_bound,
    }


def spot_exchange_info(symbols: list[SimSymbol], weight_limit: int, now_ms: int) -> dict:
    return {"timezone": "UTC", "serverTime": now_ms, "rateLimits": spot_rate_limits(weight_limit),
            "exchangeFilters": [], "symbols": [spot_symbol_entry(s) for s in symbols]}


def coinm_exchange_info(symbols: list[SimSymbol], weight_limit: int, now_ms: int) -> dict:
    return {"timezone": "UTC", "serverTime": now_ms, "rateLimits": coinm_rate_limits(weight_limit),
            "exchangeFilters": [], "symbols": [coinm_symbol_entry(s) for s in symbols]}
