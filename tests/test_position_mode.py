"""COIN-M position mode, GET /dapi/v1/positionSide/dual (binance-reference §9): the REST client
with Binance's payload, and the local exchange serving it (one-way only)."""
from __future__ import annotations

import pytest
import responses

from arbitrage.exchanges.binance_coinm import CoinmClient
from arbitrage.exchanges.errors import BadResponse
from arbitrage.exchanges.http import BinanceHttp
from arbitrage.sim import LocalExchange
from tests.ws_api_client import rest

BASE = "https://dapi.test"


@pytest.mark.parametrize("dual", [True, False])
def test_dual_side_position_reads_binances_payload(dual):
    with responses.RequestsMock() as rsps:
        rsps.get(f"{BASE}/dapi/v1/positionSide/dual", json={"dualSidePosition": dual})
        assert CoinmClient(BinanceHttp(BASE, "key", "secret")).dual_side_position() is dual
        assert "signature=" in rsps.calls[0].request.url


def test_a_string_flag_is_a_bad_response():
    with responses.RequestsMock() as rsps:
        rsps.get(f"{BASE}/dapi/v1/positionSide/dual", json={"dualSidePosition": "false"})
        with pytest.raises(BadResponse):
            CoinmClient(BinanceHttp(BASE, "key", "secret")).dual_side_position()


def test_the_local_exchange_serves_one_way_mode_signed():
    with LocalExchange(seed=5, speed=0.001) as ex:
        answer = rest(ex.rest_url, ex.api_key, ex.api_secret, "GET", "/dapi/v1/positionSide/dual")
        assert (answer.status_code, answer.json()) == (200, {"dualSidePosition": False})
        unsigned = rest(ex.rest_url, ex.api_key, ex.api_secret, "GET", "/dapi/v1/positionSide/dual",
                        signed=False)
        assert unsigned.status_code == 400
