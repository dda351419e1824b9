"""StreamRunner against a real local `websockets` server on loopback."""
from __future__ import annotations

import asyncio
import logging
import random
import socket
import threading
import time
from collections.abc import Awaitable, Callable

import pytest
from websockets.asyncio.server import ServerConnection, serve

from arbitrage.exchanges.ws import StreamRunner, backoff_delay

DEADLINE = 10.0   # generous: the machine may be loaded; nothing here measures speed


def wait_until(predicate: Callable[[], bool], timeout: float = DEADLINE) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


class LocalServer:
    """A websockets server running its own event loop in a background thread."""

    def __init__(self, handler: Callable[[ServerConnection], Awaitable[None]], **options) -> None:
        self.connections = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def counted(conn: ServerConnection) -> None:
            self.connections += 1
            await handler(conn)

        async def start():
            return await serve(counted, "127.0.0.1", 0, **options)
        self.server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(DEADLINE)
        self.port = self.server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/stream?streams=btcusdt@depth@100ms"

    def close(self) -> None:
        async def shutdown() -> None:
            self.server.close()
            await self.server.wait_closed()
        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(DEADLINE)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(DEADLINE)
        self.loop.close()


class Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple[str, int]] = []
        self.statuses: list[tuple[bool, str]] = []

    def on_message(self, text: str, recv_ns: int) -> None:
        self.messages.append((text, recv_ns))

    def on_status(self, up: bool, reason: str) -> None:
        self.statuses.append((up, reason))

    @property
    def texts(self) -> list[str]:
        return [text for text, _ in self.messages]


@pytest.fixture
def cleanup():
    things: list = []
    yield things
    for thing in reversed(things):
        if isinstance(thing, StreamRunner):
            thing.stop(timeout=DEADLINE)
        else:
            thing.close()


def make_runner(cleanup, url: str, rec: Recorder, **options) -> StreamRunner:
    options = {"silence_timeout": None, "backoff_initial": 0.01, "backoff_max": 0.05,
               "connect_timeout": DEADLINE, **options}
    runner = StreamRunner("spot", url, rec.on_message, rec.on_status, **options)
    cleanup.append(runner)
    runner.start()
    return runner


def make_server(cleanup, handler, **options) -> LocalServer:
    server = LocalServer(handler, **options)
    cleanup.append(server)
    return server


async def hold_open(conn: ServerConnection) -> None:
    await conn.wait_closed()


def test_messages_are_delivered_in_order_with_receive_time(cleanup) -> None:
    async def handler(conn: ServerConnection) -> None:
        for i in range(3):
            await conn.send(f'{{"n":{i}}}')
        await conn.wait_closed()
    server = make_server(cleanup, handler)
    rec = Recorder()
    before = time.time_ns()
    runner = make_runner(cleanup, server.url, rec)
    assert wait_until(lambda: len(rec.messages) == 3)
    after = time.time_ns()
    assert rec.texts == ['{"n":0}', '{"n":1}', '{"n":2}']
    stamps = [ns for _, ns in rec.messages]
    assert before <= stamps[0] <= stamps[1] <= stamps[2] <= after
    assert rec.statuses == [(True, "connected")]
    assert runner.connected and runner.messages == 3 and runner.reconnects == 0


def test_reconnects_after_the_server_closes(cleanup) -> None:
    async def handler(conn: ServerConnection) -> None:
        if server.connections == 1:
            await conn.send("first")
            await conn.close()                     # like Binance's 24 h cut
        else:
            await conn.send("second")
            await conn.wait_closed()
    server = make_server(cleanup, handler)
    rec = Recorder()
    runner = make_runner(cleanup, server.url, rec)
    assert wait_until(lambda: rec.texts == ["first", "second"])
    assert [up for up, _ in rec.statuses] == [True, False, True]
    assert rec.statuses[1][1] == "closed by server"
    assert runner.reconnects == 1 and runner.connected


def test_pings_are_answered_with_the_same_payload_and_keep_the_connection(cleanup) -> None:
    results: list[str] = []

    async def handler(conn: ServerConnection) -> None:
        for i in range(10):
            # the waiter resolves only when a pong carrying this very payload comes back
            waiter = await conn.ping(f"echo-me-{i}".encode())
            await asyncio.wait_for(waiter, DEADLINE)
            results.append(f"pong {i}")
        await conn.send("still here")
        await conn.wait_closed()
    # keepalive pings too; a connection that stopped answering would be closed by the server
    server = make_server(cleanup, handler, ping_interval=0.05, ping_timeout=DEADLINE)
    rec = Recorder()
    runner = make_runner(cleanup, server.url, rec)
    assert wait_until(lambda: rec.texts == ["still here"])
    assert results == [f"pong {i}" for i in range(10)]
    assert rec.statuses == [(True, "connected")]
    assert server.connections == 1 and runner.reconnects == 0


def test_silence_is_a_dead_connection_even_with_pings(cleanup) -> None:
    async def handler(conn: ServerConnection) -> None:
        await conn.send("hello")
        await conn.wait_closed()                   # then only keepalive pings, no data
    server = make_server(cleanup, handler, ping_interval=0.05, ping_timeout=DEADLINE)
    rec = Recorder()
    runner = make_runner(cleanup, server.url, rec, silence_timeout=0.5)
    assert wait_until(lambda: server.connections >= 2 and rec.texts[:2] == ["hello", "hello"])
    assert rec.statuses[:3] == [(True, "connected"), (False, "no data for 0.5s"),
                                (True, "connected")]
    assert runner.reconnects >= 1


def test_a_failing_callback_does_not_kill_the_runner(cleanup, caplog) -> None:
    async def handler(conn: ServerConnection) -> None:
        for text in ("boom", "ok-1", "ok-2"):
            await conn.send(text)
        await conn.wait_closed()
    server = make_server(cleanup, handler)
    seen: list[str] = []

    def on_message(text: str, recv_ns: int) -> None:
        seen.append(text)
        if text == "boom":
            raise ValueError("parser choked")
    runner = StreamRunner("spot", server.url, on_message, lambda up, why: None, silence_timeout=None)
    cleanup.append(runner)
    runner.start()
    assert wait_until(lambda: seen == ["boom", "ok-1", "ok-2"])
    assert runner.callback_errors == 1 and runner.connected and runner.reconnects == 0
    assert "parser choked" in caplog.text


def test_stop_unblocks_a_waiting_recv_and_ends_the_thread(cleanup) -> None:
    server = make_server(cleanup, hold_open)
    rec = Recorder()
    runner = make_runner(cleanup, server.url, rec)     # no watchdog: recv blocks indefinitely
    assert wait_until(lambda: runner.connected)
    thread = runner._thread
    runner.stop(timeout=DEADLINE)
    assert not thread.is_alive()
    assert not runner.connected
    assert rec.statuses == [(True, "connected"), (False, "stopped")]
    assert server.connections == 1


def test_stop_interrupts_the_backoff_wait() -> None:
    with socket.socket() as s:                          # nobody listens: every connect fails
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rec, rng = Recorder(), MaxRng()
    runner = StreamRunner("coinm", f"ws://127.0.0.1:{port}/ws/x", rec.on_message, rec.on_status,
                          backoff_initial=1000.0, backoff_max=1000.0, rng=rng)
    runner.start()
    assert wait_until(lambda: rng.calls >= 1)
    runner.stop(timeout=DEADLINE)                       # the runner is inside a 1000 s wait
    assert not runner._thread.is_alive()
    assert rec.statuses == []                           # never connected, never "lost"


class MaxRng(random.Random):
    """Always picks the top of the jitter range and remembers the ranges asked for."""

    def __init__(self) -> None:
        super().__init__(0)
        self.calls = 0
        self.caps: list[float] = []

    def uniform(self, a: float, b: float) -> float:
        self.calls += 1
        self.caps.append(b)
        return b


def test_backoff_is_capped_exponential_with_full_jitter() -> None:
    rng = random.Random(7)
    for attempt in range(12):
        delay = backoff_delay(attempt, 0.5, 30.0, rng)
        assert 0.0 <= delay <= min(30.0, 0.5 * 2 ** attempt)
    top = MaxRng()
    assert [backoff_delay(a, 0.5, 30.0, top) for a in range(8)] == [
        0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff_delay(10_000, 0.5, 30.0, top) == 30.0


@pytest.mark.parametrize("stable_after, grows", [(3600.0, True), (0.0, False)])
def test_backoff_grows_on_flapping_and_resets_after_a_stable_connection(
        cleanup, stable_after: float, grows: bool) -> None:
    async def slam(conn: ServerConnection) -> None:
        await conn.close()
    server = make_server(cleanup, slam)
    rng = MaxRng()
    make_runner(cleanup, server.url, Recorder(), backoff_initial=0.001, backoff_max=1.0,
                stable_after=stable_after, rng=rng)
    assert wait_until(lambda: len(rng.caps) >= 4)
    caps = rng.caps[:4]
    assert caps == ([0.001, 0.002, 0.004, 0.008] if grows else [0.001] * 4)


def test_logs_name_and_host_but_never_the_path(cleanup, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="arbitrage")

    async def handler(conn: ServerConnection) -> None:
        await conn.close()
    server = make_server(cleanup, handler)
    secret_url = f"ws://127.0.0.1:{server.port}/ws/pqia91ma19a5s61cv6a81va65sdf19v8a65a1"
    rec = Recorder()
    runner = StreamRunner("user", secret_url, rec.on_message, rec.on_status,
                          backoff_initial=0.01, backoff_max=0.02)
    cleanup.append(runner)
    runner.start()
    assert wait_until(lambda: len(rec.statuses) >= 2)
    runner.stop(timeout=DEADLINE)
    assert f"user@127.0.0.1:{server.port}" in caplog.text
    assert "pqia91ma" not in caplog.text and "pqia91ma" not in repr(runner)
