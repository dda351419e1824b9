"""The BTC ledger with hand-computed numbers (the arithmetic is in the comments)."""
import logging
from decimal import Decimal as D

import pytest

from arbitrage.accounting.ledger import (
    Balances, FundingDedup, OrderFills, actual_btc, check_invariant, close_net_btc, funding_row,
    iso_utc, pair_row, usdt_fee_part, with_net_btc,
)
from arbitrage.models import COINM, SPOT, Fill, Income

S = D(100)      # BTCUSD_PERP contract size, USD
T = "T1723161300123"


def spot_fill(order_id, trade_id, side, price, qty, commission, asset):
    price, qty = D(price), D(qty)
    return Fill(SPOT, "BTCUSDT", order_id, trade_id, side, price, qty, price * qty, D(commission),
                asset, D(0), 1723161300123, False)


def perp_fill(order_id, trade_id, side, price, contracts, base_qty, commission, pnl="0"):
    return Fill(COINM, "BTCUSD_PERP", order_id, trade_id, side, D(price), D(contracts), D(base_qty),
                D(commission), "BTC", D(pnl), 1723161300123, False)


def spot(side, order_id, *fills):
    return OrderFills(SPOT, side, f"{T}-s", order_id, tuple(fills))


def perp(side, order_id, *fills):
    return OrderFills(COINM, side, f"{T}-p", order_id, tuple(fills))


def inverse_pnl(contracts, entry, exit_, long):
    """Reference §8.4: long q·S·(1/E − 1/X), short q·S·(1/X − 1/E)."""
    pnl = D(contracts) * S * (1 / D(entry) - 1 / D(exit_))
    return pnl if long else -pnl


# --- the example trade (the same numbers as trades_log.csv.example) ------------------------------

# open: spot BUY 0.10000 @ 61837.60 + 0.06009 @ 61837.70, commission 0.1 % in BTC;
#       perp SELL 99 @ 61877.0: baseQty 9900/61877 = 0.159994828… → 0.15999483,
#       commission 0.15999483 × 0.0005 = 0.0000799974… truncated → 0.00007999
OPEN_SPOT = spot("BUY", 28457,
                 spot_fill(28457, 1001, "BUY", "61837.60", "0.10000", "0.00010000", "BTC"),
                 spot_fill(28457, 1002, "BUY", "61837.70", "0.06009", "0.00006009", "BTC"))
OPEN_PERP = perp("SELL", 22542179,
                 perp_fill(22542179, 501, "SELL", "61877.0", 99, "0.15999483", "0.00007999"))
# close: spot SELL 0.10000 @ 61850.10 (quote 6185.01, commission 6.18501 USDT)
#        + 0.05992 @ 61850.15 (quote 3706.060988, commission 3.706060988 truncated 3.70606098);
#        perp BUY 99 @ 61851.3: baseQty 9900/61851.3 → 0.16006131, commission → 0.00008003,
#        realized PnL of the short: 99·100·(1/61851.3 − 1/61877.0) = 0.0000664798… → 0.00006648
CLOSE_SPOT = spot("SELL", 28463,
                  spot_fill(28463, 1010, "SELL", "61850.10", "0.10000", "6.18501000", "USDT"),
                  spot_fill(28463, 1011, "SELL", "61850.15", "0.05992", "3.70606098", "USDT"))
CLOSE_PERP = perp("BUY", 22542185,
                  perp_fill(22542185, 509, "BUY", "61851.3", 99, "0.16006131", "0.00008003",
                            "0.00006648"))
FUNDING = Income("BTCUSD_PERP", "FUNDING_FEE", D("0.00001600"), "BTC", 1723161600000, 77001, "")


def example_rows():
    open_row = pair_row("open", T, "BUY_SPOT_SELL_PERP", 1723161300123, [OPEN_SPOT], [OPEN_PERP], S)
    fund = funding_row(FUNDING, T)
    close = pair_row("close", T, "SELL_SPOT_BUY_PERP", 1723161918456, [CLOSE_SPOT], [CLOSE_PERP], S)
    return open_row, fund, with_net_btc(close, [open_row, fund])


def test_spot_buy_with_btc_commission():
    row = pair_row("open", T, "BUY_SPOT_SELL_PERP", 1723161300123, [OPEN_SPOT], [], S)
    assert row.Q_btc == D("0.16009")
    # quote 6183.76 + 3715.827393 = 9899.587393; VWAP 9899.587393 / 0.16009 = 61837.637535…
    assert row.spot_vwap == D("61837.63753514")
    assert row.fee_btc_spot == D("0.00016009") and row.fee_usdt_spot == 0
    assert row.usdt_fee_btc == 0
    # +Q − fee = 0.16009 − 0.00016009; no perp leg: its cells are empty
    assert row.delta_btc == D("0.15992991") and actual_btc(row) == D("0.15992991")
    assert row.delta_usdt == D("-9899.587393")
    assert row.N_cntr is None and row.fee_btc_cm is None and row.income_btc is None
    assert row.perp_vwap is None and row.cm_orderId is None and row.spot_orderId == "28457"


def test_spot_sell_with_usdt_commission_over_several_fills():
    row = pair_row("close", T, "SELL_SPOT_BUY_PERP", 1723161918456, [CLOSE_SPOT], [], S)
    # 6.18501/61850.10 = 0.0001 exactly; 3.70606098/61850.15 = 0.0000599199999998…;
    # sum 0.0001599199999998… quantized once → 0.00015992
    assert row.fee_btc_spot == D("0.00015992") and row.usdt_fee_btc == D("0.00015992")
    assert row.fee_usdt_spot == D("9.89107098")              # 6.18501 + 3.70606098, as charged
    # −Q − fee = −0.15992 − 0.00015992; only the −Q really left the account
    assert row.delta_btc == D("-0.16007992") and actual_btc(row) == D("-0.15992")
    # +quote − commission = 9891.070988 − 9.89107098
    assert row.delta_usdt == D("9881.17991702")


def test_usdt_fee_is_quantized_once_per_row_half_even():
    # three fills of 0.0002 USDT at 50000: 0.000000004 BTC each — 0 per fill, 0.000000012 summed
    fills = [spot_fill(1, i, "SELL", "50000", "0.001", "0.0002", "USDT") for i in range(3)]
    assert pair_row("close", T, "x", 0, [spot("SELL", 1, *fills)], [], S).fee_btc_spot == D("0.00000001")
    # 0.00125 / 50000 = 0.000000025 → half-even → 0.00000002 (half-up would give 3)
    one = spot_fill(1, 9, "SELL", "50000", "0.001", "0.00125", "USDT")
    assert pair_row("close", T, "x", 0, [spot("SELL", 1, one)], [], S).fee_btc_spot == D("0.00000002")


def test_coinm_commission_from_the_reference_example():
    # reference §8.2: SELL 1 contract @ 8800 → baseQty 100/8800 = 0.01136364;
    # commission 0.01136364 × 0.0004 = 0.000004545456 → "0.00000454"
    fill = perp_fill(28, 6, "SELL", "8800", 1, "0.01136364", "0.00000454")
    row = pair_row("open", T, "x", 0, [], [perp("SELL", 28, fill)], S)
    assert row.N_cntr == 1 and row.fee_btc_cm == D("0.00000454") and row.income_btc == 0
    assert row.perp_vwap == D("8799.99718400")               # 1·100 / 0.01136364 (harmonic)
    assert row.delta_btc == D("-0.00000454")                  # −fee_btc_cm + 0
    assert row.Q_btc is None and row.delta_usdt is None and row.fee_btc_spot is None


def test_perp_vwap_is_the_harmonic_mean():
    # 60 @ 60300 (baseQty 0.09950249) + 60 @ 60100 (0.09983361): 120·100 / 0.1993361 = 60199.8333…
    a = perp_fill(5, 1, "SELL", "60300", 60, "0.09950249", "0")
    b = perp_fill(5, 2, "SELL", "60100", 60, "0.09983361", "0")
    row = pair_row("open", T, "x", 0, [], [perp("SELL", 5, a, b)], S)
    assert row.perp_vwap == D("60199.83334679")               # not the plain mean 60200


@pytest.mark.parametrize("long, entry, exit_, expected", [
    # reference §8.4: q=1, E=11707.7, X=11788.66626667 → 100·(1/E − 1/X) = 0.0000586635 → 0.00005866
    (True, "11707.7", "11788.66626667", "0.00005866"),
    # the mirror: a short opened at 11788.66626667 and closed at 11707.7 earns the same
    (False, "11788.66626667", "11707.7", "0.00005866"),
    # a short against a rising price loses it: 100·(1/X − 1/E) with E < X
    (False, "11707.7", "11788.66626667", "-0.00005866"),
])
def test_realized_pnl_of_long_and_short(long, entry, exit_, expected):
    pnl = inverse_pnl(1, entry, exit_, long).quantize(D("0.00000001"))
    assert pnl == D(expected)
    # closing fill: a long closes with a SELL, a short with a BUY; commission 100/X·0.0004 truncated
    side = "SELL" if long else "BUY"
    base = (S / D(exit_)).quantize(D("0.00000001"))
    fee = (base * D("0.0004")).quantize(D("0.00000001"), rounding="ROUND_DOWN")
    row = pair_row("close", T, "x", 0, [], [perp(side, 9, perp_fill(9, 1, side, exit_, 1, base, fee,
                                                                    expected))], S)
    assert row.income_btc == D(expected)
    assert row.delta_btc == D(expected) - fee                 # −fee_btc_cm + income_btc


def test_the_example_trade_and_its_net_result():
    open_row, fund, close = example_rows()
    # open: +0.16009 − 0.00016009 − 0.00007999 + 0 = 0.15984992
    assert open_row.delta_btc == D("0.15984992") and open_row.perp_vwap == D("61876.99940054")
    # close: −0.15992 − 0.00015992 − 0.00008003 + 0.00006648 = −0.16009347
    assert close.delta_btc == D("-0.16009347") and close.income_btc == D("0.00006648")
    # actual BTC: 0.15984992 + 0.000016 + (−0.16009347 + 0.00015992) = −0.00006763
    # USDT: −9899.587393 + 9881.17991702 = −18.40747598; / 61850.11873437 = −0.000297614… → −0.00029761
    assert close.net_btc == D("-0.00036524")
    assert close_net_btc([open_row, fund, close], close.spot_vwap) == D("-0.00036524")
    assert open_row.net_btc is None and fund.net_btc is None


def test_funding_row():
    row = funding_row(FUNDING, T)
    assert (row.event, row.trade_id, row.ts_iso) == ("funding", T, "2024-08-09T00:00:00.000Z")
    assert row.income_btc == row.delta_btc == D("0.00001600") and actual_btc(row) == D("0.000016")
    assert row.Q_btc is None and row.delta_usdt is None and row.side is None
    with pytest.raises(ValueError):
        funding_row(Income("BTCUSD_PERP", "COMMISSION", D("-1"), "BTC", 1, 2, ""), T)


def income(tran_id, time_ms, amount="0.00000100", kind="FUNDING_FEE"):
    return Income("BTCUSD_PERP", kind, D(amount), "BTC", time_ms, tran_id, "")


def test_funding_dedup_same_tran_id_and_refetched_window():
    dedup = FundingDedup()
    assert dedup.accept(income(1, 1000)) and not dedup.accept(income(1, 1000))
    assert dedup.cursor_ms == 1000
    # the next fetch starts at the cursor (inclusive): the row at 1000 comes back with a new one
    fresh = dedup.new([income(2, 2000), income(1, 1000)])
    assert [r.tran_id for r in fresh] == [2] and dedup.cursor_ms == 2000
    assert dedup.new([income(1, 1000), income(2, 2000)]) == []     # the same window again
    assert not dedup.accept(income(3, 3000, kind="REALIZED_PNL"))  # userTrades is the PnL source
    # a restart rebuilt from the snapshot still refuses the booked rows
    again = FundingDedup(cursor_ms=dedup.cursor_ms, seen=dedup.seen_ids(), floor_ms=dedup.floor_ms)
    assert again.new([income(1, 1000), income(2, 2000), income(4, 4000)]) == [income(4, 4000)]


def test_funding_dedup_is_bounded_and_refuses_what_fell_out():
    dedup = FundingDedup(limit=3)
    assert len(dedup.new([income(i, i * 1000) for i in range(1, 6)])) == 5
    assert dedup.seen_ids() == [3, 4, 5] and dedup.floor_ms == 2000
    assert not dedup.accept(income(1, 1000))                  # forgotten id, but older than the window
    assert dedup.accept(income(6, 6000))


def test_same_fill_twice_counts_once_and_mixed_sides_are_refused(caplog):
    f = spot_fill(7, 1, "BUY", "60000", "0.1", "0.0001", "BTC")
    with caplog.at_level(logging.WARNING):
        row = pair_row("open", T, "x", 0, [spot("BUY", 7, f, f)], [], S)
    assert row.Q_btc == D("0.1") and row.fee_btc_spot == D("0.0001") and "seen twice" in caplog.text
    g = spot_fill(8, 2, "SELL", "60000", "0.1", "6", "USDT")
    with pytest.raises(ValueError):
        pair_row("rescue", T, "x", 0, [spot("BUY", 7, f), spot("SELL", 8, g)], [], S)


def test_commission_in_bnb_stays_out_of_the_columns(caplog):
    f = spot_fill(7, 1, "BUY", "60000", "0.1", "0.00351", "BNB")
    with caplog.at_level(logging.WARNING):
        row = pair_row("open", T, "x", 0, [spot("BUY", 7, f)], [], S)
    assert row.fee_btc_spot == 0 and row.fee_usdt_spot == 0 and row.delta_btc == D("0.1")
    assert row.delta_usdt == D("-6000.0") and row.fees_other == {"BNB": D("0.00351")}
    assert "0.00351 BNB" in caplog.text


def test_usdt_fee_part_of_a_row_read_back_from_csv():
    _, _, close = example_rows()
    from dataclasses import replace
    bare = replace(close, usdt_fee_btc=None)                  # what a CSV read-back gives
    assert usdt_fee_part(bare) == D("0.00015992") and actual_btc(bare) == actual_btc(close)


# --- the invariant -------------------------------------------------------------------------------

START = Balances(spot_btc=D("1"), spot_usdt=D("100000"), coinm_btc=D("0.1"))
# spot BTC 1 + 0.16009 − 0.00016009 (BTC commission) − 0.15992 = 1.00000991
# spot USDT 100000 − 9899.587393 + 9891.070988 − 9.89107098 = 99981.59252402
# COIN-M wallet 0.1 − 0.00007999 − 0.00008003 + 0.00006648 (PnL) + 0.000016 (funding) = 0.09992246
END = Balances(spot_btc=D("1.00000991"), spot_usdt=D("99981.59252402"), coinm_btc=D("0.09992246"))


def test_invariant_holds_on_a_hand_made_history():
    inv = check_invariant(example_rows(), START, END)
    # Σ delta_btc 0.15984992 + 0.000016 − 0.16009347 = −0.00022755; + USDT-paid 0.00015992
    assert inv.ledger_btc == D("-0.00006763") == inv.exchange_btc   # 0.00000991 − 0.00007754
    assert inv.ledger_usdt == D("-18.40747598") == inv.exchange_usdt
    assert inv.ok and inv.diff_btc == 0 and inv.diff_usdt == 0
    lines = inv.describe()
    assert len(lines) == 2 and all(line.endswith(" OK") and "MISMATCH" not in line for line in lines)
    assert "99981.59252402" in lines[0] and "1.09993237" in lines[1]   # 1.00000991 + 0.09992246


def test_invariant_reports_a_broken_history_with_numbers():
    end = Balances(END.spot_btc, D("99981.59252403"), END.coinm_btc + D("0.00000001"))
    inv = check_invariant(example_rows(), START, end)
    assert not inv.ok
    assert inv.diff_btc == D("-0.00000001") and inv.diff_usdt == D("-0.00000001")
    usdt, btc = inv.describe()
    assert "-18.40747598" in usdt and "-18.40747597" in usdt and "MISMATCH" in usdt
    assert "-0.00006763" in btc and "-0.00006762" in btc and "difference -0.00000001 MISMATCH" in btc
    assert "E-" not in usdt + btc                              # never an exponent


def test_balances_from_accounts():
    from arbitrage.models import CoinmAccount, MarginAsset, SpotAccount
    spot_acc = SpotAccount({"BTC": (D("0.9"), D("0.1")), "USDT": (D("5"), D("1"))}, D(0), D(0), True, 0)
    m = MarginAsset("BTC", D("0.3"), D("0.01"), D("0.31"), D(0), D(0), D("0.3"))
    assert Balances.from_accounts(spot_acc, CoinmAccount({"BTC": m}, {}, 0)) == Balances(
        D("1.0"), D("6"), D("0.3"))                           # wallet, not margin balance


def test_iso_utc():
    assert iso_utc(1723161300123) == "2024-08-08T23:55:00.123Z"
    assert iso_utc(1723161600000) == "2024-08-09T00:00:00.000Z"


def test_a_shared_quote_coin_shows_its_line_but_the_base_coin_decides():
    # another bot of the same account spent 500 USDT: this ledger cannot explain that, and says so
    end = Balances(END.spot_btc, END.spot_usdt - D("500"), END.coinm_btc)
    inv = check_invariant(example_rows(), START, end, quote_shared=True)
    assert inv.ok and inv.diff_usdt == D("500") and inv.diff_btc == 0
    usdt, btc = inv.describe()
    assert "not decisive: QUOTE_SHARED" in usdt and "MISMATCH" not in usdt and btc.endswith(" OK")
    assert not check_invariant(example_rows(), START, end).ok        # alone on the account: it counts
    broken = Balances(END.spot_btc, end.spot_usdt, END.coinm_btc + D("0.00000001"))
    assert not check_invariant(example_rows(), START, broken, quote_shared=True).ok
