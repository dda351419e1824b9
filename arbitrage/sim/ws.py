"""WebSocket market streams of the local exchange (reference §1.2, §5, §6.2, §11).

`/ws/<stream>` sends raw payloads, `/stream?streams=a/b` the combined envelope
`{"stream":..,"data":..}`; SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_PROPERTY /
GET_PROPERTY work on both. The asyncio server runs in its own thread; the market thread hands
events over with `call_soon_threadsafe`, which keeps their order.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from arbitrage.sim.market import DEPTH, MARK, TICKER, TRADE
from arbitrage.sim.wire_faults import StreamFaults, mangle

if TYPE_CHECKING:
    from arbitrage.sim.ws_api import WsApi

log = logging.getLogger("arbitrage.sim.ws")

# The stream names that carry each channel; every depth speed gets every diff we make.
_SUFFIXES = {
    DEPTH: ("@depth", "@depth@100ms", "@depth@0ms", "@depth@250ms", "@depth@500ms"),
    MARK: ("@markPrice", "@markPrice@1s"),
    TICKER: ("@bookTicker",),
    TRADE: ("@trade",),
}
_SLOW_CLIENT_BYTES = 32 * 1024 * 1024   # unsent data beyond this: the client cannot keep up


class _Client:
    def __init__(self, ws: ServerConnection, combined: bool) -> None:
        self.ws = ws
        self.combined = combined
        self.streams: list[str] = []


class StreamHub:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, ping_interval: float = 20.0,
                 ping_timeout: float = 60.0, faults: StreamFaults | None = None,
                 ws_apis: "dict[str, tuple[WsApi, float, float]] | None" = None,
                 tick: Callable[[], None] | None = None) -> None:
        """`ws_apis`: path -> (WebSocket API, its ping interval, its pong deadline);
        `tick`: called on the server's loop about every 0.1 s (listenKey expiry)."""
        self.host, self.port = host, port
        self.faults = faults
        self.ws_apis = ws_apis or {}
        self.tick = tick
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self._subs: dict[str, set[_Client]] = {}
        self._clients: set[_Client] = set()
        self._names: dict[tuple[str, str], tuple[str, ...]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._closing: set[asyncio.Task] = set()     # strong refs: the loop only keeps weak ones
        self.connections_total = 0
        self.messages_sent = 0
        # told the upper-case symbol of every stream subscribed to (the market warms its book)
        self.on_subscribe: Callable[[str], None] = lambda symbol: None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def connections(self) -> int:
        return len(self._clients)

    # -- lifecycle (called from other threads) ------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sim-ws", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and self._stopping is not None:
            try:
                loop.call_soon_threadsafe(self._stopping.set)
            except RuntimeError:    # loop already closed
                pass
        if thread is not None:
            thread.join()
        self._thread = None

    def on_event(self, symbol: str, channel: str, payload: dict) -> None:
        """Market listener; runs on the market thread, must not block."""
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._fanout, symbol, channel, payload)
        except RuntimeError:        # stopping: nobody to send to
            pass

    def disconnect_all(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._close_all)

    def publish(self, name: str, payload: dict) -> None:
        """Send `payload` to the subscribers of stream `name` (a listenKey); thread-safe, in order."""
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._send_stream, name, json.dumps(payload, separators=(",", ":")))
        except RuntimeError:        # stopping
            pass

    def close_stream(self, name: str) -> int:
        """Close every connection subscribed to stream `name` (thread-safe); how many."""
        clients = list(self._subs.get(name, ()))
        if clients and self._loop is not None:
            self._loop.call_soon_threadsafe(self._close, clients, "user stream dropped by the local exchange")
        return len(clients)

    # -- the event loop thread ---------------------------------------------------------------
    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:   # reported to start(); never printed as a traceback
            if not self._ready.is_set():
                self._error = exc
                self._ready.set()
            else:
                log.exception("WebSocket server stopped on an error")

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        server: Server = await serve(self._handle, self.host, self.port,
                                     process_request=self._check_path,
                                     ping_interval=self.ping_interval, ping_timeout=self.ping_timeout)
        self.port = server.sockets[0].getsockname()[1]
        self._loop = asyncio.get_running_loop()
        self._ready.set()
        ticker = asyncio.ensure_future(self._ticking()) if self.tick is not None else None
        await self._stopping.wait()
        if ticker is not None:
            ticker.cancel()
        self._loop = None
        server.close(close_connections=True)
        await server.wait_closed()

    async def _ticking(self) -> None:
        while True:
            await asyncio.sleep(0.1)
            try:
                self.tick()             # type: ignore[misc]
            except Exception:
                log.exception("stream hub tick failed")

    def _check_path(self, conn: ServerConnection, request: Any) -> Any:
        path = urlsplit(request.path).path
        if path in self.ws_apis:        # its own ping rhythm, set before keepalive starts
            _, conn.ping_interval, conn.ping_timeout = self.ws_apis[path]
            return None
        if path in ("/ws", "/stream") or path.startswith("/ws/"):
            return None
        return conn.respond(HTTPStatus.NOT_FOUND, "Not found: use /ws/<stream> or /stream?streams=\n")

    async def _handle(self, ws: ServerConnection) -> None:
        parts = urlsplit(ws.request.path)
        if parts.path in self.ws_apis:
            self.connections_total += 1
            await self.ws_apis[parts.path][0].serve(ws)
            return
        if parts.path == "/stream":
            client = _Client(ws, combined=True)
            names = "/".join(parse_qs(parts.query).get("streams", [])).split("/")
        else:
            client = _Client(ws, combined=False)
            names = parts.path[len("/ws/"):].split("/")
        self._clients.add(client)
        self.connections_total += 1
        self._subscribe(client, [n for n in names if n])
        log.debug("client %s connected: %s", ws.remote_address, client.streams)
        try:
            async for message in ws:
                reply = self._control(client, message)
                if reply is not None:
                    await ws.send(json.dumps(reply, separators=(",", ":")))
        except ConnectionClosed:
            pass
        finally:
            self._unsubscribe(client, list(client.streams))
            self._clients.discard(client)

    def _close_all(self) -> None:
        log.info("[FAULT] closing %d WebSocket connection(s)", len(self._clients))
        self._close(list(self._clients), "disconnected by the local exchange")

    def _close(self, clients: list[_Client], reason: str) -> None:
        for client in clients:
            task = asyncio.ensure_future(client.ws.close(1001, reason))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def _send_stream(self, name: str, raw: str) -> None:
        subs = self._subs.get(name)
        if not subs:
            return
        plain = [c.ws for c in subs if not c.combined]
        wrapped = [c.ws for c in subs if c.combined]
        if plain:
            broadcast(plain, raw)
        if wrapped:
            broadcast(wrapped, f'{{"stream":"{name}","data":{raw}}}')
        self.messages_sent += len(subs)

    # -- subscriptions and control messages ----------------------------------------------------
    def _subscribe(self, client: _Client, names: list[str]) -> None:
        for name in names:
            if name not in client.streams:
                client.streams.append(name)
                self._subs.setdefault(name, set()).add(client)
                self.on_subscribe(name.split("@")[0].upper())

    def _unsubscribe(self, client: _Client, names: list[str]) -> None:
        for name in names:
            if name in client.streams:
                client.streams.remove(name)
            subs = self._subs.get(name)
            if subs is not None:
                subs.discard(client)
                if not subs:
                    del self._subs[name]

    def _control(self, client: _Client, message: str | bytes) -> dict | None:
        try:
            msg = json.loads(message)
        except (ValueError, UnicodeDecodeError) as exc:
            where = (f" at line {exc.lineno} column {exc.colno}"
                     if isinstance(exc, json.JSONDecodeError) else "")
            text = exc.msg if isinstance(exc, json.JSONDecodeError) else "invalid UTF-8"
            return {"code": 3, "msg": f"Invalid JSON: {text[:1].lower()}{text[1:]}{where}"}
        if not isinstance(msg, dict):
            return {"code": 2, "msg": "Invalid request: expected an object"}
        req_id = msg.get("id")
        if not (req_id is None or (isinstance(req_id, int) and not isinstance(req_id, bool))
                or (isinstance(req_id, str) and len(req_id) <= 36)):
            return {"code": 2, "msg": "Invalid request: request ID must be an integer, a string or null"}
        method, params = msg.get("method"), msg.get("params", [])
        if method is None:
            return {"code": 2, "msg": "Invalid request: missing field `method`", "id": req_id}
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                return {"code": 2, "msg": "Invalid request: `params` must be a list of stream names",
                        "id": req_id}
            (self._subscribe if method == "SUBSCRIBE" else self._unsubscribe)(client, params)
            return {"result": None, "id": req_id}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": list(client.streams), "id": req_id}
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            if not isinstance(params, list) or not params or params[0] != "combined":
                return {"code": 0, "msg": "Unknown property", "id": req_id}
            if method == "GET_PROPERTY":
                return {"result": client.combined, "id": req_id}
            if len(params) != 2 or not isinstance(params[1], bool):
                return {"code": 1, "msg": "Invalid value type: expected Boolean", "id": req_id}
            client.combined = params[1]
            return {"result": None, "id": req_id}
        return {"code": 2, "msg": f"Invalid request: unknown method `{method}`", "id": req_id}

    # -- fan-out -------------------------------------------------------------------------------
    def _fanout(self, symbol: str, channel: str, payload: dict) -> None:
        names = self._names.get((symbol, channel))
        if names is None:
            names = tuple(symbol.lower() + suffix for suffix in _SUFFIXES.get(channel, ()))
            self._names[(symbol, channel)] = names
        if not any(self._subs.get(name) for name in names):
            return
        # a malformed event replaces the real one for every subscriber (what is lost is lost)
        bad = self.faults.take(symbol) if self.faults is not None else None
        raw: str | None = None
        for name in names:
            subs = self._subs.get(name)
            if not subs:
                continue
            if raw is None:
                raw = json.dumps(payload, separators=(",", ":")) if bad is None else mangle(bad, payload, None)
            plain = [c.ws for c in subs if not c.combined]
            wrapped = [c.ws for c in subs if c.combined]
            if plain:
                broadcast(plain, raw)
            if wrapped:
                broadcast(wrapped, f'{{"stream":"{name}","data":{raw}}}' if bad is None
                          else mangle(bad, payload, name))
            self.messages_sent += len(subs)
            for client in subs:
                if client.ws.transport.get_write_buffer_size() > _SLOW_CLIENT_BYTES:
                    log.warning("client %s cannot keep up; disconnecting it", client.ws.remote_address)
                    client.ws.transport.abort()
