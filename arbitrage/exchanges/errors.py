"""What can go wrong when talking to Binance, sorted by what the caller may safely do next.

The split that matters for a trading bot is whether the request may have been executed
(binance-reference §10.1): `Rejected` and `Retryable` are definite failures, `UnknownOutcome` means
"check before you retry" (an order POST in this state must be reconciled, never blindly resent).

Messages carry method, path, HTTP status, Binance code and message only - never a query string,
a header, an API key, a secret or a signature.
"""
from __future__ import annotations


class BinanceError(Exception):
    """Base class. `status`: HTTP status (None if no response); `code`: Binance's error code."""

    def __init__(self, msg: str, *, status: int | None = None, code: int | None = None,
                 method: str = "", path: str = "") -> None:
        super().__init__(msg)
        self.msg = msg
        self.status = status
        self.code = code
        self.method = method
        self.path = path

    def __str__(self) -> str:
        parts = [p for p in (self.method, self.path) if p]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code is not None:
            parts.append(f"code {self.code}")
        return f"{' '.join(parts)}: {self.msg}" if parts else self.msg


class Rejected(BinanceError):
    """A 4xx with a Binance error body: the exchange refused, nothing was executed."""


class ClockSkew(Rejected):
    """-1021 (or COIN-M -4188, the matching engine's window): our timestamp is outside recvWindow;
    refused before execution, so resync the clock offset and try again."""


class UnknownSymbol(Rejected):
    """The symbol does not exist on this venue (-1121, or absent from exchangeInfo)."""


class Retryable(BinanceError):
    """A definite failure that did not execute anything; safe to retry after a backoff."""


class UnknownOutcome(BinanceError):
    """The request may or may not have been executed (timeout after sending, most 5xx, -1007)."""


class BadResponse(BinanceError):
    """The body is not the JSON expected (HTML page, truncated JSON, wrong shape).

    On a 2xx the request did execute; for an order that means the outcome is unknown to us.
    """


class RateLimited(BinanceError):
    """429: too much weight or too many orders. Nothing may be sent for `retry_after` seconds."""

    def __init__(self, msg: str, *, retry_after: float, status: int | None = None,
                 code: int | None = None, method: str = "", path: str = "") -> None:
        super().__init__(msg, status=status, code=code, method=method, path=path)
        self.retry_after = retry_after


class IpBanned(RateLimited):
    """418: the IP is banned (after ignoring 429s) for `retry_after` seconds."""


class OrderNotFound(Rejected):
    """-2013 "Order does not exist.": the exchange has no order under that id. After an unknown
    outcome this means it never reached the matching engine - or is not visible yet, so the
    caller decides how long to keep asking before calling it not placed."""


class CancelRejected(Rejected):
    """-2011: the cancel was refused - the order is unknown or already final (filled, canceled,
    expired). Query the order to learn which."""


class UnreadableOrderAnswer(BadResponse, UnknownOutcome):
    """An order POST was answered 2xx with a body we cannot read: the order was accepted in some
    form, but we do not know its state. Both a BadResponse and an UnknownOutcome, so code that
    resolves unknown outcomes by querying the client order id handles it too."""
