"""`python -m app.rank`: every COIN-M perpetual with a USDT spot market, ranked by the net APR of a
spot/perp funding carry (definitions: arbitrage/carry/ranking.py).

Venue settings are the bot's (VENUE, SIM_URL, SIM_SEED, SIM_FUNDING_REGIME, SIM_FUNDING_INTERVAL,
the four API keys; flags or environment or .env): without keys the local exchange is started in
this process with every listed coin; SIM_URL ranks a running one (`python -m arbitrage.sim`);
testnet/live need no keys (market data) nor CONFIRM_LIVE (nothing is traded). Fees are the
account's own (the demo keys on the local exchange, the configured keys elsewhere), else
Binance's standard taker rates.

Exit codes: 0 ok, 1 the venue could not be read, 2 bad settings.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from decimal import Decimal, InvalidOperation
from typing import Sequence

import requests

from arbitrage.carry.ranking import WINDOW_MS, Candidate, Ranked, pairs, rank
from arbitrage.config import Settings, SettingsError, load_settings
from arbitrage.exchanges.binance_coinm import CoinmClient
from arbitrage.exchanges.binance_spot import SpotClient
from arbitrage.exchanges.errors import BinanceError
from arbitrage.exchanges.http import BinanceHttp
from arbitrage.logs import setup_logging
from arbitrage.models import Level
from arbitrage.venues import VenueUrls, urls_for

log = logging.getLogger("app.rank")

EXIT_OK, EXIT_ERROR, EXIT_SETTINGS = 0, 1, 2
DEPTH_LIMIT = 100          # levels per side: spot weight 5, COIN-M weight 5


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args, rest = _args(argv)
    problems = _check(args)
    try:
        settings = load_settings(rest, os.environ, trading=False)     # reads, never trades
    except SettingsError as exc:
        problems += exc.problems
        settings = None
    if problems or settings is None:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_SETTINGS
    setup_logging(settings.log_level, settings.secret_values)
    sim = None
    try:
        urls, keys, sim = _open_venue(settings)
        rows = scan(urls, keys, args.notional, args.within_bps, args.hold_days, settings)
    except (BinanceError, requests.RequestException, OSError, ValueError) as exc:
        print(f"error: cannot read {settings.venue}: {type(exc).__name__}: {exc}"[:300], file=sys.stderr)
        return EXIT_ERROR
    finally:
        if sim is not None:
            sim.stop()
    try:
        if args.json:
            print(json.dumps([_json_row(r) for r in rows], indent=2))
        else:
            print(table(rows, args.notional, args.within_bps, args.hold_days))
    except BrokenPipeError:         # `| head`: the reader has what it wanted
        sys.stderr.close()
    return EXIT_OK


def _args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    ap = argparse.ArgumentParser(
        prog="python -m app.rank", allow_abbrev=False,
        description="Rank every COIN-M perpetual with a USDT spot market by the net APR of a funding "
                    "carry. Other flags (--venue, --sim-url, --sim-seed, --sim-funding-regime, ...) "
                    "are the bot's; see python -m app.main --help.")
    ap.add_argument("--notional", default="10000", metavar="USD", help="carry size in USD (default 10000)")
    ap.add_argument("--within-bps", default="5", metavar="BPS",
                    help="band around each mid for the depth column (default 5)")
    ap.add_argument("--hold-days", default="30", metavar="DAYS",
                    help="how long the carry is held: one round trip of fees over it (default 30)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    return ap.parse_known_args(argv)


def _check(args: argparse.Namespace) -> list[str]:
    problems = []
    for name in ("notional", "within_bps", "hold_days"):
        raw = getattr(args, name)
        try:
            value = Decimal(raw)
            if not value.is_finite() or value <= 0:
                raise InvalidOperation
        except InvalidOperation:
            problems.append(f"--{name.replace('_', '-')}: {raw!r} is not allowed (expected a number > 0)")
            continue
        setattr(args, name, value)
    return problems


def _open_venue(settings: Settings):
    """(urls, keys or None, local exchange started here or None)."""
    if settings.venue != "sim":
        keys = (settings.spot_key, settings.spot_secret, settings.dapi_key, settings.dapi_secret)
        return urls_for(settings.venue), keys if all(keys) else None, None
    if settings.sim_url:
        info = requests.get(settings.sim_url.rstrip("/") + "/sim/info", timeout=5).json()
        demo = (info["api_key"], info["api_secret"]) * 2
        return VenueUrls(info["rest"], info["ws"], info["rest"], info["ws"]), demo, None
    from arbitrage.sim import LocalExchange
    from arbitrage.sim.symbols import ALL_SYMBOLS

    sim = LocalExchange(seed=settings.sim_seed, symbols=ALL_SYMBOLS,
                        funding_interval_sec=float(settings.sim_funding_interval),
                        funding_regime=settings.sim_funding_regime).start()
    demo = (sim.api_key, sim.api_secret) * 2
    return VenueUrls(sim.rest_url, sim.ws_url, sim.rest_url, sim.ws_url), demo, sim


def scan(urls: VenueUrls, keys: tuple[str, str, str, str] | None, notional: Decimal,
         within_bps: Decimal, hold_days: Decimal, settings: Settings) -> list[Ranked]:
    """Read everything the ranking needs from the venue, then rank (the only I/O of this tool)."""
    timeout = float(settings.http_timeout)
    spot_key, spot_secret, dapi_key, dapi_secret = keys or ("", "", "", "")
    spot = SpotClient(BinanceHttp(urls.spot_rest, spot_key, spot_secret,
                                  recv_window=settings.recv_window, timeout=timeout))
    coinm = CoinmClient(BinanceHttp(urls.coinm_rest, dapi_key, dapi_secret,
                                    recv_window=settings.recv_window, timeout=timeout))
    spot_rules = {r.symbol: r.status for r in spot.all_rules()}
    perp_rules = {r.symbol: r for r in coinm.perpetual_rules()}
    listed = pairs(spot_rules, {s: r.status for s, r in perp_rules.items()})
    predicted = {m.symbol: m.funding_rate for m in coinm.premium_index_all()}
    if keys is not None:
        coinm.sync_time()
        spot.sync_time()
        account = spot.account()
        spot_taker = account.taker_rate
    now_ms = coinm.server_time()
    candidates = []
    for base, spot_symbol, perp_symbol in listed:
        fees = {}
        if keys is not None:
            fees = dict(spot_taker=spot_taker, coinm_taker=coinm.commission_rate(perp_symbol)[1])
        history = coinm.funding_history(perp_symbol, start_ms=now_ms - WINDOW_MS - 1, limit=1000)
        spot_book = spot.depth(spot_symbol, DEPTH_LIMIT)
        perp_book = coinm.depth(perp_symbol, DEPTH_LIMIT)
        rate = predicted.get(perp_symbol)
        candidates.append(Candidate(
            base, spot_symbol, perp_symbol, perp_rules[perp_symbol].contract_size,
            None if rate is None else Decimal(str(rate)), history,
            _levels(spot_book.bids), _levels(spot_book.asks),
            _levels(perp_book.bids), _levels(perp_book.asks), **fees))
    return rank(candidates, now_ms, notional, within_bps, hold_days)


def _levels(levels: Sequence[Level]) -> list[tuple[Decimal, Decimal]]:
    # the clients parse wire strings into floats; str() gives back the short wire form exactly
    return [(Decimal(str(p)), Decimal(str(q))) for p, q in levels]


# -- output ----------------------------------------------------------------------------------------
def _pct(value: Decimal | None, places: str = "0.0001") -> str:
    return "-" if value is None else f"{(value * 100).quantize(Decimal(places)):f}"


def table(rows: list[Ranked], notional: Decimal, within_bps: Decimal, hold_days: Decimal) -> str:
    head = (f"{'perpetual':<13} {'last %':>9} {'next %':>9} {'3d cum %':>9} {'n':>3} "
            f"{'APR %':>7} {'APR cmp %':>9} {'basis bp':>8} {'depth USD':>10} {'net APR %':>9}  carry")
    lines = [f"funding carry, {notional:f} USD, depth within {within_bps:f} bps, held {hold_days:f} days "
             f"(APR = Binance's |3d|/3*365/2; net APR = |3d|/3*365 - round-trip fees)", head]
    for r in rows:
        basis = "-" if r.basis_bps is None else f"{r.basis_bps.quantize(Decimal('0.1')):f}"
        lines.append(
            f"{r.perp_symbol:<13} {_pct(r.last_rate):>9} {_pct(r.predicted_rate):>9} {_pct(r.cum_3d):>9} "
            f"{r.settlements_3d:>3} {_pct(r.apr, '0.01'):>7} {_pct(r.apr_compounded, '0.01'):>9} "
            f"{basis:>8} {r.depth_usd.quantize(Decimal(1)):>10f} {_pct(r.net_apr, '0.01'):>9}  {r.side}")
    if not rows:
        lines.append("(no COIN-M perpetual with a trading USDT spot market)")
    return "\n".join(lines)


def _s(value: Decimal | None) -> str | None:
    """Exact for wire values; computed ratios cut to 10 decimals (far below any fee)."""
    if value is None:
        return None
    if value.as_tuple().exponent < -10:
        value = value.quantize(Decimal("1e-10"))
    return format(value, "f")


def _json_row(r: Ranked) -> dict:
    return {"base": r.base, "spot": r.spot_symbol, "perpetual": r.perp_symbol,
            "last_rate": _s(r.last_rate), "predicted_rate": _s(r.predicted_rate),
            "settlements_3d": r.settlements_3d, "cum_3d": _s(r.cum_3d), "apr": _s(r.apr),
            "apr_compounded": _s(r.apr_compounded), "basis_bps": _s(r.basis_bps),
            "depth_usd": _s(r.depth_usd), "round_trip_fee": _s(r.round_trip_fee),
            "net_apr": _s(r.net_apr), "side": r.side}


if __name__ == "__main__":
    sys.exit(main())
