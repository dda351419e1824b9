"""Per-trade results and totals from trades_log.csv: `python -m app.report [trades_log.csv]`.

Definitions (all from the CSV itself, so a spreadsheet can reproduce every number):
- direction: buy_spot (bought spot, sold the perp) or sell_spot, from the open row's `side` label;
- basis of a row: (perp_vwap − spot_vwap) / spot_vwap in bps; gross edge captured =
  basis at the open − basis at the close for buy_spot (the perp premium sold and bought back), the
  opposite for sell_spot — before fees and funding; its total is the Q-weighted mean;
- fees BTC: Σ fee_btc_spot + fee_btc_cm of the trade's rows; funding BTC: Σ income_btc of the
  funding rows tagged with the trade;
- net BTC: the closing row's net_btc (the trade's actual BTC flow plus its USDT flow at the exit
  spot VWAP), recomputed the same way when the cell is empty; net USDT: net BTC × exit spot VWAP.
- where the net came from, exactly: net = edge + funding − fees, so edge BTC = net − funding + fees
  (the basis captured and the prices paid, in the base coin); realized APR = net / |Q| per year
  held × 100 % (the coin at work is the spot leg's Q).
Open trades are listed but not counted in the totals.

One file can hold several pairs (the pair columns after the 18 of the first versions): every
pair gets its own tables and totals in its own base coin; amounts of different coins are never
added. Rows of an 18-column file have no pair and are read as BTCUSDT / BTCUSD_PERP.
"""
from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from arbitrage.accounting.ledger import (CLOSE, DEFAULT_PAIR, FUNDING, OPEN, ZERO, LedgerRow, Pair, close_net_btc,
                                         iso_utc)
from arbitrage.accounting.tradelog import TradeLogError, read_rows

BPS = Decimal(10_000)
YEAR_S = 365 * 24 * 3600
CENT = Decimal("0.01")


@dataclass
class TradeResult:
    trade_id: str
    direction: str                # buy_spot / sell_spot / ?
    opened_ms: int
    closed_ms: int | None
    q_btc: Decimal | None
    contracts: Decimal | None
    entry_spot: Decimal | None
    entry_perp: Decimal | None
    exit_spot: Decimal | None
    exit_perp: Decimal | None
    edge_bps: Decimal | None
    fees_btc: Decimal
    funding_btc: Decimal
    net_btc: Decimal | None
    net_usdt: Decimal | None
    rescued_away: bool = False    # ended with no close row: the entry's legs undone by rescues

    @property
    def closed(self) -> bool:
        return self.closed_ms is not None

    @property
    def edge_btc(self) -> Decimal | None:
        """The part of net that is neither funding nor fees: the basis captured at the prices paid."""
        return None if self.net_btc is None else self.net_btc - self.funding_btc + self.fees_btc

    @property
    def apr_pct(self) -> Decimal | None:
        """Net per year on the coin at work (|Q|), percent."""
        held = self.held_s
        if self.net_btc is None or not self.q_btc or not held:
            return None
        return self.net_btc / abs(self.q_btc) * Decimal(YEAR_S) / Decimal(repr(held)) * 100

    @property
    def held_s(self) -> float | None:
        return (self.closed_ms - self.opened_ms) / 1000 if self.closed_ms is not None else None


def _direction(row: LedgerRow) -> str:
    label = (row.side or "").lower()
    if label.startswith("buy_spot"):
        return "buy_spot"
    if label.startswith("sell_spot"):
        return "sell_spot"
    if row.delta_usdt is not None and row.delta_usdt != 0:   # a label we do not know: the USDT flow
        return "buy_spot" if row.delta_usdt < 0 else "sell_spot"
    return "?"


def _basis_bps(row: LedgerRow | None) -> Decimal | None:
    if row is None or not row.spot_vwap or not row.perp_vwap:
        return None
    return (row.perp_vwap - row.spot_vwap) / row.spot_vwap * BPS


def _result(trade_id: str, rows: list[LedgerRow], ended: bool = False) -> TradeResult:
    """`ended`: the trade is over although it has no close row (see trade_results): an entry
    undone by its rescues (e.g. a maker pair with one leg filled). It ends at its last row and its
    result is its flows like a close's, the USDT at its last spot price: a rescue's loss is part
    of what the strategy made."""
    pair_rows = [r for r in rows if r.event != FUNDING]
    first = next((r for r in pair_rows if r.event == OPEN), pair_rows[0] if pair_rows else rows[0])
    close = next((r for r in reversed(pair_rows) if r.event == CLOSE), None)
    rescued_away = close is None and ended
    direction = _direction(first)
    edge = None
    entry_basis, exit_basis = _basis_bps(first), _basis_bps(close)
    if entry_basis is not None and exit_basis is not None and direction != "?":
        sign = 1 if direction == "buy_spot" else -1
        edge = sign * (entry_basis - exit_basis)
    net, net_price, closed_ms = None, None, None
    if close is not None:
        net, net_price, closed_ms = close.net_btc, close.spot_vwap, close.ts_ms
        if net is None and close.spot_vwap:
            net = close_net_btc(rows, close.spot_vwap)
    elif rescued_away:
        prices = [r.spot_vwap for r in pair_rows if r.spot_vwap]
        net_price = prices[-1] if prices else None
        # no spot fill at all (only the perp leg filled, then was closed): no USDT to convert
        net = close_net_btc(rows, net_price or Decimal(1))
        closed_ms = (pair_rows or rows)[-1].ts_ms
    return TradeResult(
        trade_id=trade_id, direction=direction, opened_ms=first.ts_ms, closed_ms=closed_ms,
        q_btc=first.Q_btc, contracts=first.N_cntr, entry_spot=first.spot_vwap,
        entry_perp=first.perp_vwap, exit_spot=close.spot_vwap if close else None,
        exit_perp=close.perp_vwap if close else None, edge_bps=edge,
        fees_btc=sum(((r.fee_btc_spot or ZERO) + (r.fee_btc_cm or ZERO) for r in pair_rows), ZERO),
        funding_btc=sum((r.income_btc or ZERO for r in rows if r.event == FUNDING), ZERO),
        net_btc=net,
        net_usdt=(net * net_price).quantize(CENT) if net is not None and net_price else None,
        rescued_away=rescued_away)


def trade_results(rows: list[LedgerRow], open_trades: Iterable[str] | None = None
                  ) -> tuple[list[TradeResult], Decimal]:
    """The trades in order of their first row, and the funding booked outside any trade.

    A pair holds one trade at a time, so a trade with no close row that another trade of its pair
    follows has ended: its entry was undone by rescues. So has every trade the bot says is not
    open (`open_trades`, when the caller knows; None: only the rule above applies)."""
    by_trade: dict[str, list[LedgerRow]] = {}
    loose_funding = ZERO
    for r in sorted(rows, key=lambda r: r.ts_ms):
        if r.trade_id:
            by_trade.setdefault(r.trade_id, []).append(r)
        elif r.event == FUNDING:
            loose_funding += r.income_btc or ZERO
    last_of_pair: dict = {}
    for trade_id, trade_rows in by_trade.items():       # in order of first row: the last wins
        last_of_pair[trade_rows[0].pair] = trade_id
    still_open = None if open_trades is None else set(open_trades)
    results = []
    for trade_id, trade_rows in by_trade.items():
        followed = last_of_pair[trade_rows[0].pair] != trade_id
        results.append(_result(trade_id, trade_rows, ended=followed or (
            still_open is not None and trade_id not in still_open)))
    return results, loose_funding


# --- rendering -----------------------------------------------------------------------------------

def _held(seconds: float | None) -> str:
    if seconds is None:
        return "open"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours < 48 else f"{hours // 24}d{hours % 24:02d}h"


def _n(value: Decimal | None, places: int = 8, sign: bool = False) -> str:
    if value is None:
        return "-"
    text = format(value.quantize(Decimal(1).scaleb(-places)), "f")
    return f"+{text}" if sign and value >= 0 else text


def by_pair(rows: list[LedgerRow]) -> dict[Pair, list[LedgerRow]]:
    """The rows of each pair, pairs in the order of their first row."""
    groups: dict[Pair, list[LedgerRow]] = {}
    for r in sorted(rows, key=lambda r: r.ts_ms):
        groups.setdefault(r.pair, []).append(r)
    return groups


def render(rows: list[LedgerRow], open_trades: Iterable[str] | None = None) -> str:
    """Both tables and the totals of each pair; every line fits a 100-column terminal.
    `open_trades`: the trades the bot holds now, when the caller knows (see trade_results)."""
    groups = by_pair(rows)
    if len(groups) <= 1:
        pair = next(iter(groups), None)
        return render_pair(rows, pair.base_asset if pair else "BTC", open_trades)
    parts = [f"=== {pair}: amounts in {pair.base_asset} ===\n"
             f"{render_pair(group, pair.base_asset, open_trades)}"
             for pair, group in groups.items()]
    return "\n\n".join(parts)


def render_pair(rows: list[LedgerRow], base: str, open_trades: Iterable[str] | None = None) -> str:
    """One pair's tables and totals, amounts in its base coin `base`."""
    trades, loose_funding = trade_results(rows, open_trades)
    if not trades:
        text = "no trades in the log"
        return text + (f"; funding outside trades {_n(loose_funding)} {base}" if loose_funding else "")
    lines = ["trades (times UTC)",
             f"  {'trade':<14} {'opened':<19} {'held':>6} {'Q ' + base:>10} {'cntr':>4} "
             f"{'spot in':>9} {'spot out':>9} {'perp in':>9} {'perp out':>9}"]
    for t in trades:
        lines.append(f"  {t.trade_id:<14} {iso_utc(t.opened_ms)[:19].replace('T', ' '):<19} "
                     f"{_held(t.held_s):>6} {_n(t.q_btc):>10} {_n(t.contracts, 0):>4} "
                     f"{_n(t.entry_spot, 2):>9} {_n(t.exit_spot, 2):>9} "
                     f"{_n(t.entry_perp, 2):>9} {_n(t.exit_perp, 2):>9}")
    lines += ["", f"results (edge: basis captured before fees, bps; fees, funding and net in {base})",
              f"  {'trade':<14} {'direction':<9} {'edge':>7} {'fees':>11} {'funding':>11} "
              f"{'net ' + base:>11} {'net USDT':>10}"]
    for t in trades:
        lines.append(f"  {t.trade_id:<14} {t.direction:<9} {_n(t.edge_bps, 2, True):>7} "
                     f"{_n(t.fees_btc):>11} {_n(t.funding_btc, sign=True):>11} "
                     f"{_n(t.net_btc, sign=True) if t.closed else 'open':>11} "
                     f"{_n(t.net_usdt, 2, True):>10}")
    lines += ["", f"where the net came from, {base} (edge = net − funding + fees: the basis captured "
              "at the",
              "prices paid; APR: net per year held, on the spot leg's Q)",
              f"  {'trade':<14} {'edge':>11} {'fees':>11} {'funding':>11} {'net':>11} "
              f"{'held':>6} {'APR':>10}"]
    for t in trades:
        if not t.closed:
            continue
        apr = t.apr_pct
        lines.append(f"  {t.trade_id:<14} {_n(t.edge_btc, sign=True):>11} {_n(-t.fees_btc, sign=True):>11} "
                     f"{_n(t.funding_btc, sign=True):>11} {_n(t.net_btc, sign=True):>11} "
                     f"{_held(t.held_s):>6} {_apr(apr):>10}")
    return "\n".join(lines + [""] + _totals(trades, loose_funding, base))


def _apr(pct: Decimal | None) -> str:
    if pct is None:
        return "-"
    # plain digits, never an exponent (a compressed funding schedule gives six-digit APRs)
    return f"{pct:+.1f}%" if abs(pct) < 100_000 else f"{pct:+,.0f}%"


def _totals(trades: list[TradeResult], loose_funding: Decimal, base: str = "BTC") -> list[str]:
    closed = [t for t in trades if t.closed]
    still_open = len(trades) - len(closed)
    away = sum(1 for t in closed if t.rescued_away)
    ended = (f"totals over {len(closed)} ended trades ({len(closed) - away} closed, {away} "
             f"entr{'y' if away == 1 else 'ies'} undone by rescues)") if away else \
        f"totals over {len(closed)} closed trade{'' if len(closed) == 1 else 's'}"
    head = ended + (f" ({still_open} still open)" if still_open else "")
    if not closed:
        return [head]
    wins = sum(1 for t in closed if t.net_btc is not None and t.net_btc > 0)
    weighted = [(t.edge_bps, t.q_btc) for t in closed if t.edge_bps is not None and t.q_btc]
    weight = sum((q for _, q in weighted), ZERO)
    edge = sum((e * q for e, q in weighted), ZERO) / weight if weight else None
    funding = sum((t.funding_btc for t in closed), ZERO)
    held = [t.held_s for t in closed if t.held_s is not None]
    nets = [t.net_btc for t in closed if t.net_btc is not None]
    lines = [
        head,
        f"  win rate             {100 * wins / len(closed):.1f}% ({wins} of {len(closed)} with net {base} > 0)",
        f"  gross edge captured  {_n(edge, 2, True)} bps (Q-weighted mean)",
        f"  fees                 {_n(sum((t.fees_btc for t in closed), ZERO))} {base}",
        f"  funding              {_n(funding, sign=True)} {base}"
        + (f" (and {_n(loose_funding, sign=True)} {base} outside trades)" if loose_funding else ""),
        f"  net                  {_n(sum(nets, ZERO), sign=True)} {base}, "
        f"{_n(sum((t.net_usdt for t in closed if t.net_usdt is not None), ZERO), 2, True)} USDT "
        f"(each at its exit spot VWAP)",
        f"  holding time         mean {_held(sum(held) / len(held))}, max {_held(max(held))}",
    ]
    counted = [t for t in closed if t.net_btc is not None]
    edge_btc = sum((t.edge_btc for t in counted), ZERO)
    lines.append(f"  net from             edge {_n(edge_btc, sign=True)} {base}, fees "
                 f"{_n(-sum((t.fees_btc for t in counted), ZERO), sign=True)} {base}, funding "
                 f"{_n(sum((t.funding_btc for t in counted), ZERO), sign=True)} {base}")
    at_work = sum((abs(t.q_btc) * Decimal(repr(t.held_s)) for t in counted if t.q_btc and t.held_s),
                  ZERO)
    if at_work:
        total = sum((t.net_btc for t in counted), ZERO)
        lines.append(f"  realized APR         {_apr(total / at_work * YEAR_S * 100)} (net per {base} "
                     f"at work per year: Σ net / Σ |Q| × held)")
    if len(nets) < len(closed):
        lines.append(f"  ({len(closed) - len(nets)} closed trades without net_btc are not in net)")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--plot" in args:                  # PNG charts (app/plots.py; matplotlib is optional)
        from app import plots
        return plots.main([a for a in args if a != "--plot"])
    if len(args) > 1 or (args and args[0] in ("-h", "--help")):
        print("usage: python -m app.report [trades_log.csv]\n"
              "       python -m app.report --plot [--out DIR] [trades_log.csv ...]")
        return 0 if args and args[0] in ("-h", "--help") else 2
    path = Path(args[0] if args else "trades_log.csv")
    errors: list[tuple[int, str]] = []
    try:
        rows = read_rows(path, errors=errors)
    except FileNotFoundError:
        print(f"{path}: no such file (the bot writes it after its first trade; TRADES_LOG sets where)")
        return 1
    except (OSError, UnicodeDecodeError, TradeLogError) as exc:
        print(f"{path}: cannot be read: {exc}")
        return 1
    for line_no, why in errors:
        print(f"{path}: line {line_no} skipped: {why}", file=sys.stderr)
    if not rows:
        print(f"{path}: no rows yet")
        return 1
    if any(r.base_asset is None for r in rows):
        print(f"{path}: rows without the pair columns (an earlier version's file) are read as "
              f"{DEFAULT_PAIR}, amounts in {DEFAULT_PAIR.base_asset}", file=sys.stderr)
    print(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
