"""Account wire format: spot `/api/v3/account`, COIN-M `/dapi/v1/account`, `/positionRisk`,
`/income` and `/commissionRate` (binance-reference §8.3, §8.4, §9) parsed into domain types.

Pure functions; shape errors raise KeyError/TypeError/ValueError for the clients to turn into
BadResponse.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from arbitrage.exchanges.orders_wire import flag, num, rows, whole
from arbitrage.models import CoinmAccount, Income, MarginAsset, Position, SpotAccount

_ZERO = Decimal(0)


def parse_spot_account(data: dict[str, Any]) -> SpotAccount:
    rates = data["commissionRates"]
    return SpotAccount(
        balances={b["asset"]: (num(b["free"]), num(b["locked"])) for b in rows(data["balances"])},
        maker_rate=num(rates["maker"]), taker_rate=num(rates["taker"]),
        can_trade=flag(data["canTrade"]), update_ms=whole(data["updateTime"]))


def parse_margin_asset(row: dict[str, Any]) -> MarginAsset:
    return MarginAsset(
        asset=row["asset"], wallet_balance=num(row["walletBalance"]),
        unrealized_profit=num(row["unrealizedProfit"]), margin_balance=num(row["marginBalance"]),
        maint_margin=num(row["maintMargin"]), initial_margin=num(row["initialMargin"]),
        available_balance=num(row["availableBalance"]))


def parse_position(row: dict[str, Any]) -> Position:
    """One positionRisk row. `positionAmt` is signed; `leverage` is a string ("125")."""
    return Position(
        symbol=row["symbol"], amount=num(row["positionAmt"]), entry_price=num(row["entryPrice"]),
        mark_price=num(row["markPrice"]), unrealized_profit=num(row["unRealizedProfit"]),
        liquidation_price=num(row["liquidationPrice"]), leverage=whole(row["leverage"]),
        margin_type=row["marginType"])


def flat_position(symbol: str) -> Position:
    """What an absent positionRisk row means: nothing held. Leverage and margin type unknown."""
    return Position(symbol=symbol, amount=_ZERO, entry_price=_ZERO, mark_price=_ZERO,
                    unrealized_profit=_ZERO, liquidation_price=_ZERO, leverage=0, margin_type="")


def positions_by_symbol(data: Any) -> dict[str, Position]:
    """One position per symbol. One-way mode has a single BOTH row per symbol; hedge mode adds
    LONG/SHORT rows. Whichever row holds contracts wins, so no exposure is ever hidden behind a
    zero BOTH row; two non-zero rows (a hedge-mode long and short) cannot be one position."""
    by_symbol: dict[str, list[Position]] = {}
    sides: dict[str, list[str]] = {}
    for row in rows(data):
        by_symbol.setdefault(row["symbol"], []).append(parse_position(row))
        sides.setdefault(row["symbol"], []).append(row.get("positionSide", "BOTH"))
    result: dict[str, Position] = {}
    for symbol, found in by_symbol.items():
        held = [p for p in found if p.amount != 0]
        if len(held) > 1:
            raise ValueError(f"{symbol}: {len(held)} non-zero positions (hedge mode?); "
                             "the bot needs one-way mode")
        both = [p for p, s in zip(found, sides[symbol]) if s == "BOTH"]
        result[symbol] = held[0] if held else (both or found)[0]
    return result


def parse_coinm_account(account: dict[str, Any], positions: dict[str, Position]) -> CoinmAccount:
    """/dapi/v1/account's assets with the positions parsed from positionRisk (whose rows carry
    marginType and liquidationPrice, which the account's own `positions` lack)."""
    assets = rows(account["assets"])
    # the account-level updateTime is 0 in Binance's example; the assets carry the real one
    times = [whole(account.get("updateTime", 0))] + [whole(a.get("updateTime", 0)) for a in assets]
    return CoinmAccount(assets={a["asset"]: parse_margin_asset(a) for a in assets},
                        positions=positions, update_ms=max(times))


def parse_income(row: dict[str, Any]) -> Income:
    """One income row; `tranId` may be a number or a numeric string, `tradeId` is often ""."""
    trade_id = row.get("tradeId", "")
    if isinstance(trade_id, bool) or not isinstance(trade_id, (str, int)):
        raise TypeError(f"tradeId {trade_id!r}")
    return Income(
        symbol=row["symbol"], income_type=row["incomeType"], income=num(row["income"]),
        asset=row["asset"], time_ms=whole(row["time"]), tran_id=whole(row["tranId"]),
        trade_id=str(trade_id))


def parse_commission_rate(data: dict[str, Any], symbol: str) -> tuple[Decimal, Decimal]:
    """(maker, taker) from GET /dapi/v1/commissionRate."""
    if data["symbol"] != symbol:
        raise ValueError(f"commission rate for {data['symbol']!r}, asked for {symbol!r}")
    return num(data["makerCommissionRate"]), num(data["takerCommissionRate"])
