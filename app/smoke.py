"""`python -m app.smoke`: the connector smoke test, an operator tool (seed 003).

With the configured keys (testnet, or live with the explicit CONFIRM_LIVE opt-in) or on the local
exchange (`--venue sim`, the default without keys; in-process unless `--sim-url`): clock, key
permissions, COIN-M position mode, balances, the pair's filters, WebSocket API and user streams
reachable; then on each product one post-only order of the minimum size far below the bid, placed
over the WebSocket API, seen NEW on the user stream, cancelled, seen CANCELED. Whatever fails,
every order it placed is cancelled over REST by client order id and checked with openOrders.

Prints one row per check (name, ok/FAIL, detail, ms). Exit codes: 0 every check ok, 1 a check
failed (or the venue could not be set up), 2 bad settings. Keys are never printed.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from contextlib import ExitStack

import requests

from app.settings_cli import settings_or_problems
from app.smoke_checks import Events, Lanes, Row, run_checks
from arbitrage.config import Settings
from arbitrage.exchanges.binance_coinm import CoinmClient
from arbitrage.exchanges.binance_spot import SpotClient
from arbitrage.exchanges.errors import BinanceError
from arbitrage.exchanges.http import BinanceHttp
from arbitrage.exchanges.user_streams import CoinmUserStream, SpotUserStream
from arbitrage.exchanges.ws_api import WsApiConnection
from arbitrage.exchanges import ws_api_coinm, ws_api_spot
from arbitrage.logs import setup_logging
from arbitrage.venues import urls_for, ws_api_urls_for

log = logging.getLogger("app.smoke")

EXIT_OK, EXIT_FAILED, EXIT_SETTINGS = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    settings = settings_or_problems(argv, os.environ)
    if settings is None:
        return EXIT_SETTINGS
    quiet = "WARNING" if settings.log_level == "INFO" else settings.log_level   # the table is the output
    setup_logging(quiet, settings.secret_values)
    with ExitStack() as stack:
        try:
            lanes = _open(settings, stack)
        except (BinanceError, requests.RequestException, OSError, KeyError) as exc:
            print(f"error: cannot set up {settings.venue}: {type(exc).__name__}: {exc}"[:300],
                  file=sys.stderr)
            return EXIT_FAILED
        rows = run_checks(lanes, tag=str(int(time.time() * 1000)))
    print(table(settings.venue, rows))
    return EXIT_OK if all(r.ok for r in rows) else EXIT_FAILED


def _open(settings: Settings, stack: ExitStack) -> Lanes:
    """Clients of both products; everything opened is closed by `stack` (last first)."""
    keys = (settings.spot_key, settings.spot_secret, settings.dapi_key, settings.dapi_secret)
    if settings.venue != "sim":
        urls = urls_for(settings.venue)
        rest, ws = (urls.spot_rest, urls.coinm_rest), (urls.spot_ws, urls.coinm_ws)
        ws_api = ws_api_urls_for(settings.venue)
    else:
        if settings.sim_url:
            info = requests.get(settings.sim_url.rstrip("/") + "/sim/info", timeout=5).json()
        else:
            from arbitrage.sim import LocalExchange
            sim = LocalExchange(seed=settings.sim_seed, **({"faults": settings.sim_faults}
                                                           if settings.sim_faults else {}))
            sim.start()
            stack.callback(sim.stop)
            info = sim.info()
        keys = (info["api_key"], info["api_secret"]) * 2
        setup_logging(logging.getLevelName(logging.getLogger().level), keys)
        rest, ws, ws_api = (info["rest"],) * 2, (info["ws"],) * 2, (info["ws_api"], info["ws_dapi"])
    timeout = float(settings.http_timeout)
    spot_http = BinanceHttp(rest[0], keys[0], keys[1], settings.recv_window, timeout)
    coinm_http = BinanceHttp(rest[1], keys[2], keys[3], settings.recv_window, timeout)
    events = Events()
    spot_ws = ws_api_spot.SpotWsApi(WsApiConnection(ws_api[0], spot_http, keys[0], keys[1],
                                                    ws_api_spot.TIME_PATH, timeout=timeout))
    coinm_ws = ws_api_coinm.CoinmWsApi(WsApiConnection(ws_api[1], coinm_http, keys[2], keys[3],
                                                       ws_api_coinm.TIME_PATH, timeout=timeout))
    spot_user = SpotUserStream(spot_ws, events.put)
    coinm_user = CoinmUserStream(coinm_http, ws[1], events.put)
    for conn in (spot_ws.conn, coinm_ws.conn):
        stack.callback(conn.stop)
        conn.start()
    try:
        coinm_user.start()
        stack.callback(coinm_user.stop)
    except BinanceError as exc:      # reported by the "user streams reachable" check
        log.warning("COIN-M listenKey: %s", exc)
    return Lanes(SpotClient(spot_http), CoinmClient(coinm_http), spot_ws, coinm_ws, spot_user,
                 coinm_user, events, settings.spot_symbol, settings.coinm_symbol)


def table(venue: str, rows: list[Row]) -> str:
    width = max(len(r.name) for r in rows)
    lines = [f"connector smoke test on {venue}",
             f"{'check':<{width}}  {'result':<6}  {'ms':>7}  detail"]
    lines += [f"{r.name:<{width}}  {'ok' if r.ok else 'FAIL':<6}  {r.ms:>7.1f}  {r.detail}"
              for r in rows]
    failed = sum(not r.ok for r in rows)
    lines.append(f"{len(rows) - failed}/{len(rows)} ok" + (f", {failed} FAILED" if failed else ""))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
