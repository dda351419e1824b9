"""Base URLs per venue (binance-reference.md §1.1): sim, testnet and live differ only in these and the keys.

REST bases carry no path: the clients append `/api/v3/...` (spot) or `/dapi/v1/...` (COIN-M).
WebSocket bases carry no path either: the clients append `/ws/<stream>` or `/stream?streams=...`.
`sim` has no entry: its addresses are known only once the local exchange is listening, so the
caller builds `VenueUrls` from them.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VenueUrls:
    spot_rest: str
    spot_ws: str
    coinm_rest: str
    coinm_ws: str


_KNOWN: dict[str, VenueUrls] = {
    "testnet": VenueUrls(
        spot_rest="https://testnet.binance.vision",
        spot_ws="wss://stream.testnet.binance.vision",
        coinm_rest="https://testnet.binancefuture.com",
        coinm_ws="wss://dstream.binancefuture.com",
    ),
    "live": VenueUrls(
        spot_rest="https://api.binance.com",
        spot_ws="wss://stream.binance.com:9443",
        coinm_rest="https://dapi.binance.com",
        coinm_ws="wss://dstream.binance.com",
    ),
}


def urls_for(venue: str) -> VenueUrls:
    """Fixed URLs of a remote venue; ValueError for `sim` (run-time addresses) or an unknown name."""
    try:
        return _KNOWN[venue]
    except KeyError:
        if venue == "sim":
            raise ValueError("sim URLs are only known at run time: build VenueUrls from the local "
                             "exchange's addresses") from None
        raise ValueError(f"unknown venue {venue!r} (expected one of {', '.join(_KNOWN)})") from None


# WebSocket API endpoints (binance-ws-api.md §1.1): (spot `/ws-api/v3`, COIN-M `/ws-dapi/v1`), full
# URLs. The COIN-M user stream is `coinm_ws + /ws/<listenKey>`.
_WS_API: dict[str, tuple[str, str]] = {
    "testnet": ("wss://ws-api.testnet.binance.vision/ws-api/v3",
                "wss://testnet.binancefuture.com/ws-dapi/v1"),
    "live": ("wss://ws-api.binance.com:443/ws-api/v3", "wss://ws-dapi.binance.com/ws-dapi/v1"),
}


def ws_api_urls_for(venue: str) -> tuple[str, str]:
    """(spot, COIN-M) WebSocket API URLs of a remote venue; ValueError for sim or unknown."""
    urls_for(venue)          # the same errors for sim and unknown names
    return _WS_API[venue]
