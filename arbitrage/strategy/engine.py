"""The engine's state machine (design §8), pure: an explicit transition table and the trade record.

    FLAT ─entry sent─> ENTERING ─hedged─> HEDGED ─exit sent─> EXITING ─flat─> FLAT
                           └─nothing left (rescued / unfilled)─> FLAT
    any ─critical failure─> HALTED   (no new orders; the process stays up and says why)

The state changes only through `transition`, which refuses anything not in the table: a bug that
would, say, send an exit while an entry is still in flight fails loudly instead of trading.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

FLAT, ENTERING, HEDGED, EXITING, HALTED = "FLAT", "ENTERING", "HEDGED", "EXITING", "HALTED"

ENTRY_SENT, ENTRY_HEDGED, ENTRY_FLAT = "entry_sent", "entry_hedged", "entry_flat"
EXIT_SENT, EXIT_FLAT = "exit_sent", "exit_flat"
HALT = "halt"

TRANSITIONS: dict[tuple[str, str], str] = {
    (FLAT, ENTRY_SENT): ENTERING,
    (ENTERING, ENTRY_HEDGED): HEDGED,
    (ENTERING, ENTRY_FLAT): FLAT,
    (HEDGED, EXIT_SENT): EXITING,
    (EXITING, EXIT_FLAT): FLAT,
    (FLAT, HALT): HALTED,
    (ENTERING, HALT): HALTED,
    (HEDGED, HALT): HALTED,
    (EXITING, HALT): HALTED,
    (HALTED, HALT): HALTED,
}


class IllegalTransition(RuntimeError):
    pass


def transition(state: str, event: str) -> str:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(f"{event} is not allowed in state {state}") from None


@dataclass(frozen=True)
class Trade:
    """One hedged round trip as the engine knows it. Signed amounts: spot BTC bought (+) or sold
    (−); contracts long (+) or short (−)."""
    trade_id: str
    direction: str                  # BUY_SPOT / SELL_SPOT (frontier.py)
    opened_ms: int
    entry_spread_bps: float
    spot_btc: Decimal = Decimal(0)          # net spot BTC traded by the entry (+ rescue)
    spot_held: Decimal = Decimal(0)         # BTC the exit must sell back / buy back (after fees)
    contracts: Decimal = Decimal(0)
    spot_vwap: Decimal | None = None
    perp_vwap: Decimal | None = None
    gross_edge_bps: float = 0.0
    net_edge_bps: float = 0.0
    exit_reason: str | None = None
    exit_spread_bps: float | None = None
    closed_ms: int | None = None
    exit_spot_vwap: Decimal | None = None
    exit_perp_vwap: Decimal | None = None
    rescues: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def closed(self, **changes) -> "Trade":
        return replace(self, **changes)
