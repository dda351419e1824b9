"""The price tape of the local exchange: its latest prices and its klines.

The local market has books but no public trades, so the tape prices are the books' mids (rounded
to the tick), sampled after a book change at most every SAMPLE_MS of market time, and the prices
of the executions of this exchange's own clients; those executions alone make a kline's volume,
trade count and taker-buy volume. A kline is served for every interval that has a price.

Kline rows as Binance sends them (ccxt binance parse_ohlcv comment; binance-sdk-spot `klines`,
binance-sdk-derivatives-trading-coin-futures `kline_candlestick_data`): [open time, "open",
"high", "low", "close", "volume", close time, "quote volume", trades, "taker buy volume",
"taker buy quote volume", "0"]; on COIN-M the volume is in contracts and the "quote" columns are
the base-asset volume.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Iterable

from arbitrage.sim.market import DEPTH, Market
from arbitrage.sim.orders import SimTrade

SAMPLE_MS = 100
MINUTE_MS = 60_000
_DAY_MS = 86_400_000
# interval -> length in ms; weeks start on Monday 00:00 UTC (the epoch was a Thursday)
INTERVALS_MS = {"1m": MINUTE_MS, "3m": 3 * MINUTE_MS, "5m": 5 * MINUTE_MS, "15m": 15 * MINUTE_MS,
                "30m": 30 * MINUTE_MS, "1h": 60 * MINUTE_MS, "2h": 120 * MINUTE_MS,
                "4h": 240 * MINUTE_MS, "6h": 360 * MINUTE_MS, "8h": 480 * MINUTE_MS,
                "12h": 720 * MINUTE_MS, "1d": _DAY_MS, "3d": 3 * _DAY_MS, "1w": 7 * _DAY_MS}
_WEEK_OFFSET_MS = 4 * _DAY_MS


@dataclass
class _Bar:
    """One minute of samples (ticks as integers, so no float drift)."""
    open: int
    high: int
    low: int
    close: int


class PriceTape:
    def __init__(self, market: Market, fills: Callable[[str], Iterable[SimTrade]]) -> None:
        """`fills(symbol)`: the executions of this exchange's clients on the symbol."""
        self.market = market
        self.fills = fills
        self._bars: dict[str, dict[int, _Bar]] = {}
        self._last_sample: dict[str, int] = {}
        self._lock = threading.Lock()
        market.add_step_hook(self.on_step)

    def on_step(self, symbol: str, kind: str) -> None:
        """Called under the market lock after every book change."""
        if kind != DEPTH:
            return
        now = self.market.clock_ms()
        if now - self._last_sample.get(symbol, -SAMPLE_MS) < SAMPLE_MS:
            return
        book = self.market.books[symbol]
        mid = book.mid()
        if mid is None:
            return
        self._last_sample[symbol] = now
        self.record(symbol, book.spec.to_ticks(mid), now)

    def record(self, symbol: str, ticks: int, now_ms: int) -> None:
        minute = now_ms - now_ms % MINUTE_MS
        with self._lock:
            bars = self._bars.setdefault(symbol, {})
            bar = bars.get(minute)
            if bar is None:
                bars[minute] = _Bar(ticks, ticks, ticks, ticks)
            else:
                bar.high, bar.low, bar.close = max(bar.high, ticks), min(bar.low, ticks), ticks

    def last_price(self, symbol: str) -> str | None:
        with self._lock:
            bars = self._bars.get(symbol)
            if not bars:
                return None
            ticks = bars[max(bars)].close
        spec = self.market.books[symbol].spec
        return spec.fmt_price(spec.round_price(ticks))

    def klines(self, symbol: str, interval: str, start_ms: int | None, end_ms: int | None,
               limit: int) -> list[list]:
        """Binance's selection: within [start, end]; the first `limit` from a start, else the
        last `limit` up to the end; oldest first."""
        length = INTERVALS_MS[interval]
        offset = _WEEK_OFFSET_MS if interval == "1w" else 0
        spec = self.market.books[symbol].spec
        with self.market.lock:
            trades = list(self.fills(symbol))
        with self._lock:
            bars = {m: _Bar(b.open, b.high, b.low, b.close) for m, b in (self._bars.get(symbol) or {}).items()}
        for t in trades:            # an execution is a price of its minute too, sampled or not
            minute, ticks = t.time_ms - t.time_ms % MINUTE_MS, spec.to_ticks(float(t.price))
            bar = bars.setdefault(minute, _Bar(ticks, ticks, ticks, ticks))
            bar.high, bar.low = max(bar.high, ticks), min(bar.low, ticks)
        grouped: dict[int, list[_Bar]] = {}
        for minute, bar in sorted(bars.items()):
            grouped.setdefault(minute - (minute - offset) % length, []).append(bar)
        # open times within [start, end] (a client paging on "last open time + 1" gets each once)
        opens = [o for o in sorted(grouped)
                 if (start_ms is None or o >= start_ms) and (end_ms is None or o <= end_ms)]
        opens = opens[:limit] if start_ms is not None else opens[-limit:]
        price = lambda ticks: spec.fmt_price(spec.round_price(ticks))  # noqa: E731
        rows = []
        for opened in opens:
            group, closed = grouped[opened], opened + length - 1
            mine = [t for t in trades if opened <= t.time_ms <= closed]
            # the taker bought when a client's BUY took liquidity or a client's resting SELL was hit
            bought = [t for t in mine if (t.side == "BUY") != t.maker]
            qty = lambda ts: _qty(sum(t.qty for t in ts), spec.is_spot)  # noqa: E731
            quote = lambda ts: f"{sum(t.quote_qty for t in ts):.8f}"  # noqa: E731
            rows.append([opened, price(group[0].open), price(max(b.high for b in group)),
                         price(min(b.low for b in group)), price(group[-1].close), qty(mine), closed,
                         quote(mine), len(mine), qty(bought), quote(bought), "0"])
        return rows


def _qty(total, spot: bool) -> str:
    """Spot base quantity with 8 decimals; COIN-M whole contracts."""
    return f"{total:.8f}" if spot else str(int(total))
