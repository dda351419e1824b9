"""SIGNED endpoint checks exactly as Binance does them (reference §2.1, §2.2, §14.4).

The HMAC is recomputed over the raw query string and the raw body exactly as they arrived, with only
the `signature=` parameter taken out, so a client that re-encodes anything after signing fails here
as it would on Binance. Key → signature → timestamp: the timestamp is only trusted once signed.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Callable
from urllib.parse import urlencode

from arbitrage.sim.market import wall_ms
from arbitrage.sim.rest import ApiError, Request

DEFAULT_RECV_WINDOW = Decimal(5000)
MAX_RECV_WINDOW = Decimal(60000)
AHEAD_TOLERANCE_MS = 1000
_KEY_FORMAT = re.compile(r"^[A-Za-z0-9]{64}$")      # Binance HMAC keys: 64 letters and digits
_DIGITS = re.compile(r"^[0-9]{1,20}$")
_RECV_WINDOW = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,3})?$")


@dataclass(frozen=True)
class ApiKeys:
    """The loopback demo exchange's one key pair. Derived from the seed so that a standalone
    exchange and a test agree on it; obviously a demo (it says so in its first characters)."""
    api_key: str
    api_secret: str = field(repr=False)

    @classmethod
    def demo(cls, seed: int) -> "ApiKeys":
        def part(label: str) -> str:
            return hashlib.sha256(f"spot-cm-arb local exchange {label} seed {seed}".encode()).hexdigest()
        return cls(("simDEMOkey" + part("key"))[:64], ("simDEMOsecret" + part("secret"))[:64])


def _without_signature(raw: str) -> str:
    return "&".join(p for p in raw.split("&") if not p.startswith("signature="))


def signed_payload(req: Request) -> str:
    """Query string + body, no separator, as received, minus the signature parameter."""
    return _without_signature(req.raw_query) + _without_signature(req.body.decode("utf-8", "replace"))


def ws_payloads(params: dict[str, str]) -> tuple[str, str]:
    """What a WebSocket API signature covers (binance-ws-api.md §3.1): every param but
    `signature`, sorted by name, `name=value` joined by `&` with raw UTF-8 values — and the
    percent-encoded form the official SDKs send (`urlencode`), which differs only for values
    outside [A-Za-z0-9_.-~]; which one Binance accepts there is unconfirmed, so both are."""
    pairs = sorted((k, v) for k, v in params.items() if k != "signature")
    return "&".join(f"{k}={v}" for k, v in pairs), urlencode(pairs)


class Auth:
    def __init__(self, keys: ApiKeys, clock_ms: Callable[[], int] = wall_ms) -> None:
        self.keys = keys
        self.clock_ms = clock_ms

    def check_key(self, req: Request) -> None:
        key = req.params.get("apiKey", "") if req.ws else req.headers.get("x-mbx-apikey", "")
        if not _KEY_FORMAT.match(key):
            raise ApiError(-2014, "API-key format invalid.", status=401)
        if not hmac.compare_digest(key.encode(), self.keys.api_key.encode()):
            raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)

    def check(self, req: Request, spot: bool) -> None:
        """Raise the ApiError Binance would answer with, or return when the request is good."""
        self.check_key(req)
        ts_raw = req.require("timestamp")
        signature = req.require("signature")
        payloads = ws_payloads(req.params) if req.ws else (signed_payload(req),)
        if not any(hmac.compare_digest(self.sign(p).encode(), signature.lower().encode()) for p in payloads):
            raise ApiError(-1022, "Signature for this request is not valid.")
        if not _DIGITS.match(ts_raw):
            raise ApiError(-1100, "Illegal characters found in parameter 'timestamp'; "
                                  "legal range is '^[0-9]{1,20}$'.")
        timestamp = Decimal(ts_raw)
        if spot and timestamp >= 10**14:        # spot also accepts microseconds
            timestamp /= 1000
        window = self._recv_window(req, spot)
        now = self.clock_ms()
        if timestamp >= now + AHEAD_TOLERANCE_MS:
            raise ApiError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if now - timestamp > window:
            raise ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")

    def sign(self, payload: str) -> str:
        return hmac.new(self.keys.api_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def _recv_window(req: Request, spot: bool) -> Decimal:
        raw = req.params.get("recvWindow", "")
        if not raw:
            return DEFAULT_RECV_WINDOW
        if not _RECV_WINDOW.match(raw) or (not spot and "." in raw):
            raise ApiError(-1100, "Illegal characters found in parameter 'recvWindow'; "
                                  "legal range is '^[0-9]{1,20}$'.")
        try:
            window = Decimal(raw)
        except InvalidOperation:   # unreachable after the pattern; kept for safety
            raise ApiError(-1100, "Illegal characters found in parameter 'recvWindow'.") from None
        if window > MAX_RECV_WINDOW:
            # the spot limit; COIN-M documents none (reference §15.1), the same cap is applied
            raise ApiError(-1131, "recvWindow must be less than 60000.")
        return window
