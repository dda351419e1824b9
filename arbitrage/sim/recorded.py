"""A recorded stream message as the replay holds it: the `data` dict its listeners read, plus the
message as it was received (`wire`), which in-process consumers use instead of a second parse:
the backtest's feed hands it to the bot as is, and the exchange's book reads its levels from it
with one typed decode (prices and quantities turned into floats in C, the same floats as
`float()` of the strings: tests/test_depth_wire.py checks that on every capture message).
"""
from __future__ import annotations

import msgspec


class Recorded(dict):
    """`data` of a recorded combined-stream message, with the message itself in `wire`. Built as
    `Recorded(data)` then `.wire = text` (a C copy; an __init__ would cost more than the copy)."""
    __slots__ = ("wire",)
    wire: str


class _Levels(msgspec.Struct, gc=False):
    b: list[tuple[float, float]] = []
    a: list[tuple[float, float]] = []


class _Envelope(msgspec.Struct, gc=False):
    data: _Levels


_decode = msgspec.json.Decoder(_Envelope, strict=False).decode  # strict=False: "1.5" -> 1.5


def recorded_levels(event: dict) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(bids, asks) of a depthUpdate as floats: from the wire when the event is Recorded, else
    (or if the wire does not decode) from the dict's strings."""
    if type(event) is Recorded:
        try:
            data = _decode(event.wire).data
            return data.b, data.a
        except msgspec.MsgspecError:
            pass
    return ([(float(p), float(q)) for p, q in event.get("b", ())],
            [(float(p), float(q)) for p, q in event.get("a", ())])
