"""Faults on the wire of the local exchange: HTTP errors, rate limits and bans, slow answers, a
skewed server clock, malformed stream messages — and one counter of every injection per kind.

Each class is thread-safe and has both a scripted form ("the next n …", for tests) and a rate form
(a probability per request / message, for chaos runs) drawn from a seeded RNG so a run repeats.
The REST server asks `HttpFaults.intercept` before routing a request; the stream hub asks
`StreamFaults.take` before fanning an event out.
"""
from __future__ import annotations

import json
import math
import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

# Every kind of injection `LocalExchange.fault_counts()` reports (0 when never injected).
KINDS = ("drop", "disconnect", "silence", "http5xx", "ratelimit", "ban", "slow", "clock",
         "malformed", "reduce", "wsapi_lost", "wsapi_late", "uds_drop", "listenkey_expired", "event_lost")
MALFORMED_KINDS = ("truncated", "html", "missing", "extra")
HTML_5XX = ("<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
            "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n")
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Temporarily Unavailable",
            504: "Gateway Time-out"}
INTERNAL_ERROR = {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."}


class FaultCounts:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self._counts[kind] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {kind: self._counts[kind] for kind in (*KINDS, *sorted(set(self._counts) - set(KINDS)))}


class ServerClock:
    """The exchange's idea of now: wall time plus an offset (a clock fault). Signed requests are
    checked against it and `/time` reports it, so a client that re-syncs gets past the fault."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset_ms = 0
        self._until = math.inf          # monotonic time the offset ends

    def shift(self, ms: int, seconds: float | None = None) -> None:
        with self._lock:
            self._offset_ms = int(ms)
            self._until = math.inf if seconds is None else time.monotonic() + seconds

    @property
    def offset_ms(self) -> int:
        with self._lock:
            if time.monotonic() >= self._until:
                self._offset_ms, self._until = 0, math.inf
            return self._offset_ms

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.offset_ms


@dataclass
class Intercept:
    """An answer given instead of the endpoint's."""
    status: int
    body: bytes
    content_type: str = "application/json;charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)


def _json(status: int, payload: dict, headers: dict[str, str] | None = None) -> Intercept:
    return Intercept(status, json.dumps(payload, separators=(",", ":")).encode(), headers=headers or {})


class HttpFaults:
    def __init__(self, counts: FaultCounts, seed: int = 0) -> None:
        self.counts = counts
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._errors: deque[tuple[int, bool]] = deque()     # (status, html)
        self._error_rate = 0.0
        self._slow: deque[tuple[float, str | None]] = deque()  # (seconds, path or None = any)
        self._slow_rate, self._slow_seconds = 0.0, 0.0
        self._limit_until = 0.0          # monotonic end of the current rate-limit window
        self._warned: set[str] = set()   # IPs answered 429 in the current window
        self._banned: dict[str, float] = {}   # IP -> monotonic end of its ban

    # -- scripting ---------------------------------------------------------------------------
    def errors_next(self, n: int, status: int = 503, html: bool = True) -> None:
        if not 500 <= status <= 599:
            raise ValueError(f"status must be a 5xx, not {status}")
        with self._lock:
            self._errors.extend([(status, html)] * n)

    def error_rate(self, p: float) -> None:
        with self._lock:
            self._error_rate = _probability(p, "http5xx")

    def slow_next(self, n: int, seconds: float, path: str | None = None) -> None:
        with self._lock:
            self._slow.extend([(seconds, path)] * n)

    def slow_rate(self, p: float, seconds: float) -> None:
        with self._lock:
            self._slow_rate, self._slow_seconds = _probability(p, "slow"), seconds

    def rate_limit(self, seconds: float) -> None:
        """For `seconds`, every request gets 429 + Retry-After; an IP that asks again before the
        Retry-After it was given is banned: 418 + Retry-After for twice the window."""
        with self._lock:
            self._limit_until = time.monotonic() + seconds
            self._warned.clear()
        self.counts.add("ratelimit")     # the window is the injection; its 429s are its effect

    # -- used by the REST server ---------------------------------------------------------------
    def intercept(self, path: str, ip: str) -> Intercept | None:
        """The fault answer for this request, or None to serve it (maybe after a delay)."""
        if path.startswith("/sim/"):        # the harness must always find the exchange
            return None
        now = time.monotonic()
        delay, answer = 0.0, None
        with self._lock:
            answer = self._limited(path, ip, now)
            if answer is None and (self._errors or (self._error_rate and self._rng.random() < self._error_rate)):
                if self._errors:
                    status, html = self._errors.popleft()
                else:
                    status = self._rng.choice((500, 502, 503, 504))
                    html = status in (502, 504)         # a gateway answers with its own page
                answer = self._server_error(status, html)
                self.counts.add("http5xx")
            elif answer is None:
                delay = self._take_delay(path)
        if delay > 0:
            self.counts.add("slow")
            time.sleep(delay)
        return answer

    def rate_limited(self, path: str, ip: str) -> Intercept | None:
        """Only the rate-limit window and bans (the WebSocket API's share of this fault)."""
        with self._lock:
            return self._limited(path, ip, time.monotonic())

    def _limited(self, path: str, ip: str, now: float) -> Intercept | None:
        # spot (api.binance.com) and COIN-M (dapi.binance.com) are separate systems with their own
        # limits: one venue's 429 says nothing about the other, even from the same IP
        ip = f"{ip} {'dapi' if path.startswith(('/dapi', '/ws-dapi')) else 'api'}"
        ban = self._banned.get(ip, 0.0)
        if ban > now:
            return self._ban_answer(ban - now)
        if now >= self._limit_until:
            return None
        if ip in self._warned:      # ignored the Retry-After: banned
            ban_end = now + 2 * max(1.0, self._limit_until - now)
            self._banned[ip] = ban_end
            self.counts.add("ban")
            return self._ban_answer(ban_end - now)
        self._warned.add(ip)
        retry = max(1, math.ceil(self._limit_until - now))
        return _json(429, {"code": -1003, "msg": (
            "Too much request weight used; current limit is 6000 request weight per "
            "1 MINUTE. Please use WebSocket Streams for live updates to avoid polling "
            "the API.")}, {"Retry-After": str(retry)})

    def _take_delay(self, path: str) -> float:
        for i, (seconds, wanted) in enumerate(self._slow):
            if wanted in (None, path):
                del self._slow[i]
                return seconds
        if self._slow_rate and self._rng.random() < self._slow_rate:
            return self._slow_seconds
        return 0.0

    @staticmethod
    def _ban_answer(remaining: float) -> Intercept:
        until_ms = time.time_ns() // 1_000_000 + int(remaining * 1000)
        return _json(418, {"code": -1003, "msg": (
            f"Way too much request weight used; IP banned until {until_ms}. Please use WebSocket "
            "Streams for live updates to avoid bans.")}, {"Retry-After": str(max(1, math.ceil(remaining)))})

    @staticmethod
    def _server_error(status: int, html: bool) -> Intercept:
        if html:
            page = HTML_5XX.format(status=status, reason=_REASONS.get(status, "Server Error"))
            return Intercept(status, page.encode(), "text/html")
        return _json(status, INTERNAL_ERROR)


class StreamFaults:
    """Stream messages replaced by something a client must survive (what replaces them is in
    `mangle`)."""

    def __init__(self, counts: FaultCounts, seed: int = 0) -> None:
        self.counts = counts
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._next: dict[str, deque[str]] = {}
        self._rate = 0.0

    def malformed_next(self, symbol: str, kind: str, n: int = 1) -> None:
        if kind not in MALFORMED_KINDS:
            raise ValueError(f"malformed kind must be one of {MALFORMED_KINDS}, not {kind!r}")
        with self._lock:
            self._next.setdefault(symbol, deque()).extend([kind] * n)

    def malformed_rate(self, p: float) -> None:
        with self._lock:
            self._rate = _probability(p, "malformed")

    def take(self, symbol: str) -> str | None:
        """The malformation for this event of `symbol` (counted), or None to send it as it is."""
        with self._lock:
            queue = self._next.get(symbol)
            if queue:
                kind: str | None = queue.popleft()
            elif self._rate and self._rng.random() < self._rate:
                kind = self._rng.choice(MALFORMED_KINDS)
            else:
                kind = None
        if kind is not None:
            self.counts.add("malformed")
        return kind


def mangle(kind: str, payload: dict, stream: str | None) -> str:
    """The text sent instead of `payload` (wrapped as `stream` when the client is combined):
    truncated JSON, an HTML error page, the payload without its sequence/price field, or the
    payload with an extra field (still valid: a client must accept it)."""
    if kind == "html":
        return HTML_5XX.format(status=502, reason=_REASONS[502])
    body = dict(payload)
    if kind == "missing":
        for key in ("u", "p", "b", "E"):
            if key in body:
                del body[key]
                break
    elif kind == "extra":
        body["zUnexpected"] = {"note": "a field no client knows"}
    raw = json.dumps(body, separators=(",", ":"))
    text = raw if stream is None else f'{{"stream":"{stream}","data":{raw}}}'
    if kind == "truncated":
        return text[: max(1, len(text) // 2)]
    return text


def _probability(p: float, name: str) -> float:
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} rate must be a probability within [0, 1], not {p}")
    return p
