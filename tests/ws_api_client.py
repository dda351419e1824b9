"""A plain WebSocket API / user-stream client for tests (websocket-client), written from
binance-ws-api.md §2–§3 and not from the exchange's code: it signs each request itself (sorted
params, raw values, HMAC-SHA256 hex), keeps answers by id and events in arrival order."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import websocket


def sign(secret: str, params: dict[str, Any]) -> str:
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


class WsApiClient:
    def __init__(self, url: str, api_key: str, api_secret: str, timeout: float = 10.0) -> None:
        self.key, self.secret = api_key, api_secret
        self.ws = websocket.create_connection(url, timeout=timeout)
        self.answers: dict[Any, dict] = {}
        self.events: list[dict] = []

    def close(self) -> None:
        self.ws.close()

    def send(self, method: str, params: dict | None = None, signed: bool = True, req_id: Any = None,
             key_only: bool = False) -> Any:
        params = dict(params or {})
        if signed or key_only:
            params["apiKey"] = self.key
        if signed:
            params.setdefault("timestamp", int(time.time() * 1000))
            params["signature"] = sign(self.secret, params)
        req_id = str(uuid.uuid4()) if req_id is None else req_id
        self.ws.send(json.dumps({"id": req_id, "method": method, "params": params}))
        return req_id

    def call(self, method: str, params: dict | None = None, **kw: Any) -> dict:
        return self.answer(self.send(method, params, **kw))

    def answer(self, req_id: Any, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while req_id not in self.answers:
            if not self.pump(deadline - time.monotonic()):
                raise TimeoutError(f"no answer to {req_id} within {timeout} s")
        return self.answers.pop(req_id)

    def event(self, predicate=lambda e: True, timeout: float = 10.0) -> dict:
        """The first buffered or arriving event (the inner `event` on spot) that matches; consumed."""
        deadline = time.monotonic() + timeout
        while True:
            for i, frame in enumerate(self.events):
                if predicate(frame.get("event", frame)):
                    return self.events.pop(i).get("event", frame)
            if not self.pump(deadline - time.monotonic()):
                raise TimeoutError("no matching event")

    def pump(self, timeout: float) -> bool:
        """Read one frame within `timeout`; False when none came."""
        if timeout <= 0:
            return False
        self.ws.settimeout(timeout)
        try:
            raw = self.ws.recv()
        except websocket.WebSocketTimeoutException:
            return False
        if not raw:                      # websocket-client returns "" for the server's close frame
            self.ws.shutdown()           # and leaves the socket open: the server would wait for it
            raise websocket.WebSocketConnectionClosedException("closed by the server")
        msg = json.loads(raw)
        if "status" in msg and "id" in msg:
            self.answers[msg["id"]] = msg
        else:
            self.events.append(msg)
        return True


class StreamClient:
    """A `/ws/<listenKey>` connection: bare events."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.ws = websocket.create_connection(url, timeout=timeout)

    def next(self, timeout: float = 10.0) -> dict:
        self.ws.settimeout(timeout)
        raw = self.ws.recv()
        if not raw:                      # websocket-client returns "" for the server's close frame
            self.ws.shutdown()           # and leaves the socket open: the server would wait for it
            raise websocket.WebSocketConnectionClosedException("closed by the server")
        return json.loads(raw)

    def until(self, predicate, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            event = self.next(max(0.01, deadline - time.monotonic()))
            if predicate(event):
                return event

    def silent_for(self, seconds: float) -> bool:
        self.ws.settimeout(seconds)
        try:
            self.ws.recv()
        except websocket.WebSocketTimeoutException:
            return True
        return False

    def close(self) -> None:
        self.ws.close()


def rest(base_url: str, api_key: str, api_secret: str, method: str, path: str, signed: bool = True,
         **params: Any):
    """A signed (or key-only) REST call as Binance documents it: query string, HMAC over it."""
    import requests

    if signed:
        params["timestamp"] = int(time.time() * 1000)
    query = "&".join(f"{k}={v}" for k, v in params.items())
    if signed:
        query += "&signature=" + hmac.new(api_secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return requests.request(method, f"{base_url}{path}" + (f"?{query}" if query else ""),
                            headers={"X-MBX-APIKEY": api_key}, timeout=10)
