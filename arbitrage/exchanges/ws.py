"""A WebSocket connection kept alive in its own thread: receive, timestamp, hand over, reconnect.

The runner does not parse: each text message goes to `on_message(text, recv_ns)` with the local
receive time taken right after the frame was read. Losing the connection is normal (Binance cuts
every connection at 24 h, reference §11); every loss is reported through `on_status(False, reason)`
so the books on it resync, and the runner reconnects with capped exponential backoff, full jitter.

Pings are answered by websocket-client inside `recv_data()` with a pong echoing the ping's payload
(Binance spot requires the echo). A stream that delivers no data for `silence_timeout` seconds is
treated as dead: pings alone do not count, a market-data stream that only pings is useless.
"""
from __future__ import annotations

import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import websocket
from websocket import ABNF

from arbitrage.exchanges.net_errors import network_cause

log = logging.getLogger(__name__)

_DATA_OPCODES = (ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY)
_CALLBACK_LOG_EVERY = 1000   # after the first failure, log one callback error in this many


def backoff_delay(attempt: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Full jitter: uniform in [0, min(maximum, initial * 2**attempt)]."""
    return rng.uniform(0.0, min(maximum, initial * 2 ** min(attempt, 62)))


class StreamRunner:
    """One WebSocket connection in a daemon thread, reconnecting until `stop()`."""

    def __init__(self, name: str, url: str, on_message: Callable[[str, int], None],
                 on_status: Callable[[bool, str], None], silence_timeout: float | None = 10.0,
                 backoff_initial: float = 0.5, backoff_max: float = 30.0,
                 rng: random.Random | None = None, connect_timeout: float = 10.0,
                 stable_after: float = 60.0) -> None:
        self.name = name
        self._url = url
        # Only name and host are ever logged: a user-data URL carries the listenKey.
        self._where = f"{name}@{urlsplit(url).netloc}"
        self._on_message = on_message
        self._on_status = on_status
        self.silence_timeout = silence_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.connect_timeout = connect_timeout
        self.stable_after = stable_after   # a connection this old resets the backoff
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._lock = threading.Lock()      # guards _ws against stop() racing a fresh connect
        self._ws: websocket.WebSocket | None = None
        self._thread: threading.Thread | None = None
        self._connected = False
        self.messages = 0                  # text messages handed to on_message
        self.reconnects = 0                # connections established after the first one
        self.callback_errors = 0

    def __repr__(self) -> str:
        return f"StreamRunner({self._where})"

    @property
    def connected(self) -> bool:
        return self._connected

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"ws-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        """Close the socket from this thread (that unblocks recv) and wait for the runner."""
        with self._lock:
            self._stop.set()
            ws = self._ws
        if ws is not None:
            _abort(ws)
        if self._thread is not None:
            self._thread.join(timeout)

    # --- runner thread ------------------------------------------------------------------------

    def _run(self) -> None:
        attempt = 0
        established = 0
        while not self._stop.is_set():
            ws = self._connect()
            if ws is not None:
                established += 1
                if established > 1:
                    self.reconnects += 1
                began = time.monotonic()
                reason = self._session(ws)
                _close(ws, goodbye=not self._stop.is_set())   # stop() already said goodbye
                with self._lock:
                    self._ws = None
                self._connected = False
                log.info("[WS] %s disconnected: %s", self._where, reason)
                self._status(False, reason)
                if time.monotonic() - began >= self.stable_after:
                    attempt = 0
            if self._stop.is_set():
                break
            delay = backoff_delay(attempt, self.backoff_initial, self.backoff_max, self._rng)
            attempt += 1
            self._stop.wait(delay)

    def _connect(self) -> websocket.WebSocket | None:
        try:
            ws = websocket.create_connection(self._url, timeout=self.connect_timeout,
                                             skip_utf8_validation=True)   # decoded below
        except Exception as exc:   # refused, DNS, handshake status...: all mean "try later"
            log.warning("[WS] %s connect failed: %s", self._where, network_cause(exc))
            return None
        with self._lock:
            if self._stop.is_set():
                _close(ws)
                return None
            self._ws = ws
        self._connected = True
        log.info("[WS] %s connected", self._where)
        self._status(True, "connected")
        return ws

    def _session(self, ws: websocket.WebSocket) -> str:
        """Read until the connection is lost; return why."""
        deadline = time.monotonic() + (self.silence_timeout or 0)
        while not self._stop.is_set():
            if self.silence_timeout:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return f"no data for {self.silence_timeout:g}s"
                ws.settimeout(remaining)
            else:
                ws.settimeout(None)
            try:
                opcode, data = ws.recv_data(control_frame=True)
            except websocket.WebSocketTimeoutException:
                continue   # the deadline check above decides
            except (websocket.WebSocketException, OSError) as exc:
                if self._stop.is_set():
                    return "stopped"
                return f"connection lost ({type(exc).__name__})"
            recv_ns = time.time_ns()
            if opcode == ABNF.OPCODE_CLOSE:
                return "stopped" if self._stop.is_set() else "closed by server"
            if opcode not in _DATA_OPCODES:
                continue   # ping (already answered) or pong
            if self.silence_timeout:
                deadline = time.monotonic() + self.silence_timeout
            self._deliver(data, recv_ns)
        return "stopped"

    def _deliver(self, data: bytes | str, recv_ns: int) -> None:
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
        except UnicodeDecodeError:
            log.warning("[WS] %s dropped a non-UTF-8 message: %r", self._where, data[:120])
            return
        self.messages += 1
        try:
            self._on_message(text, recv_ns)
        except Exception:
            self.callback_errors += 1
            if self.callback_errors % _CALLBACK_LOG_EVERY == 1:
                log.exception("[WS] %s on_message failed (%d so far) on %r", self._where,
                              self.callback_errors, text[:120])

    def _status(self, up: bool, reason: str) -> None:
        try:
            self._on_status(up, reason)
        except Exception:
            log.exception("[WS] %s on_status failed", self._where)


def _abort(ws: websocket.WebSocket) -> None:
    """From another thread: say goodbye, then shut the socket so a blocked recv returns now."""
    sock = ws.sock
    try:
        ws.send_close()
    except Exception:
        pass
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _close(ws: websocket.WebSocket, goodbye: bool = True) -> None:
    """Close without waiting for the peer's reply: the peer may be the reason we are leaving."""
    try:
        if goodbye and ws.connected:
            ws.send_close()
    except Exception:
        pass
    try:
        ws.shutdown()
    except Exception:
        pass
