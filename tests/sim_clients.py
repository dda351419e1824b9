"""What the tests that drive the local exchange with third-party clients share: the guard that
keeps every client on loopback, the check that the official SDKs parse every field without a type
warning, the local exchange most WebSocket API / user-stream tests drive with a signed WebSocket API
client on each product, and ways to move and read the synthetic book. Import the fixtures by name
into a test module (pytest finds fixtures in its namespace); a module may define its own `ex` (other
exchange options) and the client fixtures use it."""
from __future__ import annotations

import logging
import socket
from decimal import Decimal

import pytest

from arbitrage.sim import LocalExchange
from tests.ws_api_client import WsApiClient

SPOT, PERP = "BTCUSDT", "BTCUSD_PERP"
D = Decimal
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Refuse every name lookup and connection that is not loopback, and fail the test that tried
    (a library may swallow the error, so the attempts are also checked at the end)."""
    attempts: list[str] = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def refuse(where: str) -> None:
        attempts.append(where)
        raise ConnectionRefusedError(f"test guard: network access off loopback refused ({where})")

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOOPBACK:
            refuse(f"connect {address!r}")
        return real_connect(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        if host not in LOOPBACK and host is not None:
            refuse(f"getaddrinfo {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield
    assert not attempts, f"a client tried to leave loopback: {attempts}"


@pytest.fixture(autouse=True)
def sdk_types_match(caplog):
    """The SDKs do not raise on a field of the wrong type: they log a warning, relax the model for
    the rest of the process and go on (binance_common.utils.send_request). Such a warning fails
    the test that caused it."""
    caplog.set_level(logging.WARNING)
    yield
    mismatches = [r.getMessage() for r in caplog.records
                  if "did not match the declared types" in r.getMessage() or "Failed to parse" in r.getMessage()]
    assert not mismatches, mismatches


@pytest.fixture
def ex():
    """A fresh local exchange whose market barely moves by itself (speed 0.001)."""
    with LocalExchange(seed=5, speed=0.001) as exchange:
        yield exchange


@pytest.fixture
def spot(ex):
    """A signed WebSocket API client on the spot endpoint of `ex`."""
    client = WsApiClient(ex.ws_api_url, ex.api_key, ex.api_secret)
    yield client
    client.close()


@pytest.fixture
def cm(ex):
    """A signed WebSocket API client on the COIN-M endpoint of `ex`."""
    client = WsApiClient(ex.ws_dapi_url, ex.api_key, ex.api_secret)
    yield client
    client.close()


def step(ex: LocalExchange, symbol: str) -> None:
    """One book change through the market's own path: the best ask level goes away."""
    with ex.market.lock:
        best_ask = ex.market.books[symbol].best_ask()
    ex.market.apply_changes(symbol, {}, {best_ask: 0.0}, ex.market.clock_ms())


def best(ex: LocalExchange, symbol: str) -> tuple[D, D, D, D]:
    """(bid, bid qty, ask, ask qty) of the book as wire decimals."""
    with ex.market.lock:
        book = ex.market.books[symbol]
        (bid, bid_qty), (ask, ask_qty) = book.best()
        fp, fq = book.spec.fmt_price, book.spec.fmt_qty
        return D(fp(bid)), D(fq(bid_qty)), D(fp(ask)), D(fq(ask_qty))


def mark(ex: LocalExchange) -> D:
    with ex.market.lock:
        return D(f"{ex.market.marks[PERP].mark:.8f}")
