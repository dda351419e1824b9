"""How a Decimal is shown to a human (logs, status, summary, errors) and in the CSV: one rule.

`str(Decimal)` writes 0.00000002 as `2E-8` and a product of two 8-decimal numbers with 16 decimals
(`-20287.5514132000000000`); neither belongs in front of a person or in a ledger.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

Q8 = Decimal("0.00000001")


def plain(value: Any) -> str:
    """Plain notation, never an exponent (2E-8 -> 0.00000002, 0E-8 -> 0.00000000, 3E+2 -> 300);
    decimals beyond 8 are dropped when they are all zeros (-20287.5514132000000000 ->
    -20287.55141320), so the value stays exact. None is "-"; anything else is str()."""
    if value is None:
        return "-"
    if not isinstance(value, Decimal):
        return str(value)
    if not value.is_finite():
        return str(value)
    if value.as_tuple().exponent < -8 and value == value.quantize(Q8):
        value = value.quantize(Q8)
    return format(value, "f")
