"""Binance REST transport: signing, server-time offset, weight tracking, error mapping.

One `requests.Session` per venue so connections are kept alive. The query string is built once,
signed, and sent byte for byte as signed (binance-reference §2.1: the HMAC is over the exact
query + body), so requests is never allowed to re-encode it.

Two answers to exchange faults live here because they are safe whatever the caller is doing:
- -1021 (timestamp outside recvWindow; on COIN-M also -4188, outside the matching engine's
  recvWindow) is a refusal before execution, so after re-measuring the
  server-time offset the same request (same client order id) is sent once more - even an order.
- A GET that fails transiently (definite failure, 5xx, unreadable body) is retried a few times with
  capped, jittered exponential backoff inside a small time budget. Never a POST/DELETE: an order
  whose outcome is unknown is resolved by the caller, by client order id, never re-sent.
A 429/418 window is honoured locally: nothing at all is sent until it has passed.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import requests
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError

from arbitrage.exchanges.errors import (
    BadResponse, BinanceError, ClockSkew, IpBanned, RateLimited, Rejected, Retryable,
    UnknownOutcome,
)
from arbitrage.exchanges.net_errors import host_of, network_cause

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
_CLOCK_CODES = (-1021, -4188)     # INVALID_TIMESTAMP; COIN-M ME_INVALID_TIMESTAMP (matching engine)
_BODY_METHODS = ("POST", "PUT")     # params travel as a form body; GET/DELETE use the query string
# Read retries: 1 try + 3 retries, 0.1 s doubling to at most 1 s (x0.5..1.5 jitter so many
# clients do not retry in step), and never past 3 s since the first attempt began.
_READ_ATTEMPTS = 4
_BACKOFF_FIRST = 0.1
_BACKOFF_CAP = 1.0
_READ_RETRY_BUDGET = 3.0
# Where each API family tells the time (reference §2.2); sapi lives on the spot host.
_TIME_PATHS = (("/dapi/", "/dapi/v1/time"), ("/fapi/", "/fapi/v1/time"),
               ("/api/", "/api/v3/time"), ("/sapi/", "/api/v3/time"))


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


def time_path_for(path: str) -> str | None:
    """The server-time endpoint of the API family `path` belongs to (None if unknown)."""
    for prefix, time_path in _TIME_PATHS:
        if path.startswith(prefix):
            return time_path
    return None


def _transient_for_read(exc: BinanceError) -> bool:
    """May a GET that failed with `exc` simply be asked again after a pause?"""
    if isinstance(exc, (RateLimited, Rejected)):
        return False   # a ban window is waited out, not retried; a refusal will not change
    if isinstance(exc, BadResponse):
        # truncated JSON / HTML instead of JSON on a 2xx or 5xx; a 4xx page (WAF) is a refusal
        return exc.status is None or exc.status < 400 or exc.status >= 500
    return isinstance(exc, (Retryable, UnknownOutcome))   # a read has no outcome to lose


class BinanceHttp:
    """Signed and unsigned requests to one Binance REST base URL."""

    def __init__(self, base_url: str, api_key: str = "", api_secret: str = "",
                 recv_window: int = 5000, timeout: float = 5.0,
                 session: requests.Session | None = None,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.host = host_of(self.base_url)     # named when the venue cannot be reached
        self._api_key = api_key
        self._api_secret = api_secret
        self.recv_window = recv_window
        self.timeout = timeout
        self._session = session or requests.Session()
        # Per request, requests' Session re-reads the environment (proxies, CA bundle, .netrc)
        # and merges cookies and hooks: ~1 ms of Python on the order path. The environment is
        # read once here instead, and requests go straight to the session's adapter (its
        # keep-alive pool), prepared by hand: the URL must stay byte for byte as signed anyway.
        self._adapter = self._session.get_adapter(self.base_url + "/")
        self._send_settings = self._session.merge_environment_settings(
            self.base_url + "/", {}, None, None, None)
        self._base_headers = dict(self._session.headers)
        self._clock = clock
        self._sleep = sleep            # backoff between read retries (injectable for tests)
        # what this client survived, for the status and the chaos table
        self.retries = self.bans = self.clock_resyncs = 0
        self._monotonic = monotonic    # measures the read retry budget
        self._rng = rng or random.Random()
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

    def blocked_for(self) -> float:
        """Seconds left in a Retry-After window (429/418); 0 when requests may go."""
        return max(0.0, self._blocked_until - self._clock())

    def sync_time(self, path: str) -> int:
        """Measure the server-time offset (ms) against the midpoint of the round trip."""
        def measure() -> tuple[float, Any, float]:
            # timed around the one attempt that answered, so a retry does not skew the midpoint
            sent = self._clock()
            data = self._request_once("GET", path, None, False, False)
            return sent, data, self._clock()
        sent, data, received = self._read_with_retries("GET", path, measure)
        server_ms = data.get("serverTime") if isinstance(data, dict) else None
        if not isinstance(server_ms, int):
            raise BadResponse(f"no serverTime in {json.dumps(data)[:_SNIPPET]!r}",
                              method="GET", path=path)
        self.offset_ms = server_ms - int((sent + received) / 2 * 1000)
        log.debug("[HTTP] %s clock offset %d ms", self.base_url, self.offset_ms)
        return self.offset_ms

    def request(self, method: str, path: str, params: Params = None, signed: bool = False,
                api_key_only: bool = False) -> Any:
        """Send a request and return the parsed JSON, or raise a BinanceError subclass.

        A GET is retried on transient failures; any signed request is re-sent once after a
        -1021 and a clock re-sync. Everything else is sent exactly once."""
        method = method.upper()

        def attempt() -> Any:
            return self._request_clock_checked(method, path, params, signed, api_key_only)
        if method == "GET":
            return self._read_with_retries(method, path, attempt)
        return attempt()

    def _read_with_retries(self, method: str, path: str, attempt: Callable[[], Any]) -> Any:
        started = self._monotonic()
        delay = _BACKOFF_FIRST
        for number in range(1, _READ_ATTEMPTS + 1):
            try:
                return attempt()
            except BinanceError as exc:
                if number == _READ_ATTEMPTS or not _transient_for_read(exc):
                    raise
                wait = min(_BACKOFF_CAP, delay * (0.5 + self._rng.random()))
                if self._monotonic() - started + wait > _READ_RETRY_BUDGET:
                    raise
                log.info("[HTTP] %s %s failed (%s): retry %d/%d in %.2fs", method, path, exc,
                         number, _READ_ATTEMPTS - 1, wait)
                self.retries += 1
                self._sleep(wait)
                delay *= 2
        raise AssertionError("unreachable")   # the last attempt returns or raises

    def _request_clock_checked(self, method: str, path: str, params: Params, signed: bool,
                               api_key_only: bool) -> Any:
        try:
            return self._request_once(method, path, params, signed, api_key_only)
        except ClockSkew as skew:
            time_path = time_path_for(path)
            if not signed or time_path is None:
                raise
            refused = skew
        # -1021/-4188 = refused before execution (reference §2.2): re-measure, then the same request
        # once more with a fresh timestamp. A second -1021 goes to the caller.
        before = self.offset_ms
        try:
            self.sync_time(time_path)
        except BinanceError as exc:
            log.warning("[CLOCK] re-sync after %s on %s %s failed: %s", refused.code, method, path,
                        exc)
            raise refused from None
        log.warning("[CLOCK] offset re-synced: %d ms (was %d ms) after %s on %s %s",
                    self.offset_ms, before, refused.code, method, path)
        self.clock_resyncs += 1
        return self._request_once(method, path, params, signed, api_key_only)

    def _request_once(self, method: str, path: str, params: Params, signed: bool,
                      api_key_only: bool) -> Any:
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
        prepared = requests.PreparedRequest()
        prepared.method = method
        prepared.url = url   # exactly what was signed
        prepared.headers = CaseInsensitiveDict(self._base_headers)
        prepared.headers.update(headers)
        prepared.body = body.encode() if body is not None else None
        if prepared.body is not None or method not in ("GET", "HEAD"):
            prepared.headers["Content-Length"] = str(len(prepared.body or b""))
        prepared.hooks = {"response": []}
        try:
            resp = self._adapter.send(prepared, timeout=self.timeout, **self._send_settings)
        except requests.RequestException as exc:
            # `from None`: the requests message holds the full URL, signature included. The
            # host and the kind of failure (DNS, refused, TLS, timeout) say what to fix.
            why = f"{self.host}: {network_cause(exc)}"
            if _never_sent(exc):
                raise Retryable(f"not sent: {why}", method=method, path=path) from None
            raise UnknownOutcome(f"no response: {why}", method=method, path=path) from None
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

    def hold_off(self, seconds: float, banned: bool) -> None:
        """A 429/418 window (from REST or the WebSocket API of the same IP): nothing is sent
        until it has passed."""
        until = self._clock() + seconds
        if until >= self._blocked_until:   # a shorter window never shortens a longer one
            self._blocked_until = until
            self._blocked_by_ban = banned
        self.bans += 1

    def check_not_blocked(self, method: str, path: str) -> None:
        """Raise RateLimited/IpBanned while a Retry-After window is active."""
        self._check_not_blocked(method, path)

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
            self.hold_off(retry_after, banned=status == 418)
            if status == 418:
                log.warning("[BAN] %s %s HTTP 418: IP banned, no request for %.1fs",
                            method, path, retry_after)
            else:
                log.warning("[HTTP] %s %s HTTP 429: backing off %.1fs",
                            method, path, retry_after)
            cls = IpBanned if status == 418 else RateLimited
            return cls(msg or f"rate limited for {retry_after:g}s", retry_after=retry_after,
                       **where)
        if code in _CLOCK_CODES:
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
