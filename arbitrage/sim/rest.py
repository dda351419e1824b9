"""HTTP plumbing of the local exchange: routing, Binance error bodies, request weight per IP.

Standard-library `ThreadingHTTPServer`, HTTP/1.1 keep-alive (every response carries Content-Length).
Endpoints are plain functions `(Request) -> JSON-able` registered per (method, path); they raise
`ApiError` for Binance-style errors, or return a `Reply` when they need a status or headers of their
own (order-count headers). Every response carries `X-MBX-USED-WEIGHT-1M`.
"""
from __future__ import annotations

import json
import logging
import math
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from arbitrage.sim.wire_faults import HttpFaults

log = logging.getLogger("arbitrage.sim.rest")

WINDOW_SEC = 60.0


class ApiError(Exception):
    def __init__(self, code: int, msg: str, status: int = 400, headers: dict[str, str] | None = None,
                 data: dict | None = None):
        super().__init__(f"{code} {msg}")
        self.code, self.msg, self.status, self.headers = code, msg, status, headers or {}
        self.data = data        # structured detail (cancel-replace legs), sent as "data"

    def body(self) -> dict:
        out: dict = {"code": self.code, "msg": self.msg}
        if self.data is not None:
            out["data"] = self.data
        return out


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    raw_query: str
    body: bytes
    headers: dict[str, str]
    client_ip: str
    # a WebSocket API request: the key is the `apiKey` param and the signature covers the sorted
    # params (binance-ws-api.md §3.1), not the raw query string
    ws: bool = False

    def require(self, name: str) -> str:
        value = self.params.get(name, "")
        if not value:
            raise ApiError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        return value


@dataclass
class Reply:
    """A handler's answer with its own status and extra headers (e.g. `X-MBX-ORDER-COUNT-1M`)."""
    payload: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Route:
    handler: Callable[[Request], Any]
    weight: Callable[[Request], int] | int = 1


@dataclass
class WeightMeter:
    """Rolling one-minute request weight per client IP (Binance limits weight per IP)."""
    limit: int
    _used: dict[str, deque[tuple[float, int]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # since start, every IP: weight and requests per endpoint ("REST GET /api/v3/account",
    # "WS /ws-api/v3 order.status"); `GET /sim/weight` shows them (the bench's weight per trade)
    spent: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)

    def charge(self, ip: str, weight: int, now: float | None = None,
               what: str | None = None) -> tuple[int, int | None]:
        """(weight used in the window, Retry-After seconds if this request is over the limit).
        `what` names a request (not a 0-weight look at the window) for the running totals."""
        now = time.monotonic() if now is None else now
        with self._lock:
            window = self._used.setdefault(ip, deque())
            while window and window[0][0] <= now - WINDOW_SEC:
                window.popleft()
            used = sum(w for _, w in window)
            if used + weight <= self.limit:
                if weight:
                    window.append((now, weight))
                if what is not None:
                    self.spent[what] += weight
                    self.calls[what] += 1
                return used + weight, None
            # over: the request is refused (and not counted); say when enough weight expires
            freed = 0
            for t, w in window:
                freed += w
                if used - freed + weight <= self.limit:
                    return used, max(1, math.ceil(t + WINDOW_SEC - now))
            return used, math.ceil(WINDOW_SEC)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = False       # stop() joins every handler thread
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: "RestServer") -> None:
        self.app = app
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address):  # type: ignore[override]
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):  # type: ignore[override]
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):  # type: ignore[override]
        # a client vanishing mid-request is normal; never print a traceback for it
        log.debug("connection from %s ended with an error", client_address, exc_info=True)

    def drop_connections(self) -> None:
        """Wake handler threads parked on idle keep-alive connections so they can be joined."""
        with self.sockets_lock:
            for sock in list(self.open_sockets):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120               # idle keep-alive connections are closed after this
    server: _HttpServer

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        log.debug("%s %s", self.address_string(), format % args)

    def _dispatch(self, method: str) -> None:
        app = self.server.app
        app.requests += 1
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        params.update(parse_qsl(parts.query, keep_blank_values=True))   # the query string wins
        req = Request(method, parts.path, params, parts.query, body,
                      {k.lower(): v for k, v in self.headers.items()}, self.client_address[0])
        if app.faults is not None:
            fault = app.faults.intercept(parts.path, req.client_ip)
            if fault is not None:
                self._send_raw(fault.status, fault.body, fault.content_type,
                               app.meter.charge(req.client_ip, 0)[0], fault.headers)
                return
        route = app.routes.get((method, parts.path))
        if route is None:
            self._send(404, {"code": -1000, "msg": f"Unknown endpoint {method} {parts.path}."},
                       app.meter.charge(req.client_ip, 0)[0])
            return
        try:
            weight = route.weight(req) if callable(route.weight) else route.weight
        except Exception:       # a malformed parameter is the handler's error to report
            weight = 1
        used, retry_after = app.meter.charge(req.client_ip, weight, what=f"REST {method} {parts.path}")
        if retry_after is not None:
            log.info("[RATE] %s over the weight limit (%s/%s): 429", req.client_ip, used, app.meter.limit)
            self._send(429, {"code": -1003, "msg": (
                f"Too much request weight used; current limit is {app.meter.limit} request weight "
                "per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.")},
                used, {"Retry-After": str(retry_after)})
            return
        status, extra = 200, {}
        try:
            payload = route.handler(req)
            if isinstance(payload, Reply):
                status, extra, payload = payload.status, payload.headers, payload.payload
        except ApiError as err:
            status, payload, extra = err.status, err.body(), err.headers
        except Exception:
            log.exception("REST %s %s failed", method, parts.path)
            status, payload = 500, {"code": -1000, "msg": "An unknown error occurred while processing the request."}
        self._send(status, payload, used, extra)

    def _send(self, status: int, payload: Any, used: int, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        self._send_raw(status, body, "application/json;charset=UTF-8", used, headers)

    def _send_raw(self, status: int, body: bytes, content_type: str, used: int,
                  headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-MBX-USED-WEIGHT-1M", str(used))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class RestServer:
    def __init__(self, host: str, port: int, routes: dict[tuple[str, str], Route], weight_limit: int,
                 faults: "HttpFaults | None" = None, meter: WeightMeter | None = None):
        self.routes = routes
        self.faults = faults
        self.meter = meter if meter is not None else WeightMeter(weight_limit)   # shared with the WS API
        self.requests = 0
        self._httpd = _HttpServer((host, port), self)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="sim-rest", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.drop_connections()
        self._httpd.server_close()      # joins the handler threads
