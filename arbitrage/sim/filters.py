"""Number parsing and symbol filters of a new order, with Binance's codes and messages.

Spot: `-1111` when a number has more decimals than the asset's 8, else `-1013 Filter failure: X`
(reference §7.4). COIN-M: `-4003/-4004/-4005` for quantity bounds, `-4014/-4023` off the grid,
`-1111` beyond pricePrecision / quantityPrecision, `-4016/-4024` outside PERCENT_PRICE (§10.5).
"""
from __future__ import annotations

import re
from decimal import Decimal

from arbitrage.sim.rest import ApiError
from arbitrage.sim.symbols import SimSymbol

_NUMBER = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
SPOT_PRECISION = 8                      # baseAssetPrecision / quotePrecision of the spot symbols
SPOT_MIN_NOTIONAL = Decimal("5")        # NOTIONAL filter (info.py prints the same numbers)
SPOT_MAX_NOTIONAL = Decimal("9000000")


def parse_decimal(name: str, raw: str) -> Decimal:
    if not _NUMBER.match(raw):
        raise ApiError(-1100, f"Illegal characters found in parameter '{name}'; legal range is "
                              "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")
    return Decimal(raw)


def decimals(value: Decimal) -> int:
    """Significant decimals: 1.50 has 1, 100 has 0."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -int(exponent))


def _off_grid(value: Decimal, base: Decimal, step: Decimal) -> bool:
    return step > 0 and (value - base) % step != 0


def _spot_fail(name: str) -> ApiError:
    return ApiError(-1013, f"Filter failure: {name}")


def check_spot(spec: SimSymbol, market_order: bool, qty: Decimal, price: Decimal | None,
               ref_price: Decimal | None) -> None:
    """`ref_price`: what a MARKET order's notional is measured at (the book's mid)."""
    if decimals(qty) > SPOT_PRECISION:
        raise ApiError(-1111, "Parameter 'quantity' has too much precision.")
    if price is not None:
        if decimals(price) > SPOT_PRECISION:
            raise ApiError(-1111, "Parameter 'price' has too much precision.")
        if price < spec.min_price or price > spec.max_price or _off_grid(price, Decimal(0), spec.tick_size):
            raise _spot_fail("PRICE_FILTER")
    if qty < spec.min_qty or qty > spec.max_qty or _off_grid(qty, spec.min_qty, spec.step_size):
        raise _spot_fail("LOT_SIZE")
    if market_order and qty > spec.market_max_qty:
        raise _spot_fail("MARKET_LOT_SIZE")
    at = price if price is not None else ref_price
    if at is not None:
        notional = qty * at
        if notional < SPOT_MIN_NOTIONAL or (not market_order and notional > SPOT_MAX_NOTIONAL):
            raise _spot_fail("NOTIONAL")


def check_coinm(spec: SimSymbol, market_order: bool, qty: Decimal, price: Decimal | None,
                mark: Decimal | None) -> None:
    if qty <= 0:
        raise ApiError(-4003, "Quantity less than or equal to zero.")
    if decimals(qty) > spec.qty_decimals:
        raise ApiError(-1111, "Precision is over the maximum defined for this asset.")
    if _off_grid(qty, Decimal(0), spec.step_size):
        raise ApiError(-4023, "Qty not increased by step size.")
    if qty < (spec.market_min_qty if market_order else spec.min_qty):
        raise ApiError(-4004, "Quantity less than min quantity.")
    if qty > (spec.market_max_qty if market_order else spec.max_qty):
        raise ApiError(-4005, "Quantity greater than max quantity.")
    if price is None:
        return
    if price <= 0:
        raise ApiError(-4001, "Price less than 0.")
    if decimals(price) > spec.price_precision:
        raise ApiError(-1111, "Precision is over the maximum defined for this asset.")
    if _off_grid(price, Decimal(0), spec.tick_size):
        raise ApiError(-4014, "Price not increased by tick size.")
    if price < spec.min_price:
        raise ApiError(-4013, "Price less than min price.")
    if price > spec.max_price:
        raise ApiError(-4002, "Price greater than max price.")
    if mark is not None and mark > 0:
        if price > mark * Decimal(spec.percent_up):
            raise ApiError(-4016, "Price is higher than mark price multiplier cap.")
        if price < mark * Decimal(spec.percent_down):
            raise ApiError(-4024, "Price is lower than mark price multiplier floor.")
