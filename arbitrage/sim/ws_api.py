"""The WebSocket API of the local exchange (binance-ws-api.md §1–§3): one request per text frame,
one answer per request in Binance's envelope `{"id","status","result"|"error","rateLimits"}`.

A method is a REST handler's twin: its params become a `Request` (values as text, `ws=True` so the
key and signature come from params) and the same endpoint function runs, with the same validation,
order engine and accounts. Weight is charged to the REST meter of the same IP (one pool, as COIN-M
documents; spot leaves it open). Requests of one connection run concurrently, each in a worker
thread (the order engine blocks on the market lock), and are answered as they finish.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, broadcast
from websockets.exceptions import ConnectionClosed

from arbitrage.sim.channel_faults import ChannelFaults
from arbitrage.sim.rest import ApiError, Reply, Request, WeightMeter
from arbitrage.sim.wire_faults import HttpFaults

log = logging.getLogger("arbitrage.sim.ws_api")

_ID_STRING = re.compile(r"^[A-Za-z0-9-]{1,36}$")     # alphanumeric (UUIDs allowed), ≤ 36
_COUNT_HEADER = re.compile(r"^X-MBX-ORDER-COUNT-(\d+)([SMHD])$")
_INTERVALS = {"S": "SECOND", "M": "MINUTE", "H": "HOUR", "D": "DAY"}


@dataclass
class Method:
    handler: Callable[[Request, "Session"], Any]     # result, a Reply, or raises ApiError
    weight: Callable[[Request], int] | int = 1
    places_order: bool = False       # the answer faults (lost, late) apply


@dataclass(eq=False)        # one per connection, kept in a set by identity
class Session:
    """One WebSocket API connection."""
    ws: ServerConnection
    api: "WsApi"
    connected_ms: int
    return_rate_limits: bool = True
    subscriptions: dict[int, int] = field(default_factory=dict)    # subscriptionId -> sink token
    next_subscription: int = 0

    def send(self, payload: dict) -> None:
        """Thread-safe, in call order (events and answers alike)."""
        text = json.dumps(payload, separators=(",", ":"))
        loop = self.api.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(broadcast, [self.ws], text)


class WsApi:
    """One product's WebSocket API (`/ws-api/v3` spot, `/ws-dapi/v1` COIN-M)."""

    def __init__(self, path: str, market: str, methods: dict[str, Method], meter: WeightMeter,
                 order_limits: dict[str, int], http_faults: HttpFaults | None,
                 faults: ChannelFaults, on_close: Callable[[Session], None] | None = None) -> None:
        self.path, self.market, self.methods = path, market, methods
        self.meter, self.order_limits = meter, order_limits     # "10S" -> limit
        self.http_faults, self.faults = http_faults, faults
        self.on_close = on_close
        self.sessions: set[Session] = set()
        self.loop: asyncio.AbstractEventLoop | None = None       # the stream hub's, set on connect
        self._tasks: set[asyncio.Task] = set()

    async def serve(self, ws: ServerConnection) -> None:
        self.loop = asyncio.get_running_loop()
        query = parse_qs(urlsplit(ws.request.path).query)
        session = Session(ws, self, time.time_ns() // 1_000_000,
                          return_rate_limits=query.get("returnRateLimits", ["true"])[-1].lower() != "false")
        self.sessions.add(session)
        try:
            async for message in ws:
                task = asyncio.ensure_future(self._answer(session, message))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except ConnectionClosed:
            pass
        finally:
            self.sessions.discard(session)
            if self.on_close is not None:
                self.on_close(session)

    def close_subscribed(self) -> int:
        """Fault: drop every connection that carries a user data subscription (thread-safe)."""
        doomed = [s for s in list(self.sessions) if s.subscriptions]
        if doomed and self.loop is not None:
            self.loop.call_soon_threadsafe(self._close, doomed)
        return len(doomed)

    def _close(self, sessions: list[Session]) -> None:
        for session in sessions:
            task = asyncio.ensure_future(session.ws.close(1001, "user stream dropped by the local exchange"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # -- one request -------------------------------------------------------------------------
    async def _answer(self, session: Session, message: str | bytes) -> None:
        reply, method = self._parse(message)
        if reply is not None:
            session.send(reply)
            return
        assert method is not None
        req_id, name, params = method
        answer = await asyncio.to_thread(self.run, session, req_id, name, params)
        if self.methods[name].places_order and answer.get("status") == 200:
            if self.faults.take_lost_answer(self.market):
                log.info("[FAULT] %s %s executed; answer not sent", self.market, name)
                return
            late = self.faults.take_late_answer(self.market)
            if late > 0:
                log.info("[FAULT] %s %s executed; answer %.1f s late", self.market, name, late)
                await asyncio.sleep(late)
        session.send(answer)

    def _parse(self, message: str | bytes) -> tuple[dict | None, tuple | None]:
        try:
            msg = json.loads(message)
        except (ValueError, UnicodeDecodeError):
            return _error(None, 400, -1000, "Malformed request: not a JSON object."), None
        if not isinstance(msg, dict):
            return _error(None, 400, -1000, "Malformed request: not a JSON object."), None
        req_id = msg.get("id")
        if not (req_id is None or (isinstance(req_id, int) and not isinstance(req_id, bool)
                                   and -2**63 <= req_id < 2**63)
                or (isinstance(req_id, str) and _ID_STRING.match(req_id))):
            return _error(None, 400, -1000, "Invalid request: 'id' must be an integer, "
                                            "an alphanumeric string of at most 36 characters, or null."), None
        name, params = msg.get("method"), msg.get("params", {})
        if isinstance(name, str) and "/" in name:      # an explicit version: "v3/order.place"
            version, _, name = name.partition("/")
            if version != self.path.rsplit("/", 1)[-1]:
                name = None
        if not isinstance(name, str) or name not in self.methods:
            return _error(req_id, 400, -1000, f"Unknown method '{msg.get('method')}'."), None
        if not isinstance(params, dict):
            return _error(req_id, 400, -1000, "Invalid request: 'params' must be an object."), None
        return None, (req_id, name, {k: _text(v) for k, v in params.items()})

    def run(self, session: Session, req_id: Any, name: str, params: dict[str, str]) -> dict:
        """Weight, then the endpoint; the envelope with the limits this request touched."""
        ip = session.ws.remote_address[0] if session.ws.remote_address else "127.0.0.1"
        req = Request("WS", self.path, params, "", b"", {}, ip, ws=True)
        rate_limits = params.get("returnRateLimits", "").lower()
        show = session.return_rate_limits if rate_limits not in ("true", "false") else rate_limits == "true"
        method = self.methods[name]
        if self.http_faults is not None:
            limited = self.http_faults.rate_limited(self.path, ip)
            if limited is not None:
                body = json.loads(limited.body)
                retry = int(limited.headers.get("Retry-After", "1"))
                now = time.time_ns() // 1_000_000
                return _error(req_id, limited.status, body["code"], body["msg"],
                              {"serverTime": now, "retryAfter": now + retry * 1000},
                              self._weight_limits(self.meter.charge(ip, 0)[0]) if show else None)
        try:
            weight = method.weight(req) if callable(method.weight) else method.weight
        except Exception:       # a malformed parameter is the handler's error to report
            weight = 1
        used, retry_after = self.meter.charge(ip, weight, what=f"WS {self.path} {name}")
        limits = self._weight_limits(used)
        if retry_after is not None:
            now = time.time_ns() // 1_000_000
            return _error(req_id, 429, -1003, (
                f"Too much request weight used; current limit is {self.meter.limit} request weight "
                "per 1 MINUTE. Please use WebSocket API Streams for live updates to avoid polling the API."),
                {"serverTime": now, "retryAfter": now + retry_after * 1000}, limits if show else None)
        try:
            result = method.handler(req, session)
        except ApiError as err:
            limits = self._order_limits(err.headers) + limits
            return _error(req_id, err.status, err.code, err.msg, err.data, limits if show else None)
        except Exception:
            log.exception("WS API %s failed", name)
            return _error(req_id, 500, -1000, "An unknown error occurred while processing the request.",
                          None, limits if show else None)
        status = 200
        if isinstance(result, Reply):
            limits = self._order_limits(result.headers) + limits
            status, result = result.status, result.payload
        out: dict = {"id": req_id, "status": status, "result": result}
        if show:
            out["rateLimits"] = limits
        return out

    def _weight_limits(self, used: int) -> list[dict]:
        return [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                 "limit": self.meter.limit, "count": used}]

    def _order_limits(self, headers: dict[str, str]) -> list[dict]:
        """The order counts a REST answer gives as headers, as rateLimits entries."""
        out = []
        for name, value in headers.items():
            match = _COUNT_HEADER.match(name)
            if match:
                num, unit = match.groups()
                out.append({"rateLimitType": "ORDERS", "interval": _INTERVALS[unit], "intervalNum": int(num),
                            "limit": self.order_limits.get(num + unit, 0), "count": int(value)})
        return out


def _text(value: Any) -> str:
    """A JSON param as the text it is signed and parsed as (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":"))


def _error(req_id: Any, status: int, code: int, msg: str, data: dict | None = None,
           rate_limits: list[dict] | None = None) -> dict:
    error: dict = {"code": code, "msg": msg}
    if data is not None:
        error["data"] = data
    out: dict = {"id": req_id, "status": status, "error": error}
    if rate_limits is not None:
        out["rateLimits"] = rate_limits
    return out
