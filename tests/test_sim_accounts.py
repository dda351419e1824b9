"""Accounts of the local exchange: hand-computed inverse-contract numbers, spot fees and locks, and
the account endpoints agreeing exactly with the fills (the exchange is the ledger's ground truth)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from arbitrage.sim.coinm_account import CoinmAccount
from arbitrage.sim.marks import MarkState
from arbitrage.sim.spot_wallet import SpotWallet
from arbitrage.sim.symbols import SYMBOLS
from tests.test_sim_trading_client import D, Client, frozen_exchange

PERP, SPOT = SYMBOLS["BTCUSD_PERP"], SYMBOLS["BTCUSDT"]
TAKER = Decimal("0.0005")


def account(wallet: str = "1") -> CoinmAccount:
    return CoinmAccount({"BTC": D(wallet)}, leverage=20, maint_rate=D("0.004"))


def test_long_entry_is_the_harmonic_mean_and_reducing_realizes_inverse_pnl():
    acct = account()
    acct.fill(PERP, "BUY", D(10), D(50000), TAKER, 1, 1)
    acct.fill(PERP, "BUY", D(30), D(60000), TAKER, 2, 2)
    # 40 / (10/50000 + 30/60000) = 40 / 0.0007 = 57142.857142857…  (1/E = 0.0000175 exactly)
    assert acct.position("BTCUSD_PERP").entry == D(40) / D("0.0007")
    result = acct.fill(PERP, "SELL", D(20), D(62000), TAKER, 3, 3)
    # 20 × 100 × (0.0000175 − 1/62000) = 0.0027419354838709… → 0.00274194
    assert result.realized_pnl == D("0.00274194")
    # 20 × 100 / 62000 × 0.0005 = 0.0000161290… → truncated 0.00001612
    assert result.commission == D("0.00001612") and result.base_qty == D("0.03225806")
    pos = acct.position("BTCUSD_PERP")
    assert pos.amount == 20 and pos.entry == D(40) / D("0.0007")       # reducing keeps the entry
    # 10@50000: 0.02 × 0.0005; 30@60000: 0.05 × 0.0005; 20@62000 as above
    commissions = D("0.00001") + D("0.000025") + D("0.00001612")
    assert acct.balance("BTC") == D(1) + D("0.00274194") - commissions
    kinds = [(r.income_type, r.income) for r in acct.income]
    assert kinds == [("COMMISSION", -D("0.00001")), ("COMMISSION", -D("0.000025")),
                     ("REALIZED_PNL", D("0.00274194")), ("COMMISSION", -D("0.00001612"))]


def test_short_realizes_the_mirror_and_a_flip_reopens_at_the_fill_price():
    acct = account()
    acct.fill(PERP, "SELL", D(10), D(60000), TAKER, 1, 1)
    result = acct.fill(PERP, "BUY", D(15), D(50000), TAKER, 2, 2)
    # closes 10: 10 × 100 × (1/50000 − 1/60000) = 0.003333… → 0.00333333, then long 5 @ 50000
    assert result.realized_pnl == D("0.00333333")
    pos = acct.position("BTCUSD_PERP")
    assert pos.amount == 5 and pos.entry == D(50000)
    assert acct.unrealized(PERP, D(40000)) == D("-0.00250000")       # 5×100×(1/50000 − 1/40000)


def test_funding_longs_pay_shorts_when_the_rate_is_positive():
    long_acct, short_acct = account(), account()
    long_acct.fill(PERP, "BUY", D(20), D(60000), D(0), 1, 1)
    short_acct.fill(PERP, "SELL", D(20), D(60000), D(0), 1, 1)
    # 20 × 100 / 60000 × 0.0001 = 0.0000033333… → 0.00000333
    paid = long_acct.settle_funding(PERP, D(60000), D("0.0001"), 5)
    got = short_acct.settle_funding(PERP, D(60000), D("0.0001"), 5)
    assert (paid.income, got.income) == (D("-0.00000333"), D("0.00000333"))
    assert paid.income_type == "FUNDING_FEE" and long_acct.balance("BTC") == D("0.99999667")
    assert account().settle_funding(PERP, D(60000), D("0.0001"), 5) is None     # flat: no row


def test_liquidation_price_solves_wallet_plus_upnl_equals_maintenance():
    acct = account()
    acct.fill(PERP, "BUY", D(10), D(50000), D(0), 1, 1)
    acct.fill(PERP, "BUY", D(30), D(60000), D(0), 2, 2)
    liq = acct.liquidation_price(PERP)
    # P = 40 × 1.004 × 100 / (1 + 40 × 100 × 0.0000175) = 4016 / 1.07
    assert liq == (D(4016) / D("1.07")).quantize(D("0.00000001"))
    pos, m = acct.position("BTCUSD_PERP"), D("0.004")
    equity = D(1) + pos.amount * 100 * (1 / pos.entry - 1 / liq)
    assert abs(equity - m * pos.amount * 100 / liq) < D("1e-9")
    short = account("0.01")
    short.fill(PERP, "SELL", D(10), D(60000), D(0), 1, 1)              # 0.0167 BTC short on 0.01 BTC
    liq_short = short.liquidation_price(PERP)
    # P = 10 × 0.996 × 100 / (10 × 100 / 60000 − 0.01)
    assert liq_short == (D(996) / (D(1000) / D(60000) - D("0.01"))).quantize(D("0.00000001"))
    covered = account("1")
    covered.fill(PERP, "SELL", D(10), D(60000), D(0), 1, 1)             # the wallet covers any rise
    assert covered.liquidation_price(PERP) == 0 and account().liquidation_price(PERP) == 0


def test_spot_fees_are_in_the_asset_received_and_locks_release():
    wallet = SpotWallet({"USDT": D(100000), "BTC": D(1)})
    assert wallet.fill(SPOT, "BUY", D("0.01"), D(60000), D("0.001"), None, 1) == (D("0.00001"), "BTC")
    assert wallet.fill(SPOT, "SELL", D("0.01"), D(60000), D("0.001"), None, 2) == (D("0.6"), "USDT")
    assert wallet.free["BTC"] == D(1) - D("0.00001")
    assert wallet.free["USDT"] == D(100000) - D(600) + D(600) - D("0.6")
    wallet.lock("USDT", D(590))                      # a BUY 0.01 @ 59000 resting
    wallet.fill(SPOT, "BUY", D("0.01"), D(58000), D("0.001"), D(59000), 3)   # filled better
    assert wallet.locked["USDT"] == 0 and wallet.free["USDT"] == D("99999.4") - D(580)


@pytest.fixture
def ex():
    with frozen_exchange() as exchange:
        yield exchange


def _set_mark(ex, price: Decimal, rate: float = 0.0001) -> None:
    now = ex.market.clock_ms()
    ex.market.set_mark(MarkState("BTCUSD_PERP", "BTCUSD", float(price), float(price), rate,
                                 now + 8 * 3600 * 1000, now))


def test_coinm_account_and_position_risk_agree_with_user_trades_and_income(ex):
    client = Client(ex)
    assert client.ok("GET", "/dapi/v1/commissionRate", symbol="BTCUSD_PERP") == {
        "symbol": "BTCUSD_PERP", "makerCommissionRate": "0.0002", "takerCommissionRate": "0.0005"}
    client.cm_order(side="SELL", type="MARKET", quantity="300")
    client.cm_order(side="BUY", type="MARKET", quantity="100")
    client.cm_order(side="BUY", type="MARKET", quantity="400")        # flips to long 200
    mark_then = ex.trading.coinm.mark("BTCUSD_PERP")
    [funding_row] = ex.settle_funding_now(rate=D("0.0001"))
    # long 200: 200 × 100 / mark × 0.0001 paid
    assert funding_row.income == (-D(200) * 100 / mark_then * D("0.0001")).quantize(D("0.00000001"))
    client.cm_order(side="SELL", type="MARKET", quantity="50", reduceOnly="true")
    _set_mark(ex, D("60123.4"))
    trades = client.ok("GET", "/dapi/v1/userTrades", symbol="BTCUSD_PERP", limit=1000)
    income = client.ok("GET", "/dapi/v1/income", limit=1000)
    # replay the fills by hand: position, harmonic entry, realized PnL per trade
    amount, entry = D(0), D(0)
    for t in trades:
        qty, price = D(t["qty"]), D(t["price"])
        signed = qty if t["side"] == "BUY" else -qty
        assert D(t["baseQty"]) == (qty * 100 / price).quantize(D("0.00000001"))
        assert D(t["commission"]) == (qty * 100 / price * TAKER).quantize(D("0.00000001"), "ROUND_DOWN")
        if amount == 0 or (amount > 0) == (signed > 0):
            entry = (abs(amount) + qty) / (abs(amount) / entry + qty / price) if amount else price
            assert D(t["realizedPnl"]) == 0
        else:
            closed = min(qty, abs(amount))
            pnl = closed * 100 * (1 / entry - 1 / price) * (1 if amount > 0 else -1)
            assert D(t["realizedPnl"]) == pnl.quantize(D("0.00000001"))
            entry = price if qty > abs(amount) else entry if qty < abs(amount) else D(0)
        amount += signed
    by_type: dict[str, Decimal] = {}
    for row in income:
        by_type[row["incomeType"]] = by_type.get(row["incomeType"], D(0)) + D(row["income"])
    assert len({row["tranId"] for row in income}) == len(income)
    assert by_type["REALIZED_PNL"] == sum(D(t["realizedPnl"]) for t in trades)
    assert by_type["COMMISSION"] == -sum(D(t["commission"]) for t in trades)
    funding = [r for r in income if r["incomeType"] == "FUNDING_FEE"]
    assert [(D(r["income"]), r["tradeId"]) for r in funding] == [(funding_row.income, "")]
    pos, asset = client.position(), client.btc_asset()
    assert pos["positionAmt"] == str(amount) == "150"
    assert D(pos["entryPrice"]) == entry.quantize(D("0.00000001"))
    mark = D(pos["markPrice"])
    assert mark == D("60123.4")
    assert D(pos["unRealizedProfit"]) == (amount * 100 * (1 / entry - 1 / mark)).quantize(D("0.00000001"))
    wallet = D(1) + by_type["REALIZED_PNL"] + by_type["COMMISSION"] + by_type["FUNDING_FEE"]
    assert D(asset["walletBalance"]) == wallet == D(asset["crossWalletBalance"])
    assert D(asset["marginBalance"]) == wallet + D(pos["unRealizedProfit"])
    assert D(asset["maintMargin"]) == (amount * 100 / mark * D("0.004")).quantize(D("0.00000001"))
    liq = (amount * D("1.004") * 100 / (wallet + amount * 100 / entry)).quantize(D("0.00000001"))
    assert abs(D(pos["liquidationPrice"]) - liq) <= D("0.00000002")
    account_row = next(p for p in client.ok("GET", "/dapi/v1/account")["positions"]
                       if p["symbol"] == "BTCUSD_PERP")
    assert account_row["positionAmt"] == "150" and account_row["entryPrice"] == pos["entryPrice"]


def test_spot_account_agrees_with_my_trades(ex):
    client = Client(ex)
    client.spot_order(side="BUY", type="MARKET", quantity="0.3")
    client.spot_order(side="SELL", type="MARKET", quantity="0.12345")
    account = client.ok("GET", "/api/v3/account")
    assert account["commissionRates"] == {"maker": "0.00100000", "taker": "0.00100000",
                                          "buyer": "0.00000000", "seller": "0.00000000"}
    assert account["makerCommission"] == 10 and account["accountType"] == "SPOT"
    trades = client.ok("GET", "/api/v3/myTrades", symbol="BTCUSDT")
    btc, usdt = D(1), D(100000)
    for t in trades:
        qty, quote, fee = D(t["qty"]), D(t["quoteQty"]), D(t["commission"])
        assert quote == qty * D(t["price"])
        if t["isBuyer"]:
            assert t["commissionAsset"] == "BTC" and fee == qty * D("0.001")
            btc, usdt = btc + qty - fee, usdt - quote
        else:
            assert t["commissionAsset"] == "USDT"
            assert fee == (quote * D("0.001")).quantize(D("0.00000001"), "ROUND_DOWN")
            btc, usdt = btc - qty, usdt + quote - fee
    assert client.balances() == {"BTC": (btc, D(0)), "USDT": (usdt, D(0)), "ETH": (D(30), D(0))}
    assert [t["id"] for t in trades] == sorted(t["id"] for t in trades)
    assert client.ok("GET", "/api/v3/myTrades", symbol="BTCUSDT", fromId=trades[1]["id"], limit=1) == [trades[1]]
