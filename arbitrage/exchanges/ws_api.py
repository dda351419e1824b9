"""One persistent, signed Binance WebSocket API connection (binance-ws-api.md §1–§3).

Opened at start and kept warm: a reader thread receives every frame (websocket-client answers the
server's pings with a pong echoing the payload), hands answers to the waiting caller by request
id and anything else (spot user-data events) to `on_event`, and reconnects with capped,
fully jittered exponential backoff after a loss.

`call` builds, signs and writes the request on the caller's own thread (no hand-off on the send
path) and waits for the answer with a timeout. A request that was written but never answered
(timeout, disconnect) is `UnknownOutcome`: the caller resolves it by client order id and never
re-sends. A request that could not be written (not connected) is `NotConnected` (a `Retryable`).
`send` + `wait` split the same call in two, so one thread can write two requests back to back.

What it shares with the REST client of the same product (`http`): the server-time offset and
recvWindow, and the 429/418 Retry-After window (one IP, one ban). -1021/-4188 re-syncs the clock
through `http` and sends the request once more, as REST does: refused before execution.
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import websocket
from websocket import ABNF

from arbitrage.exchanges.binance_rest import TYPED_REJECTIONS
from arbitrage.exchanges.errors import (
    BadResponse, BinanceError, ClockSkew, IpBanned, RateLimited, Rejected, Retryable,
    UnknownOutcome,
)
from arbitrage.exchanges.http import BinanceHttp
from arbitrage.exchanges.net_errors import network_cause
from arbitrage.exchanges.ws import backoff_delay

log = logging.getLogger(__name__)

_CLOCK_CODES = (-1021, -4188)
_UNKNOWN_CODES = (-1007,)
_RETRYABLE_CODES = (-1001, -1008)
_DEFAULT_RETRY_AFTER = {429: 10.0, 418: 120.0}
_STABLE_AFTER_S = 30.0     # a connection that lived this long resets the reconnect backoff


def ws_signature(secret: str, params: dict[str, Any]) -> str:
    """§3.1: every param but `signature`, sorted by name, `name=value` joined by `&`, raw values
    (no percent-encoding), HMAC-SHA256 lowercase hex."""
    payload = "&".join(f"{k}={_text(v)}" for k, v in sorted(params.items()))
    return hmac.new(secret.encode(), payload.encode("utf-8"), hashlib.sha256).hexdigest()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def answer_error(answer: dict[str, Any], method: str, now: float) -> BinanceError:
    """The error envelope (§2.2, §2.3) as the same exception REST raises for that status/code."""
    status = answer.get("status") if isinstance(answer.get("status"), int) else None
    error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
    code = error.get("code") if isinstance(error.get("code"), int) else None
    msg = str(error.get("msg", ""))
    where: dict[str, Any] = dict(status=status, code=code, method="WS", path=method)
    if status in (418, 429):
        data = error.get("data") if isinstance(error.get("data"), dict) else {}
        retry_at = data.get("retryAfter")
        retry_after = (max(0.0, retry_at / 1000 - now) if isinstance(retry_at, int)
                       else _DEFAULT_RETRY_AFTER[status])
        cls = IpBanned if status == 418 else RateLimited
        return cls(msg or f"rate limited for {retry_after:g}s", retry_after=retry_after, **where)
    if code in _CLOCK_CODES:
        return ClockSkew(msg, **where)
    if code in _UNKNOWN_CODES or (status is not None and status >= 500):
        return UnknownOutcome(msg or "server error", **where)     # §1.3: 5xx = outcome unknown
    if code in _RETRYABLE_CODES:
        return Retryable(msg, **where)
    if code is not None:
        return TYPED_REJECTIONS.get(code, Rejected)(msg, **where)
    return BadResponse(f"error answer without a code: {json.dumps(answer)[:120]!r}", **where)


class NotConnected(Retryable):
    """Not written: the connection is down. Safe to send the same request another way (REST)."""


class _Pending:
    __slots__ = ("done", "answer", "method", "req_id", "sent_ns", "notify", "text")

    def __init__(self, method: str = "", req_id: int = 0) -> None:
        self.done = threading.Event()
        self.answer: dict[str, Any] | None = None
        self.method, self.req_id = method, req_id
        self.sent_ns = 0                       # when it was handed to the socket
        self.notify: Callable[[], None] | None = None   # also told when it is done
        self.text = ""                         # the request frame, built and signed

    def finish(self, answer: dict[str, Any] | None) -> None:
        self.answer = answer
        self.done.set()
        if self.notify is not None:
            self.notify()


class WsApiConnection:
    """A WebSocket API connection for one product (`.../ws-api/v3` or `.../ws-dapi/v1`)."""

    def __init__(self, url: str, http: BinanceHttp, api_key: str, api_secret: str,
                 time_path: str, timeout: float = 10.0, idle_timeout: float = 90.0,
                 backoff_initial: float = 0.2, backoff_max: float = 10.0,
                 on_event: Callable[[dict[str, Any], int], None] | None = None,
                 on_open: Callable[[], None] | None = None,
                 on_close: Callable[[str], None] | None = None,
                 rng: random.Random | None = None) -> None:
        self.url = url
        self.http = http
        self._api_key, self._api_secret = api_key, api_secret
        self._time_path = time_path
        self.timeout = timeout                 # per call: written -> answered
        self.idle_timeout = idle_timeout       # no frame at all (server pings included): dead
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.on_event, self.on_open, self.on_close = on_event, on_open, on_close
        self._rng = rng or random.Random()
        self._where = urlsplit(url).netloc + urlsplit(url).path
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()          # guards _ws and _pending
        self._ws: websocket.WebSocket | None = None
        self._up = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connects = 0
        self.last_send_ns = 0                  # when the last request left call() for the socket

    def __repr__(self) -> str:   # keys stay out of reprs
        return f"WsApiConnection({self._where!r})"

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self, wait: float | None = 10.0) -> "WsApiConnection":
        """Open the connection (in the reader thread); wait up to `wait` s for it to be up."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"wsapi-{self._where}",
                                            daemon=True)
            self._thread.start()
        if wait:
            self._up.wait(wait)
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._drop_socket()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def reconnect(self) -> None:
        """Drop the socket now; the reader reconnects (e.g. after `serverShutdown`)."""
        self._drop_socket()

    # --- requests -----------------------------------------------------------------------------
    def call(self, method: str, params: dict[str, Any] | None = None, signed: bool = True,
             key_only: bool = False, timeout: float | None = None) -> Any:
        """Send one request and return its `result`, or raise a BinanceError subclass.
        A ClockSkew re-syncs the shared clock and sends the same request once more."""
        try:
            return self._call_once(method, params, signed, key_only, timeout)
        except ClockSkew as skew:
            if not signed:
                raise
            before = self.http.offset_ms
            try:
                self.http.sync_time(self._time_path)
            except BinanceError as exc:
                log.warning("[CLOCK] re-sync after %s on WS %s failed: %s", skew.code, method, exc)
                raise skew from None
            self.http.clock_resyncs += 1
            log.warning("[CLOCK] offset re-synced: %d ms (was %d ms) after %s on WS %s",
                        self.http.offset_ms, before, skew.code, method)
            return self._call_once(method, params, signed, key_only, timeout)

    def _call_once(self, method: str, params: dict[str, Any] | None, signed: bool,
                   key_only: bool, timeout: float | None) -> Any:
        return self.wait(self.send(method, params, signed, key_only), timeout)

    def send(self, method: str, params: dict[str, Any] | None = None, signed: bool = True,
             key_only: bool = False) -> _Pending:
        """Build, sign and write one request on this thread; `wait` for its answer later (so two
        orders can leave back to back from one thread). NotConnected: not written."""
        return self.write(self.prepare(method, params, signed, key_only))

    def prepare(self, method: str, params: dict[str, Any] | None = None, signed: bool = True,
                key_only: bool = False) -> _Pending:
        """Build and sign a request (nothing written yet): two orders prepared first are then
        written back to back, with no signing between them."""
        self.http.check_not_blocked("WS", method)
        params = dict(params or {})
        if signed or key_only:
            if not self._api_key or (signed and not self._api_secret):
                raise ValueError(f"WS {method} needs an API key{' and secret' if signed else ''}")
            params["apiKey"] = self._api_key
        if signed:
            params["timestamp"] = self.http.now_ms()
            params["recvWindow"] = self.http.recv_window
            params["signature"] = ws_signature(self._api_secret, params)
        req_id = next(self._ids)
        pending = _Pending(method, req_id)
        pending.text = json.dumps({"id": req_id, "method": method, "params": params},
                                  separators=(",", ":"))
        return pending

    def write(self, pending: _Pending) -> _Pending:
        """Write a prepared request on this thread. NotConnected: not written; UnknownOutcome:
        the write failed part-way (it may have reached the server)."""
        with self._lock:
            ws = self._ws
            if ws is None or not self._up.is_set():
                raise NotConnected(f"not sent: {self._where} not connected", method="WS",
                                   path=pending.method)
            self._pending[pending.req_id] = pending
        try:
            self.last_send_ns = pending.sent_ns = time.time_ns()
            ws.send(pending.text)             # on this thread; websocket-client locks the frame
        except Exception as exc:
            # a partial write may have reached the server: the outcome is open
            with self._lock:
                self._pending.pop(pending.req_id, None)
            raise UnknownOutcome(f"send failed: {network_cause(exc)}", method="WS",
                                 path=pending.method) from None
        return pending

    def wait(self, pending: _Pending, timeout: float | None = None) -> Any:
        """The `result` of a request `send` wrote, or the BinanceError its answer means;
        UnknownOutcome when no answer comes within `timeout` or the connection is lost."""
        method = pending.method
        if not pending.done.wait(self.timeout if timeout is None else timeout):
            with self._lock:
                self._pending.pop(pending.req_id, None)
            raise UnknownOutcome(f"no answer within {self.timeout if timeout is None else timeout:g}s",
                                 method="WS", path=method)
        answer = pending.answer
        if answer is None:
            raise UnknownOutcome(f"connection lost before the answer ({self._where})",
                                 method="WS", path=method)
        if answer.get("status") == 200 and "result" in answer:
            return answer["result"]
        exc = answer_error(answer, method, self.http._clock())
        if isinstance(exc, RateLimited):
            self.http.hold_off(exc.retry_after, banned=isinstance(exc, IpBanned))
            log.warning("[BAN] WS %s status %s: no request for %.1fs", method, exc.status,
                        exc.retry_after)
        raise exc

    # --- reader thread ------------------------------------------------------------------------
    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            ws = self._connect()
            if ws is not None:
                began = time.monotonic()
                reason = self._read(ws)
                self._lost(reason)
                if time.monotonic() - began >= _STABLE_AFTER_S:
                    attempt = 0      # a connection cut at once keeps backing off (300 per 5 min)
            if self._stop.is_set():
                break
            self._stop.wait(backoff_delay(attempt, self.backoff_initial, self.backoff_max,
                                          self._rng))
            attempt += 1

    def _connect(self) -> websocket.WebSocket | None:
        try:
            ws = websocket.create_connection(self.url, timeout=self.timeout,
                                             enable_multithread=True)
        except Exception as exc:
            log.warning("[WSAPI] %s connect failed: %s", self._where, network_cause(exc))
            return None
        with self._lock:
            if self._stop.is_set():
                ws.close()
                return None
            self._ws = ws
        self.connects += 1
        self._up.set()
        log.info("[WSAPI] %s connected", self._where)
        if self.on_open is not None:
            # on its own thread: it may call() and wait for an answer this thread must read
            threading.Thread(target=self._safe, args=(self.on_open,), daemon=True).start()
        return ws

    def _read(self, ws: websocket.WebSocket) -> str:
        ws.settimeout(self.idle_timeout)
        while not self._stop.is_set():
            try:
                opcode, data = ws.recv_data(control_frame=True)   # pings answered inside
            except websocket.WebSocketTimeoutException:
                return f"no frame for {self.idle_timeout:g}s"
            except (websocket.WebSocketException, OSError) as exc:
                return "stopped" if self._stop.is_set() else f"lost ({type(exc).__name__})"
            recv_ns = time.time_ns()
            if opcode == ABNF.OPCODE_CLOSE:
                return "closed by the server"
            if opcode in (ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY):
                self._dispatch(data, recv_ns)
        return "stopped"

    def _dispatch(self, data: bytes | str, recv_ns: int) -> None:
        try:
            msg = json.loads(data)
        except ValueError:
            log.warning("[WSAPI] %s unreadable frame: %r", self._where, data[:120])
            return
        if not isinstance(msg, dict):
            return
        if "status" in msg and "id" in msg:
            with self._lock:
                pending = self._pending.pop(msg["id"], None)
            if pending is not None:
                pending.finish(msg)
            elif msg.get("id") is None and msg.get("status") == 401:
                log.error("[WSAPI] %s session revoked: %s", self._where, msg.get("error"))
            return
        event = msg.get("event")
        if isinstance(event, dict) and event.get("e") == "serverShutdown":
            log.info("[WSAPI] %s announces a shutdown: reconnecting", self._where)
            self._drop_socket()
            return
        if self.on_event is not None:
            try:
                self.on_event(msg, recv_ns)
            except Exception:
                log.exception("[WSAPI] %s on_event failed on %r", self._where, str(msg)[:120])

    def _lost(self, reason: str) -> None:
        with self._lock:
            self._up.clear()
            ws, self._ws = self._ws, None
            pending, self._pending = self._pending, {}
        for waiter in pending.values():       # answer None: written, never answered -> unknown
            waiter.finish(None)
        if ws is not None:
            try:
                ws.shutdown()
            except Exception:
                pass
        if not self._stop.is_set():
            log.info("[WSAPI] %s disconnected: %s (%d request(s) left unknown)", self._where,
                     reason, len(pending))
        if self.on_close is not None:
            self._safe(lambda: self.on_close(reason))

    def _drop_socket(self) -> None:
        with self._lock:
            ws = self._ws
        if ws is not None and ws.sock is not None:
            try:
                ws.sock.shutdown(2)
            except OSError:
                pass

    @staticmethod
    def _safe(fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            log.exception("[WSAPI] connection callback failed")
