"""Local order books and Binance's documented procedures that keep them in sync.

`OrderBook` holds price levels; `DepthSync` owns one and feeds it snapshot + diffs following
binance-reference §5.2 (spot: `U`/`u` continuity) or §5.4 (COIN-M: `pu` continuity). Both are pure
state: no I/O and no clock reads (times come in on the events).
"""
from __future__ import annotations

import logging
import math
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Callable

from arbitrage.models import COINM, SPOT, DepthDiff, DepthSnapshot, Level

log = logging.getLogger("arbitrage.book")

BID = "bid"
ASK = "ask"


class _Side:
    """One side of a book. `keys` is sorted ascending with the best level LAST (bids keyed by
    price, asks by -price): most changes happen near the top, so inserts and deletes there move
    few list items, and the best level is an O(1) read."""
    __slots__ = ("levels", "keys", "sign")

    def __init__(self, sign: float) -> None:
        self.levels: dict[float, float] = {}
        self.keys: list[float] = []
        self.sign = sign

    def clear(self) -> None:
        self.levels.clear()
        self.keys.clear()

    def set(self, price: float, qty: float) -> None:
        levels = self.levels
        if qty <= 0.0:
            # removing a level we never held is normal (it was beyond our snapshot depth)
            if levels.pop(price, None) is not None:
                keys = self.keys
                del keys[bisect_left(keys, self.sign * price)]
        else:
            if price not in levels:
                insort(self.keys, self.sign * price)
            levels[price] = qty

    def best(self) -> Level | None:
        if not self.keys:
            return None
        price = self.sign * self.keys[-1]
        return price, self.levels[price]

    def iter_best_first(self) -> Iterator[Level]:
        sign, levels = self.sign, self.levels
        for key in reversed(self.keys):
            price = sign * key
            yield price, levels[price]


class OrderBook:
    """Price levels of one symbol. Quantities are BTC on spot and contracts on COIN-M.

    Side names are the side you hit: buying walks the asks ("ask"), selling walks the bids ("bid").
    """

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._bids = _Side(1.0)
        self._asks = _Side(-1.0)
        self.last_update_id: int | None = None
        self.last_event_ms: int | None = None   # exchange time of the last applied update
        self.last_recv_ns: int | None = None    # local receive time of the last applied update

    def clear(self) -> None:
        self._bids.clear()
        self._asks.clear()
        self.last_update_id = self.last_event_ms = self.last_recv_ns = None

    def load(self, bids: Iterable[Level], asks: Iterable[Level], update_id: int | None = None,
             event_ms: int | None = None, recv_ns: int | None = None) -> None:
        """Replace the whole book (a REST snapshot)."""
        self._bids.clear()
        self._asks.clear()
        self.apply(bids, asks, update_id, event_ms, recv_ns)

    def apply(self, bids: Iterable[Level], asks: Iterable[Level], update_id: int | None = None,
              event_ms: int | None = None, recv_ns: int | None = None) -> None:
        """Absolute quantities per level; qty 0 removes the level."""
        # _Side.set inlined: this loop runs for every level of every diff (the hot path)
        for side, rows in ((self._bids, bids), (self._asks, asks)):
            levels, keys, sign = side.levels, side.keys, side.sign
            for price, qty in rows:
                if qty <= 0.0:
                    # removing a level we never held is normal (beyond our snapshot depth)
                    if levels.pop(price, None) is not None:
                        del keys[bisect_left(keys, sign * price)]
                elif price in levels:
                    levels[price] = qty
                else:
                    insort(keys, sign * price)
                    levels[price] = qty
        if update_id is not None:
            self.last_update_id = update_id
        if event_ms is not None:
            self.last_event_ms = event_ms
        if recv_ns is not None:
            self.last_recv_ns = recv_ns

    def best_bid(self) -> Level | None:
        return self._bids.best()

    def best_ask(self) -> Level | None:
        return self._asks.best()

    def best_prices(self) -> tuple[float | None, float | None]:
        """(best bid, best ask) prices in one call: read after every event by the strategy."""
        bid_keys, ask_keys = self._bids.keys, self._asks.keys
        return (bid_keys[-1] if bid_keys else None), (-ask_keys[-1] if ask_keys else None)

    def mid(self) -> float | None:
        bid, ask = self._bids.best(), self._asks.best()
        if bid is None or ask is None:
            return None
        return (bid[0] + ask[0]) / 2.0

    def crossed(self) -> bool:
        """Best bid at or above best ask: impossible on a live exchange, so our copy is wrong."""
        bid_keys, ask_keys = self._bids.keys, self._asks.keys
        return bool(bid_keys and ask_keys) and bid_keys[-1] >= -ask_keys[-1]

    def iter_bids(self) -> Iterator[Level]:
        return self._bids.iter_best_first()

    def iter_asks(self) -> Iterator[Level]:
        return self._asks.iter_best_first()

    def levels(self, side: str) -> Iterator[Level]:
        """Best-first levels of the side you hit ("bid" or "ask")."""
        if side == BID:
            return self._bids.iter_best_first()
        if side == ASK:
            return self._asks.iter_best_first()
        raise ValueError(f"side must be {BID!r} or {ASK!r}, not {side!r}")

    def depth(self, side: str, n: int) -> list[Level]:
        out: list[Level] = []
        if n <= 0:
            return out
        for level in self.levels(side):
            out.append(level)
            if len(out) >= n:
                break
        return out

    def size(self) -> tuple[int, int]:
        return len(self._bids.keys), len(self._asks.keys)

    def vwap_qty(self, side: str, qty: float) -> tuple[float, float]:
        """Walk `side` for `qty` (book units). Returns (vwap, filled_qty); filled_qty < qty when
        the book runs out; vwap is nan when nothing fills (nan fails every comparison, so a
        caller cannot mistake it for a price)."""
        remaining, filled, cost = qty, 0.0, 0.0
        for price, level_qty in self.levels(side):
            if remaining <= 0.0:
                break
            take = level_qty if level_qty < remaining else remaining
            filled += take
            cost += take * price
            remaining -= take
        return (cost / filled if filled > 0.0 else math.nan), filled

    def vwap_notional(self, side: str, usd: float,
                      contract_size: float | None = None) -> tuple[float, float, float]:
        """Walk `side` for `usd` of quote notional. Returns (vwap, filled_qty, filled_usd).

        Spot (contract_size None): a level of q BTC at p holds p*q USD; filled_qty is BTC.
        COIN-M: a level of c contracts holds c*S USD whatever its price; filled_qty is contracts
        (fractional: the caller rounds to the contract grid) and the VWAP is harmonic,
        usd / sum(c*S/p), because that is the price at which the filled BTC is worth the USD.
        """
        remaining, filled, filled_usd, coin = usd, 0.0, 0.0, 0.0
        for price, level_qty in self.levels(side):
            if remaining <= 0.0:
                break
            if contract_size is None:
                level_usd = price * level_qty
                if level_usd <= remaining:
                    take, take_usd = level_qty, level_usd
                else:
                    take, take_usd = remaining / price, remaining
                coin += take
            else:
                level_usd = level_qty * contract_size
                if level_usd <= remaining:
                    take, take_usd = level_qty, level_usd
                else:
                    take, take_usd = remaining / contract_size, remaining
                coin += take_usd / price
            filled += take
            filled_usd += take_usd
            remaining -= take_usd
        vwap = filled_usd / coin if coin > 0.0 else math.nan
        return vwap, filled, filled_usd


# --- the documented procedures, as small named rules (cryptofeed style) -------------------------

@dataclass(frozen=True)
class SyncRule:
    """How one market bridges a snapshot (`last` = snapshot lastUpdateId) to the diff stream and
    checks continuity afterwards (`local` = update id the book is at)."""
    name: str
    stale_before_sync: Callable[[DepthDiff, int], bool]   # drop from the buffer: snapshot has it
    snapshot_too_old: Callable[[DepthDiff, int], bool]    # first kept event starts after snapshot
    bridges: Callable[[DepthDiff, int], bool]             # the first applied event covers the snapshot
    ignore_after_sync: Callable[[DepthDiff, int], bool]   # an old event, already in the book
    gap: Callable[[DepthDiff, int], str | None]           # reason the stream broke, or None


def _spot_gap(d: DepthDiff, local: int) -> str | None:
    if d.first_id > local + 1:
        return f"gap: U={d.first_id} > last u+1={local + 1}"
    return None


def _coinm_gap(d: DepthDiff, local: int) -> str | None:
    if d.prev_final_id != local:
        return f"gap: pu={d.prev_final_id} != last u={local}"
    return None


# Spot §5.2. Step 3 says "snapshot lastUpdateId < first U: fetch again"; we refetch only when the
# first kept event would not bridge (U > lastUpdateId+1), which is step 4's condition: the
# lastUpdateId == U-1 case is contiguous and step 4 accepts it.
SPOT_RULE = SyncRule(
    name=SPOT,
    stale_before_sync=lambda d, last: d.final_id <= last,
    snapshot_too_old=lambda d, last: d.first_id > last + 1,
    bridges=lambda d, last: d.first_id <= last + 1 <= d.final_id,
    ignore_after_sync=lambda d, local: d.final_id < local,
    gap=_spot_gap,
)

# COIN-M §5.4: note `u < lastUpdateId` (strict) and `U <= lastUpdateId <= u`; afterwards only `pu`
# proves continuity (ids may jump), so nothing is ignored: a repeated event breaks the `pu` chain.
COINM_RULE = SyncRule(
    name=COINM,
    stale_before_sync=lambda d, last: d.final_id < last,
    snapshot_too_old=lambda d, last: d.first_id > last,
    bridges=lambda d, last: d.first_id <= last <= d.final_id,
    ignore_after_sync=lambda d, local: False,
    gap=_coinm_gap,
)

RULES = {SPOT: SPOT_RULE, COINM: COINM_RULE}

BUFFERING = "buffering"                  # no snapshot asked for yet (nothing received, or reset)
AWAITING_SNAPSHOT = "awaiting_snapshot"  # diffs buffered, snapshot asked for / being bridged
SYNCED = "synced"

MAX_BUFFER = 10_000  # diffs held while a snapshot loads; beyond this the snapshot is hopeless


class DepthSync:
    """One symbol's book kept in sync by snapshot + diff stream.

    The caller feeds every diff and snapshot and fetches a snapshot whenever a method returns
    True. `ready` is True only while the book has been bridged to a snapshot by a verified event
    and every event since has passed the continuity check.
    """

    def __init__(self, symbol: str, rule: str) -> None:
        if rule not in RULES:
            raise ValueError(f"rule must be one of {sorted(RULES)}, not {rule!r}")
        self.symbol = symbol
        self.rule = RULES[rule]
        self.book = OrderBook(symbol)
        self.state = BUFFERING
        self.resyncs = 0
        self.last_resync_reason: str | None = None
        self.applied = 0               # diffs applied to the book (buffered and live)
        self._buffer: list[DepthDiff] = []
        self._snapshot: DepthSnapshot | None = None  # received, waiting for a bridging event

    @property
    def ready(self) -> bool:
        return self.state == SYNCED

    # --- inputs ----------------------------------------------------------------------------------

    def on_diff(self, diff: DepthDiff) -> bool:
        """Feed one diff. True: fetch a snapshot now."""
        if self.state == SYNCED:
            return self._apply_live(diff)
        if len(self._buffer) >= MAX_BUFFER:
            return self._restart(f"buffer overflow ({MAX_BUFFER} diffs without a usable snapshot)",
                                 diff)
        self._buffer.append(diff)
        if self._snapshot is not None:
            return self._bridge()
        if self.state == BUFFERING:
            self.state = AWAITING_SNAPSHOT
            return True
        return False

    def on_snapshot(self, snap: DepthSnapshot) -> bool:
        """Feed a REST snapshot. True: it is out of date, fetch another."""
        if self.state == SYNCED:
            return False  # a late duplicate; the live book is already ahead of it
        if snap.symbol != self.symbol:
            log.warning("%s: ignoring a snapshot for %s", self.symbol, snap.symbol)
            return False
        self._snapshot = snap
        return self._bridge()

    def on_disconnect(self, reason: str) -> None:
        """The stream dropped: events may have been lost, so the book can no longer be trusted."""
        if self.state == BUFFERING and not self._buffer:
            return  # nothing held yet, nothing to throw away
        self._restart(f"disconnect: {reason}", None)
        self.state = BUFFERING  # the next diff (on the new connection) asks for the snapshot

    def invalidate(self, reason: str) -> bool:
        """Something outside the sequencing rules proved the book wrong (e.g. it disagrees with
        the exchange's bookTicker): resync. True: fetch a snapshot now."""
        return self._restart(reason, None)

    # --- the procedure ---------------------------------------------------------------------------

    def _bridge(self) -> bool:
        """Try to join the pending snapshot to the buffered diffs."""
        snap, rule = self._snapshot, self.rule
        assert snap is not None
        last = snap.last_update_id
        buf = self._buffer
        drop = 0
        while drop < len(buf) and rule.stale_before_sync(buf[drop], last):
            drop += 1
        if drop:
            del buf[:drop]
        if not buf:
            return False  # the snapshot is ahead of every diff so far: wait for the next one
        first = buf[0]
        if rule.snapshot_too_old(first, last) or not rule.bridges(first, last):
            log.info("[SNAPSHOT] %s lastUpdateId=%d older than first diff U=%d: fetching again",
                     self.symbol, last, first.first_id)
            self._snapshot = None
            self.state = AWAITING_SNAPSHOT
            return True
        self._snapshot = None
        self.book.load(snap.bids, snap.asks, last, snap.event_ms, snap.recv_ns)
        self.state = SYNCED
        pending, self._buffer = buf, []
        # the first event was bridged above; the rest must follow the live continuity rule
        self._apply(first)
        failed = self._restart(self._crossed_reason(first), None) if self.book.crossed() else False
        i = 1
        while not failed and i < len(pending):
            failed = self._apply_live(pending[i])
            i += 1
        if failed:
            # the diffs after the failure are still valid stream data for the next attempt
            self._buffer.extend(pending[i:])
            return True
        log.info("[SYNC] %s synced at update %d (%d buffered diffs applied)",
                 self.symbol, self.book.last_update_id, len(pending))
        return False

    def _apply_live(self, diff: DepthDiff) -> bool:
        book, rule = self.book, self.rule
        local = book.last_update_id
        assert local is not None
        if rule.ignore_after_sync(diff, local):
            return False
        reason = rule.gap(diff, local)
        if reason is not None:
            return self._restart(reason, diff)
        book.apply(diff.bids, diff.asks, diff.final_id, diff.event_ms, diff.recv_ns)
        self.applied += 1
        if book.crossed():
            return self._restart(self._crossed_reason(diff), None)
        return False

    def _apply(self, diff: DepthDiff) -> None:
        self.book.apply(diff.bids, diff.asks, diff.final_id, diff.event_ms, diff.recv_ns)
        self.applied += 1

    def _crossed_reason(self, diff: DepthDiff) -> str:
        bid, ask = self.book.best_bid(), self.book.best_ask()
        return (f"crossed book after u={diff.final_id}: bid {bid[0] if bid else None} "
                f">= ask {ask[0] if ask else None}")

    def _restart(self, reason: str, keep: DepthDiff | None) -> bool:
        """Throw the book away and start the procedure again; `keep` is the first diff of the new
        buffer (the one that revealed the gap is still valid stream data)."""
        self.resyncs += 1
        self.last_resync_reason = reason
        log.warning("[RESYNC] %s %s", self.symbol, reason)
        self.book.clear()
        self._snapshot = None
        self._buffer = [keep] if keep is not None else []
        self.state = AWAITING_SNAPSHOT
        return True
