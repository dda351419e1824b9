"""The exchange's own order book for one symbol.

`apply()` is the only way the synthetic market (and, later, matching) changes a book: it mutates the
levels AND returns the depthUpdate event that tells clients exactly that change, so the stream can
never disagree with the book. Prices are float keys produced by `SimSymbol.round_price` or by
parsing the wire string, which give the same float for the same grid price.
"""
from __future__ import annotations

from arbitrage.sim.recorded import recorded_levels
from arbitrage.sim.symbols import SimSymbol

Changes = dict[float, float]   # price -> new absolute quantity (0 removes the level)


class SimBook:
    def __init__(self, spec: SimSymbol, last_update_id: int = 0) -> None:
        self.spec = spec
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.last_update_id = last_update_id
        self.last_event_ms = 0
        self.last_trans_ms = 0

    # -- reading -------------------------------------------------------------------------------
    def best_bid(self) -> float | None:
        return max(self.bids) if self.bids else None

    def best_ask(self) -> float | None:
        return min(self.asks) if self.asks else None

    def best(self) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
        bid, ask = self.best_bid(), self.best_ask()
        return ((bid, self.bids[bid]) if bid is not None else None,
                (ask, self.asks[ask]) if ask is not None else None)

    def mid(self) -> float | None:
        bid, ask = self.best_bid(), self.best_ask()
        if bid is None or ask is None:
            return None
        return (bid + ask) / 2.0

    def levels(self, limit: int) -> tuple[list[list[str]], list[list[str]]]:
        """Top `limit` levels per side as wire strings, bids descending, asks ascending."""
        fp, fq = self.spec.fmt_price, self.spec.fmt_qty
        bids = sorted(self.bids.items(), key=lambda kv: -kv[0])[:limit]
        asks = sorted(self.asks.items())[:limit]
        return [[fp(p), fq(q)] for p, q in bids], [[fp(p), fq(q)] for p, q in asks]

    # -- writing -------------------------------------------------------------------------------
    def load(self, bids: list[tuple[float, float]], asks: list[tuple[float, float]],
             last_update_id: int) -> None:
        self.bids = {p: q for p, q in bids if q > 0}
        self.asks = {p: q for p, q in asks if q > 0}
        self.last_update_id = last_update_id

    def apply(self, bids: Changes, asks: Changes, event_ms: int, id_jump: int = 0) -> dict:
        """Change the book and return the matching depthUpdate payload.

        Spot ids run without holes (U = previous u + 1). COIN-M ids may jump (`id_jump`), and
        continuity is carried by `pu` instead, as on Binance.
        """
        prev = self.last_update_id
        first = prev + 1 + (0 if self.spec.is_spot else max(0, id_jump))
        final = first + max(1, len(bids) + len(asks)) - 1
        _merge(self.bids, bids)
        _merge(self.asks, asks)
        self.last_update_id = final
        self.last_event_ms = event_ms
        fp, fq = self.spec.fmt_price, self.spec.fmt_qty
        b = [[fp(p), fq(q)] for p, q in sorted(bids.items(), key=lambda kv: -kv[0])]
        a = [[fp(p), fq(q)] for p, q in sorted(asks.items())]
        if self.spec.is_spot:
            return {"e": "depthUpdate", "E": event_ms, "s": self.spec.symbol,
                    "U": first, "u": final, "b": b, "a": a}
        self.last_trans_ms = event_ms - 2   # matching happens a moment before the push
        return {"e": "depthUpdate", "E": event_ms, "T": self.last_trans_ms, "s": self.spec.symbol,
                "ps": self.spec.pair, "U": first, "u": final, "pu": prev, "b": b, "a": a}

    def apply_recorded(self, event: dict) -> None:
        """Apply a recorded depthUpdate as is (replay: the ids are the recording's)."""
        # each level straight into the book (this runs for every diff of a replay or backtest)
        bids, asks = recorded_levels(event)
        for side, rows in ((self.bids, bids), (self.asks, asks)):
            for price, qty in rows:
                if qty > 0:
                    side[price] = qty
                else:
                    side.pop(price, None)
        self.last_update_id = int(event["u"])
        self.last_event_ms = int(event.get("E", self.last_event_ms))
        self.last_trans_ms = int(event.get("T", self.last_event_ms))

    def absorb(self, bids: Changes, asks: Changes) -> None:
        """Change levels without an event or a new id (replay: our fills between recorded updates)."""
        _merge(self.bids, bids)
        _merge(self.asks, asks)

    def ticker(self, event_ms: int) -> dict | None:
        """bookTicker payload for the current top (reference §5.6); spot has no e/E/T."""
        bid, ask = self.best()
        if bid is None or ask is None:
            return None
        fp, fq, s = self.spec.fmt_price, self.spec.fmt_qty, self.spec
        if s.is_spot:
            return {"u": self.last_update_id, "s": s.symbol, "b": fp(bid[0]), "B": fq(bid[1]),
                    "a": fp(ask[0]), "A": fq(ask[1])}
        return {"e": "bookTicker", "u": self.last_update_id, "s": s.symbol, "ps": s.pair,
                "b": fp(bid[0]), "B": fq(bid[1]), "a": fp(ask[0]), "A": fq(ask[1]),
                "T": self.last_trans_ms or event_ms, "E": event_ms}


def _merge(side: dict[float, float], changes: Changes) -> None:
    for price, qty in changes.items():
        if qty > 0:
            side[price] = qty
        else:
            side.pop(price, None)
