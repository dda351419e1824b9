"""Issue 10 item 9: a venue that could not be reached was reported as "not sent
(ConnectionError)", naming neither the host nor the cause. Real sockets on loopback, each failure
made for real (a closed port, a server that does not speak TLS, one that never answers); DNS by a
resolver that fails, so no test needs a network."""
from __future__ import annotations

import socket
import threading

import pytest

from app.main import main
from arbitrage.exchanges.errors import Retryable, UnknownOutcome
from arbitrage.exchanges.http import BinanceHttp
from arbitrage.exchanges.net_errors import DNS, READ_TIMEOUT, REFUSED, TLS, host_of
from tests.test_logs import restore_logging  # noqa: F401  (autouse: logging put back)

KEY, SECRET = "kEy1234567890abcdefghij", "sEcReT1234567890abcdefghij"


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                                   # nothing listens there now: refused
    return port


class Server:
    """Accepts connections on loopback and answers each with `reply` (None: never answers)."""

    def __init__(self, reply: bytes | None) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.reply is not None:
                conn.sendall(self.reply)

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def client(url: str) -> BinanceHttp:
    return BinanceHttp(url, KEY, SECRET, timeout=0.3, sleep=lambda s: None)


def assert_no_secret(text: str) -> None:
    for leak in (KEY, SECRET, "signature", "timestamp", "?", "symbol="):
        assert leak not in text, (leak, text)


def test_refused_names_host_and_cause_and_nothing_of_the_request():
    port = closed_port()
    with pytest.raises(Retryable) as err:
        client(f"http://127.0.0.1:{port}").request("POST", "/api/v3/order",
                                                   {"symbol": "BTCUSDT", "side": "BUY"}, signed=True)
    text = str(err.value)
    assert text == f"POST /api/v3/order: not sent: 127.0.0.1:{port}: {REFUSED}"
    assert_no_secret(text)


def test_dns_failure_names_the_host(monkeypatch):
    def no_such_host(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    with pytest.raises(Retryable) as err:
        client("https://testnet.binance.vision").request("GET", "/api/v3/account", signed=True)
    assert str(err.value) == f"GET /api/v3/account: not sent: testnet.binance.vision: {DNS}"
    assert_no_secret(str(err.value))


def test_a_server_that_does_not_speak_tls_is_a_tls_failure():
    server = Server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    try:
        with pytest.raises(Retryable) as err:
            client(f"https://127.0.0.1:{server.port}").request("GET", "/dapi/v1/time")
    finally:
        server.close()
    text = str(err.value)
    assert text.startswith(f"GET /dapi/v1/time: not sent: 127.0.0.1:{server.port}: {TLS}"), text


def test_a_server_that_never_answers_is_a_read_timeout_and_the_outcome_unknown():
    server = Server(None)
    try:
        with pytest.raises(UnknownOutcome) as err:
            client(f"http://127.0.0.1:{server.port}").request(
                "POST", "/api/v3/order", {"symbol": "BTCUSDT"}, signed=True)
    finally:
        server.close()
    text = str(err.value)
    assert text == f"POST /api/v3/order: no response: 127.0.0.1:{server.port}: {READ_TIMEOUT}"
    assert_no_secret(text)


def test_host_of_keeps_only_host_and_port():
    assert host_of("https://user:pw@dapi.binance.com/dapi/v1/order?signature=abc") == \
        "dapi.binance.com"
    assert host_of("http://127.0.0.1:8080/x?y=1") == "127.0.0.1:8080"


def test_the_program_says_which_host_refused(capsys):
    port = closed_port()
    code = main(["--venue", "sim", "--sim-url", f"http://127.0.0.1:{port}", "--run-seconds", "1"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"unreachable (127.0.0.1:{port}: connection refused); retrying" in err, err
    assert f"after 1 s (127.0.0.1:{port}: connection refused)" in err or \
           f"after 0 s (127.0.0.1:{port}: connection refused)" in err, err
    assert "Max retries" not in err and "/sim/info" not in err


def test_a_stream_that_cannot_connect_says_why(caplog):
    import logging

    from arbitrage.exchanges.ws import StreamRunner
    from tests.conftest import wait_for

    port = closed_port()
    runner = StreamRunner("spot", f"ws://127.0.0.1:{port}/stream?streams=btcusdt@depth",
                          lambda text, ns: None, lambda up, why: None, backoff_initial=0.05)
    with caplog.at_level(logging.WARNING, logger="arbitrage.exchanges.ws"):
        runner.start()
        try:
            wait_for(lambda: "connect failed" in caplog.text, timeout=10, what="a failed connect")
        finally:
            runner.stop()
    assert f"[WS] spot@127.0.0.1:{port} connect failed: {REFUSED}" in caplog.text
