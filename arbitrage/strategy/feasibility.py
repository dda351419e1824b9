"""The start-up check: settings under which no entry can ever pass are refused before trading.

Pure: the sizing settings, both symbols' filters and one price in, one line per problem out (the
program prints them like any settings error and exits 2). It needs the price because the caps and
the filters are in different units: MAX_Q_BASE_FRONTIER is in the base coin, MIN_V_USD and
MAX_V_USD_FRONTIER in USD, a contract is S USD, spot minQty is in the coin and minNotional in USDT.
0.5 ETH at $2,600 is $1,300: below MIN_V_USD 5000, every frontier would be refused, and the bot
would sit there with one `[SKIP]` line and nothing else.

The price moves, so "ever" means "at today's price"; the lines say which price they used.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from arbitrage.models import SymbolRules


@dataclass(frozen=True)
class Sizing:
    """The settings that bound an entry's size (names as in config.Settings)."""
    auto_from_frontier: bool
    min_v_usd: Decimal
    max_v_usd_frontier: Decimal     # 0 = no cap
    max_q_base_frontier: Decimal    # 0 = no cap
    v_usd: Decimal
    base_cap_name: str = "MAX_Q_BASE_FRONTIER"   # the name the user set it under
    v_name: str = "V_USD"                          # the carry sizes a fixed CARRY_INVEST_USD

    @classmethod
    def from_settings(cls, s) -> "Sizing":
        from arbitrage.config import base_cap_name
        if s.strategy == "carry":
            return cls(False, s.min_v_usd, s.max_v_usd_frontier, s.max_q_base_frontier,
                       s.carry_invest_usd, base_cap_name(s), "CARRY_INVEST_USD")
        return cls(s.auto_from_frontier, s.min_v_usd, s.max_v_usd_frontier, s.max_q_base_frontier,
                   s.v_usd, base_cap_name(s))


def _plain(d: Decimal) -> str:
    return format(d.normalize(), "f")


def _up(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_CEILING)


def entry_problems(sz: Sizing, spot: SymbolRules, perp: SymbolRules, price: Decimal) -> list[str]:
    """Why no entry can pass with these settings at `price` (USD per base coin); [] when one can."""
    base, size = spot.base_asset, perp.contract_size or Decimal(1)
    at = f"at the {perp.symbol} price {_plain(price.quantize(Decimal('0.01')))}"
    one_contract = size * max(perp.min_qty, Decimal(1))
    if not sz.auto_from_frontier:
        return _fixed_problems(sz, spot, perp, price, one_contract, at)
    problems: list[str] = []
    # the largest notional an entry may have, and the setting that makes it so ("NAME: value")
    largest, by = None, ""
    if sz.max_v_usd_frontier > 0:
        largest, by = sz.max_v_usd_frontier, f"MAX_V_USD_FRONTIER: {_plain(sz.max_v_usd_frontier)} USD"
    if sz.max_q_base_frontier > 0 and (largest is None or sz.max_q_base_frontier * price < largest):
        largest = sz.max_q_base_frontier * price
        by = f"{sz.base_cap_name}: {_plain(sz.max_q_base_frontier)} {base} is ${largest:,.2f} {at}"
    if largest is None:
        pass
    elif largest < sz.min_v_usd:
        need = (f"{sz.base_cap_name} >= {_plain(_up(sz.min_v_usd / price, 4))} {base} or 0 = no cap"
                if by.startswith(sz.base_cap_name) else "MAX_V_USD_FRONTIER >= MIN_V_USD or 0 = no cap")
        problems.append(f"{by}, below MIN_V_USD {_plain(sz.min_v_usd)}: every frontier is refused "
                        f"(expected {need}, or a lower MIN_V_USD)")
    elif largest < one_contract:
        problems.append(f"{by}, less than the smallest {perp.symbol} order ({_plain(one_contract)} "
                        f"USD) (expected a cap of at least {_plain(one_contract)} USD)")
    elif largest < spot.min_notional:
        problems.append(f"{by}, less than {spot.symbol} minNotional {_plain(spot.min_notional)} "
                        f"(expected a cap of at least {_plain(spot.min_notional)} USD)")
    elif largest / price < spot.min_qty:
        problems.append(f"{by}, less than {spot.symbol} minQty {_plain(spot.min_qty)} {base} "
                        f"(expected a cap of at least {_plain(spot.min_qty)} {base})")
    # the smallest entry (MIN_V_USD) must fit the exchange's largest order
    problems += _too_large("MIN_V_USD", sz.min_v_usd, spot, perp, price, at)
    return problems


def _fixed_problems(sz: Sizing, spot: SymbolRules, perp: SymbolRules, price: Decimal,
                    one_contract: Decimal, at: str) -> list[str]:
    v, base, name = sz.v_usd, spot.base_asset, sz.v_name
    why = (f"(expected a larger {name}" + (", or AUTO_FROM_FRONTIER=true)" if name == "V_USD" else ")"))
    if v < one_contract:
        return [f"{name}: {_plain(v)} is less than the smallest {perp.symbol} order "
                f"({_plain(one_contract)} USD) {why}"]
    if v < spot.min_notional:
        return [f"{name}: {_plain(v)} is less than {spot.symbol} minNotional "
                f"{_plain(spot.min_notional)} {why}"]
    if v / price < spot.min_qty:
        return [f"{name}: {_plain(v)} is {_plain(_up(v / price, 8))} {base} {at}, less than "
                f"{spot.symbol} minQty {_plain(spot.min_qty)} {why}"]
    return _too_large(name, v, spot, perp, price, at)


def _too_large(name: str, usd: Decimal, spot: SymbolRules, perp: SymbolRules, price: Decimal,
               at: str) -> list[str]:
    """`usd` of notional is more than the largest order either leg may send (taker: MARKET)."""
    problems = []
    spot_max = min((q for q in (spot.max_qty, spot.market_max_qty) if q > 0), default=None)
    if spot_max is not None and usd / price > spot_max:
        problems.append(f"{name}: {_plain(usd)} is {_plain(_up(usd / price, 8))} {spot.base_asset} "
                        f"{at}, more than {spot.symbol}'s largest order {_plain(spot_max)} "
                        f"(expected {name} <= {_plain((spot_max * price).quantize(Decimal(1)))})")
    perp_max = min((q for q in (perp.max_qty, perp.market_max_qty) if q > 0), default=None)
    size = perp.contract_size or Decimal(1)
    if perp_max is not None and usd / size > perp_max:
        problems.append(f"{name}: {_plain(usd)} is more than {perp.symbol}'s largest order "
                        f"{_plain(perp_max)} contracts of {_plain(size)} USD "
                        f"(expected {name} <= {_plain(perp_max * size)})")
    return problems
