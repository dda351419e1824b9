"""Binance REST transport: signing, server-time offset, weight tracking, error mapping.

One `requests.Session` per venue so connections are kept alive. The query string is built once,
signed, and sent byte for byte as signed (binance-reference §2.1: the HMAC is over the exact
query + body), so requests is never allowed to re-encode it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import requests
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError

from arbitrage.exchanges.errors import (
    BadResponse, BinanceError, ClockSkew, IpBanned, RateLimited, Rejected, Retryable,
    UnknownOutcome,
)

log = logging.getLogger(__name__)

Params = Mapping[str, Any] | Sequence[tuple[str, Any]] | None

_SNIPPET = 120
# Used when a 429/418 comes without Retry-After (dapi may not send it, reference §15.3):
# weight windows are per minute, and IP bans start at 2 minutes (§10.1).
_DEFAULT_RETRY_AFTER = {429: 10.0, 418: 120.0}
# 5xx texts that Binance documents as "definitely not executed" (reference §10.1, dapi).
_DEFINITE_FAILURE_TEXTS = ("Service Unavailable", "Internal error; unable to process your request")
_RETRYABLE_CODES = (-1001, -1008)   # DISCONNECTED, SERVER_BUSY / system-level throttle
_UNKNOWN_CODES = (-1007,)           # TIMEOUT: "execution status unknown"
_BODY_METHODS = ("POST", "PUT")     # params travel as a form body; GET/DELETE use the query string


def sign(secret: str, payload: str) -> str:
    """HMAC-SHA256 hex of `payload` (query string + body, no separator) with the API secret."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _wire(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")   # never an exponent on the wire
    return str(value)


def _snippet(content: bytes) -> str:
    return repr(content[:_SNIPPET].decode("utf-8", errors="replace"))


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the failure happened before any byte of the request left (safe to retry)."""
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError)):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        for arg in exc.args:
            reason = arg.reason if isinstance(arg, MaxRetryError) else arg
            if isinstance(reason, (NewConnectionError, NameResolutionError)):
                return True
    return False


class BinanceHttp:
    """Signed and unsigned requests to one Binance REST base URL."""

    def __init__(self, base_url: str, api_key: str = "", api_secret: str = "",
                 recv_window: int = 5000, timeout: float = 5.0,
                 session: requests.Session | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._api_secret = api_secret
        self.recv_window = recv_window
        self.timeout = timeout
        self._session = session or requests.Session()
        self._clock = clock
        self.offset_ms = 0                 # server time minus local time, from sync_time()
        self.used_weight: dict[str, int] = {}   # e.g. {"X-MBX-USED-WEIGHT-1M": 12}
        self._blocked_until = 0.0          # clock() time before which nothing may be sent
        self._blocked_by_ban = False

    def __repr__(self) -> str:   # keys stay out of reprs (and so out of tracebacks with locals)
        return f"BinanceHttp({self.base_url!r}, key={'set' if self._api_key else 'none'})"

    def sign(self, payload: str) -> str:
        return sign(self._api_secret, payload)

    def now_ms(self) -> int:
        """Local time corrected to the server's clock, in ms."""
        return int(self._clock() * 1000) + self.offset_ms

    def sync_time(self, path: str) -> int:
        """Measure the server-time offset (ms) against the midpoint of the round trip."""
        sent = self._clock()
        data = self.request("GET", path)
        received = self._clock()
        server_ms = data.get("serverTime") if isinstance(data, dict) else None
        if not isinstance(server_ms, int):
            raise BadResponse(f"no serverTime in {json.dumps(data)[:_SNIPPET]!r}",
                              method="GET", path=path)
        self.offset_ms = server_ms - int((sent + received) / 2 * 1000)
        log.debug("[HTTP] %s clock offset %d ms", self.base_url, self.offset_ms)
        return self.offset_ms

    def request(self, method: str, path: str, params: Params = None, signed: bool = False,
                api_key_only: bool = False) -> Any:
        """Send one request and return the parsed JSON, or raise a BinanceError subclass."""
        method = method.upper()
        self._check_not_blocked(method, path)
        pairs = [(k, _wire(v)) for k, v in (params.items() if isinstance(params, Mapping)
                                            else params or ()) if v is not None]
        headers: dict[str, str] = {}
        if signed or api_key_only:
            if not self._api_key or (signed and not self._api_secret):
                needs = "an API key and secret" if signed else "an API key"
                raise ValueError(f"{method} {path} needs {needs}")
            headers["X-MBX-APIKEY"] = self._api_key
        if signed:
            pairs += [("timestamp", str(self.now_ms())), ("recvWindow", str(self.recv_window))]
        log.debug("[HTTP] %s %s %s", method, path, pairs)

        encoded = urlencode(pairs)
        if signed:
            encoded += "&signature=" + self.sign(encoded)   # query + empty body, or body alone
        url = self.base_url + path
        body = None
        if method in _BODY_METHODS and encoded:
            body = encoded
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif encoded:
            url += "?" + encoded
        return self._send(method, path, url, body, headers)

    def _send(self, method: str, path: str, url: str, body: str | None,
              headers: dict[str, str]) -> Any:
        prepared = self._session.prepare_request(
            requests.Request(method, self.base_url + path, headers=headers, data=body))
        prepared.url = url   # exactly what was signed
        settings = self._session.merge_environment_settings(url, {}, None, None, None)
        try:
            resp = self._session.send(prepared, timeout=self.timeout, **settings)
        except requests.RequestException as exc:
            # `from None`: the requests message holds the full URL, signature included.
            kind = type(exc).__name__
            if _never_sent(exc):
                raise Retryable(f"not sent ({kind})", method=method, path=path) from None
            raise UnknownOutcome(f"no response ({kind})", method=method, path=path) from None
        self._track_limits(resp.headers)
        content = resp.content
        try:
            payload = json.loads(content) if content else None
        except ValueError:
            payload = _NOT_JSON
        if resp.status_code >= 400:
            raise self._error(resp.status_code, payload, content, resp.headers, method, path)
        if payload is _NOT_JSON or payload is None:
            raise BadResponse(f"response is not JSON: {_snippet(content)}",
                              status=resp.status_code, method=method, path=path)
        return payload

    def _check_not_blocked(self, method: str, path: str) -> None:
        remaining = self._blocked_until - self._clock()
        if remaining > 0:
            cls = IpBanned if self._blocked_by_ban else RateLimited
            raise cls(f"not sent: Retry-After window active for {remaining:.1f}s more",
                      retry_after=remaining, method=method, path=path)

    def _track_limits(self, headers: Mapping[str, str]) -> None:
        for name, value in headers.items():
            upper = name.upper()
            if upper.startswith(("X-MBX-USED-WEIGHT", "X-MBX-ORDER-COUNT")):
                try:
                    self.used_weight[upper] = int(value)
                except ValueError:
                    pass

    def _error(self, status: int, payload: Any, content: bytes, headers: Mapping[str, str],
               method: str, path: str) -> BinanceError:
        code = msg = None
        if isinstance(payload, dict) and isinstance(payload.get("code"), int):
            code, msg = payload["code"], str(payload.get("msg", ""))
        where: dict[str, Any] = dict(status=status, code=code, method=method, path=path)
        text = msg if msg is not None else content[:_SNIPPET * 4].decode("utf-8", errors="replace")
        if status in (418, 429):
            retry_after = self._retry_after(headers, status)
            self._blocked_until = self._clock() + retry_after
            self._blocked_by_ban = status == 418
            log.warning("[HTTP] %s %s HTTP %d: backing off %.1fs",
                        method, path, status, retry_after)
            cls = IpBanned if status == 418 else RateLimited
            return cls(msg or f"rate limited for {retry_after:g}s", retry_after=retry_after,
                       **where)
        if code == -1021:
            return ClockSkew(msg or "", **where)
        if code in _UNKNOWN_CODES:
            return UnknownOutcome(msg or "", **where)
        if (code in _RETRYABLE_CODES or status == 408
                or (status >= 500 and any(t in text for t in _DEFINITE_FAILURE_TEXTS))):
            return Retryable(msg or f"server refused: {_snippet(content)}", **where)
        if status >= 500:
            return UnknownOutcome(msg or f"server error: {_snippet(content)}", **where)
        if code is not None:
            return Rejected(msg or "", **where)
        return BadResponse(f"error body is not Binance JSON: {_snippet(content)}", **where)

    @staticmethod
    def _retry_after(headers: Mapping[str, str], status: int) -> float:
        try:
            return max(0.0, float(headers.get("Retry-After", "")))
        except ValueError:
            return _DEFAULT_RETRY_AFTER[status]


_NOT_JSON = object()   # sentinel: the body did not parse (distinct from a JSON null)
