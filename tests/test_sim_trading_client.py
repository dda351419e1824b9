"""A tiny signed Binance client for the local-exchange trading tests (no tests in this file).

Written out with `requests` and the project's `sign` so the tests control every byte: where the
parameters go (query or body), the timestamp, the key, the signature.
"""
from __future__ import annotations

import pytest

import time
from decimal import Decimal
from urllib.parse import urlencode

import requests

from arbitrage.exchanges.http import sign
from arbitrage.sim import LocalExchange

TIMEOUT = 20.0
D = Decimal


def frozen_exchange(**kwargs) -> LocalExchange:
    """A local exchange whose synthetic market does not move by itself during a test (one tick
    per 100 s); tests move the book through `market.apply_changes`, the same path the market uses."""
    return LocalExchange(seed=kwargs.pop("seed", 11), speed=0.001, **kwargs)


class Client:
    def __init__(self, ex: LocalExchange, key: str | None = None, secret: str | None = None) -> None:
        self.ex = ex
        self.key = ex.api_key if key is None else key
        self.secret = ex.api_secret if secret is None else secret
        self.session = requests.Session()

    def send(self, method: str, path: str, params: dict | None = None, *, ts_offset_ms: int = 0,
             recv_window: int | str | None = None, in_body: bool | None = None,
             signature: str | None = None, headers: dict | None = None) -> requests.Response:
        pairs = [(k, str(v)) for k, v in (params or {}).items()]
        pairs.append(("timestamp", str(int(time.time() * 1000) + ts_offset_ms)))
        if recv_window is not None:
            pairs.append(("recvWindow", str(recv_window)))
        payload = urlencode(pairs)
        sig = sign(self.secret, payload) if signature is None else signature
        body_params = method == "POST" if in_body is None else in_body
        hdrs = {"X-MBX-APIKEY": self.key} if self.key else {}
        hdrs.update(headers or {})
        url = self.ex.rest_url + path
        if body_params:
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
            return self.session.request(method, url, data=f"{payload}&signature={sig}", headers=hdrs,
                                        timeout=TIMEOUT)
        return self.session.request(method, f"{url}?{payload}&signature={sig}", headers=hdrs,
                                    timeout=TIMEOUT)

    def ok(self, method: str, path: str, **params):
        resp = self.send(method, path, params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def error(self, method: str, path: str, status: int, code: int, msg: str | None = None, **params):
        resp = self.send(method, path, params)
        assert resp.status_code == status, resp.text
        body = resp.json()
        assert body["code"] == code, body
        if msg is not None:
            assert body["msg"] == msg
        return body

    # -- shortcuts -------------------------------------------------------------------------
    def spot_order(self, **params):
        return self.ok("POST", "/api/v3/order", symbol="BTCUSDT", **params)

    def cm_order(self, **params):
        return self.ok("POST", "/dapi/v1/order", symbol="BTCUSD_PERP", **params)

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        rows = self.ok("GET", "/api/v3/account")["balances"]
        return {r["asset"]: (D(r["free"]), D(r["locked"])) for r in rows}

    def position(self, symbol: str = "BTCUSD_PERP") -> dict:
        return next(r for r in self.ok("GET", "/dapi/v1/positionRisk") if r["symbol"] == symbol)

    def btc_asset(self) -> dict:
        return next(a for a in self.ok("GET", "/dapi/v1/account")["assets"] if a["asset"] == "BTC")


def top(ex: LocalExchange, symbol: str) -> tuple[Decimal, Decimal]:
    """(best bid, best ask) as the wire prints them."""
    with ex.market.lock:
        book = ex.market.books[symbol]
        return D(book.spec.fmt_price(book.best_bid())), D(book.spec.fmt_price(book.best_ask()))


def levels(ex: LocalExchange, symbol: str, side: str) -> list[tuple[Decimal, Decimal]]:
    """Asks (ascending) or bids (descending) as wire decimals."""
    with ex.market.lock:
        book = ex.market.books[symbol]
        items = sorted(book.asks.items()) if side == "asks" else sorted(book.bids.items(), key=lambda kv: -kv[0])
        return [(D(book.spec.fmt_price(p)), D(book.spec.fmt_qty(q))) for p, q in items]


def step(ex: LocalExchange, symbol: str, bids: dict | None = None, asks: dict | None = None) -> None:
    """One market step (a book change through the market's own path)."""
    ex.market.apply_changes(symbol, {float(p): float(q) for p, q in (bids or {}).items()},
                            {float(p): float(q) for p, q in (asks or {}).items()},
                            ex.market.clock_ms())


@pytest.fixture
def ex():
    """A frozen local exchange (see frozen_exchange) for one test; import it with `client`."""
    with frozen_exchange() as exchange:
        yield exchange


@pytest.fixture
def client(ex):
    return Client(ex)
