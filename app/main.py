"""`python -m app.main`: settings -> venue -> clients -> bot loop -> summary -> exit code.

Exit codes (design §13): 0 ok, 1 unexpected error, 2 bad settings (or a symbol the venue does not
list, or a state file / ledger that is unusable or used by another bot), 3 halted, 4 could not
persist (ledger rows or the state left in a fallback file), 5 the ledger does not match the
exchange at the end. When several apply: 4, then 3, then 5. The user never sees a traceback unless
LOG_LEVEL=DEBUG.
"""
from __future__ import annotations

import dataclasses
import logging
from decimal import Decimal
import os
import signal
import sys
import threading
import time

import requests

from arbitrage.config import SPECS, Settings, check_dotenv_permissions
from arbitrage.exchanges.binance_coinm import CoinmClient
from arbitrage.exchanges.binance_spot import SpotClient
from arbitrage.exchanges.errors import BinanceError, UnknownSymbol
from arbitrage.exchanges.http import BinanceHttp
from arbitrage.exchanges.net_errors import describe as describe_network_error
from arbitrage.accounting.bookkeeping import Accounting
from arbitrage.exchanges.errors import OrderNotFound
from arbitrage.accounting.ledger import Balances
from arbitrage.persistence.locks import FileLock, LockError, lock_all
from arbitrage.logs import setup_logging
from arbitrage.models import SPOT, SymbolRules
from arbitrage.persistence.reconcile import ExchangeView, reconcile, reserved_legs
from arbitrage.setting_names import misspelt_settings
from arbitrage.accounting.start_balances import StartNotSettled, pair_executions, start_snapshot
from arbitrage.persistence.state import StateError, StateStore
from arbitrage.accounting.tradelog import TradeLog, TradeLogError
from arbitrage.persistence.unsaved import keep_unsaved
from arbitrage.strategy.entry import FeeRates, enter_below_fees_warning
from arbitrage.strategy.feasibility import Sizing, entry_problems
from arbitrage.strategy.strategies import resume_problem
from arbitrage.venues import VenueUrls, urls_for
from app import recording_end
from app.settings_cli import settings_or_problems
from app.summary import print_summary

log = logging.getLogger("app.main")

EXIT_OK, EXIT_ERROR, EXIT_SETTINGS, EXIT_HALTED, EXIT_UNSAVED, EXIT_MISMATCH = 0, 1, 2, 3, 4, 5
RETRY_MAX_S = 15.0


class StartupError(Exception):
    """A problem that stops the program before it trades, with one clear line (exit 2)."""


def main(argv: list[str] | None = None, on_bot=None) -> int:
    """`on_bot(bot)`: called with the connected bot before it runs (the fleet's status hook)."""
    argv = sys.argv[1:] if argv is None else argv
    settings = settings_or_problems(argv, os.environ)
    if settings is None:
        return EXIT_SETTINGS
    setup_logging(settings.log_level, _secrets(settings))
    for warning in misspelt_settings(os.environ, ".env", (spec.env for spec in SPECS)):
        log.warning("%s", warning)
    if settings.print_config:
        for name, value in settings.masked().items():
            print(f"{name} = {value}")
        return EXIT_OK
    warning = check_dotenv_permissions(".env")
    if warning:
        log.warning("%s", warning)
    try:
        locks = _lock_files(settings)
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SETTINGS
    stop = threading.Event()
    _install_signal_handlers(stop)
    sim = None
    unwatch = None
    run_seconds = float(settings.run_seconds)
    give_up_at = time.monotonic() + run_seconds if run_seconds > 0 else None
    try:
        urls, keys, sim = _open_venue(settings, stop, give_up_at)
        if urls is None:
            return EXIT_OK                       # stopped while waiting for the venue
        unwatch = _watch_recording_end(settings, sim, stop)
        if keys is not None:                     # the local exchange's demo keys
            settings = dataclasses.replace(settings, spot_key=keys[0], spot_secret=keys[1],
                                           dapi_key=keys[0], dapi_secret=keys[1])
            _protect_secrets(settings)
        return _run(settings, urls, stop, give_up_at, fresh_exchange=sim is not None,
                    on_bot=on_bot)
    except StartupError as exc:
        for line in str(exc).splitlines():       # one line per problem
            print(f"error: {line}", file=sys.stderr)
        return EXIT_SETTINGS
    except GaveUp as exc:
        log.error("[NET] %s", exc)
        return EXIT_ERROR
    except Exception as exc:  # the last line of defence: one line, the traceback only at DEBUG
        log.error("unexpected error: %s: %s", type(exc).__name__, exc,
                  exc_info=settings.log_level == "DEBUG")
        return EXIT_ERROR
    finally:
        if unwatch is not None:
            unwatch()
        if sim is not None:
            sim.stop()
        for lock in locks:
            lock.release()


def _run(settings: Settings, urls: VenueUrls, stop: threading.Event,
         give_up_at: float | None, fresh_exchange: bool = False, on_bot=None) -> int:
    bot = connect(settings, urls, stop, give_up_at, fresh_exchange)
    if bot is None:
        return EXIT_OK
    if on_bot is not None:
        on_bot(bot)
    if hasattr(signal, "SIGUSR1"):   # `kill -USR1 <pid>`: check the ledger against the exchange now
        signal.signal(signal.SIGUSR1, lambda signum, frame: bot.invariant_requested.set())
    stats = bot.run(stop, float(settings.run_seconds))
    unsaved = [] if settings.dry_run else keep_unsaved(
        bot.accounting.log if bot.accounting else None, bot.trader, settings.state_path,
        int(time.time() * 1000))
    print_summary(bot, stats, sys.stdout)
    mismatch = bot.last_invariant is not None and not bot.last_invariant.ok
    if mismatch:   # after the summary, on both streams: the last thing a human sees
        banner = ("!!! LEDGER MISMATCH: the ledger does not reproduce the exchange's balances "
                  "(see the invariant lines); do not trust its figures until this is explained "
                  f"(exit code {EXIT_MISMATCH})")
        print(banner)
        log.error("%s", banner)
    for line in unsaved:
        print(f"!!! NOT PERSISTED: {line}")
    if unsaved:
        return EXIT_UNSAVED
    if bot.trader.halt_reason:
        return EXIT_HALTED
    return EXIT_MISMATCH if mismatch else EXIT_OK


def _lock_files(settings: Settings) -> list[FileLock]:
    """The state file and the ledger are this process's alone for its whole life (flock: the
    kernel releases it whatever way the process ends). DRY_RUN writes neither, so locks neither."""
    if settings.dry_run:
        return []
    try:
        os.makedirs(os.path.dirname(os.path.abspath(settings.state_path)), exist_ok=True)
    except OSError as exc:
        raise StartupError(f"STATE_PATH: cannot create the folder of {settings.state_path} "
                           f"({exc.strerror or exc})") from None
    try:
        return lock_all([FileLock("STATE_PATH", settings.state_path),
                         FileLock("TRADES_LOG", settings.trades_log)])
    except LockError as exc:
        raise StartupError(str(exc)) from None


def connect(settings: Settings, urls: VenueUrls, stop: threading.Event,
            give_up_at: float | None = None, fresh_exchange: bool = False,
            clients: tuple[SpotClient, CoinmClient] | None = None, **bot_options):
    """Clients, symbol rules and server time for the venue, then the bot (not yet running).
    None when stopped while the venue was unreachable. `clients` and `bot_options` (clock,
    runners) are the backtest's: the same start-up against an in-process venue."""
    from arbitrage.bot import Bot   # imported late: settings errors must not wait for it

    if clients is None:
        timeout = float(settings.http_timeout)
        spot_http = BinanceHttp(urls.spot_rest, settings.spot_key, settings.spot_secret,
                                recv_window=settings.recv_window, timeout=timeout)
        coinm_http = BinanceHttp(urls.coinm_rest, settings.dapi_key, settings.dapi_secret,
                                 recv_window=settings.recv_window, timeout=timeout)
        clients = SpotClient(spot_http), CoinmClient(coinm_http)
    spot, coinm = clients
    rules = _with_retry(stop, f"{settings.venue} exchangeInfo",
                        lambda: (_rules(spot, settings.spot_symbol, "SPOT_SYMBOL"),
                                 _rules(coinm, settings.coinm_symbol, "COINM_SYMBOL")),
                        give_up_at)
    if rules is None:
        return None
    spot_rules, perp_rules = rules
    if spot_rules.base_asset != perp_rules.base_asset:
        raise StartupError(f"SPOT_SYMBOL {spot_rules.symbol} (base {spot_rules.base_asset}) and "
                           f"COINM_SYMBOL {perp_rules.symbol} (base {perp_rules.base_asset}) "
                           f"do not hedge each other")
    for r in (spot_rules, perp_rules):
        if not r.trading:
            log.warning("%s is not trading on %s (status %s): watching only",
                        r.symbol, settings.venue, r.status)
    for client in (spot, coinm):
        if _with_retry(stop, "server time", client.sync_time, give_up_at) is None:
            return None
    log.info("venue %s: spot %s (tick %s, step %s), COIN-M %s (tick %s, contract %s USD)",
             settings.venue, spot_rules.symbol, spot_rules.tick_size, spot_rules.step_size,
             perp_rules.symbol, perp_rules.tick_size, perp_rules.contract_size)
    fees = _with_retry(stop, "commission rates", lambda: _fees(spot, coinm, perp_rules.symbol),
                       give_up_at)
    if fees is None:
        return None
    log.info("fees: spot maker %s taker %s, COIN-M maker %s taker %s; round trip %.1f bps (%s)",
             fees.spot_maker, fees.spot_taker, fees.coinm_maker, fees.coinm_taker,
             fees.round_trip_bps(settings.execution_mode), settings.execution_mode)
    warning = enter_below_fees_warning(settings.enter_bps, fees.spot_taker, fees.coinm_taker)
    if warning and settings.strategy == "scalp":    # the carry is judged on fees, funding, basis
        log.warning("%s", warning)
    price = _with_retry(stop, "mark price", lambda: coinm.premium_index(perp_rules.symbol).mark,
                        give_up_at)
    if price is None:
        return None
    problems = entry_problems(Sizing.from_settings(settings), spot_rules, perp_rules,
                              Decimal(str(price)))
    if problems:                 # settings under which no entry can ever pass: refused (exit 2)
        raise StartupError("\n".join(problems))
    if settings.dry_run:
        log.info("DRY_RUN: every order is logged and filled on paper from the local books, none "
                 "is sent; no ledger file, no state file")
    start = _with_retry(stop, "accounts", lambda: _starting_point(
        settings, spot, coinm, spot_rules, perp_rules, fresh_exchange), give_up_at)
    if start is None:
        return None
    accounting, store, decision, mark = start
    lanes = None
    if settings.order_transport == "ws" and settings.dry_run:
        log.info("DRY_RUN: ORDER_TRANSPORT=ws has nothing to send; no WebSocket API opened")
    elif settings.order_transport == "ws" and "clock" not in bot_options:
        # (the backtest's in-process venue has REST only: it stays on the REST transport)
        lanes = _with_retry(stop, "WebSocket API and user data streams",
                            lambda: _open_lanes(settings, urls, spot, coinm), give_up_at)
        if lanes is None:
            return None
    bot = Bot(settings, urls, spot, coinm, spot_rules, perp_rules, fees, accounting, store,
              lanes=lanes, **bot_options)
    bot.apply(decision, mark)
    return bot


def _open_lanes(settings: Settings, urls: VenueUrls, spot: SpotClient, coinm: CoinmClient):
    """ORDER_TRANSPORT=ws: both WebSocket API connections and both user streams, opened now."""
    from arbitrage.execution.ws_lanes import WsLanes, ws_api_urls

    lanes = WsLanes(spot, coinm, ws_api_urls(settings.venue, urls), urls.coinm_ws,
                    (settings.spot_key, settings.spot_secret, settings.dapi_key,
                     settings.dapi_secret), float(settings.http_timeout))
    try:
        return lanes.start()
    except BaseException:
        lanes.stop()
        raise


def _starting_point(settings: Settings, spot: SpotClient, coinm: CoinmClient,
                    spot_rules: SymbolRules, perp_rules: SymbolRules, fresh_exchange: bool):
    """Ledger, state file and the exchange's view, reconciled (design §10). The pending orders are
    queried before the position so that the position includes whatever they did."""
    store = None if settings.dry_run else StateStore(
        settings.state_path, spot_symbol=spot_rules.symbol, coinm_symbol=perp_rules.symbol,
        venue=settings.venue)
    snapshot = None
    if store is not None:
        try:
            store.check_writable()
        except StateError as exc:
            raise StartupError(str(exc)) from None
    if store is not None and fresh_exchange and store.path.exists():
        # a local exchange started by this process has never seen the previous run's orders:
        # the old file describes an exchange that no longer exists. Only a state file this bot
        # wrote (for this pair, on the local exchange) is removed: a mistyped STATE_PATH must
        # never delete a ledger or anything else.
        if not store.is_own_file():
            raise StartupError(f"STATE_PATH: {store.path} is not a state file of this bot for "
                               f"{spot_rules.symbol}/{perp_rules.symbol} on {settings.venue}: "
                               f"left untouched (expected a state file, or a path with no file)")
        store.path.unlink()
        log.info("[STATE] a fresh local exchange: %s (about the previous run's exchange) removed",
                 store.path)
    elif store is not None:
        try:
            snapshot = store.load()
        except StateError as exc:
            if not settings.adopt:
                raise StartupError(str(exc)) from None
            moved = store.set_aside()
            log.warning("[STATE] %s; --adopt: set aside as %s", exc, moved)
    if snapshot is not None:
        problem = resume_problem(snapshot.strategy, settings.strategy, str(store.path),
                                 snapshot.trade is not None, snapshot.trade and snapshot.trade.trade_id)
        if problem:
            raise StartupError(problem)
        if snapshot.strategy != settings.strategy:
            log.info("[STATE] %s was written under STRATEGY=%s with no trade open: %s from now on",
                     store.path, snapshot.strategy, settings.strategy)
    try:
        tradelog = None if settings.dry_run else TradeLog(settings.trades_log)
        if tradelog is not None:
            tradelog.check_writable()
    except TradeLogError as exc:
        raise StartupError(str(exc)) from None
    orders = _orders_by_client_id(spot, coinm, snapshot)
    spot_account = spot.account()
    position = coinm.position(perp_rules.symbol)
    view = ExchangeView(tuple(spot.open_orders(spot_rules.symbol) + coinm.open_orders(perp_rules.symbol)),
                        orders, position.amount, spot_account.total(spot_rules.base_asset))
    decision = reconcile(snapshot, view, settings.adopt)
    # the balances at start_ms, whatever the orders left resting by a kill do meanwhile: the
    # invariant counts the executions at or after it (arbitrage/accounting/start_balances.py)
    start_ms, balances = start_snapshot(
        spot.server_time, pair_executions(spot, coinm, spot_rules.symbol, perp_rules.symbol),
        lambda: Balances.from_accounts(spot.account(), coinm.account(), spot_rules.base_asset,
                                       spot_rules.quote_asset),
        spot_rules.base_asset, spot_rules.quote_asset, perp_rules.contract_size or Decimal(1))
    accounting = Accounting(tradelog, spot_rules, perp_rules, start_ms, settings.quote_shared)
    accounting.start_balances = balances
    mark = Decimal(str(coinm.premium_index(perp_rules.symbol).mark))
    return accounting, store, decision, mark


def _orders_by_client_id(spot: SpotClient, coinm: CoinmClient, snapshot) -> dict:
    """Every order the state file may have missed or left open, by client id (None: the exchange
    has no such order): the pending ones, and — when FLAT — the legs of the reserved trade id,
    which an entry sends before its record reaches the disk."""
    legs = [(r.market, r.symbol, r.client_order_id)
            for r in (snapshot.pending_orders if snapshot else ())]
    legs += reserved_legs(snapshot)
    orders = {}
    for market, symbol, cid in legs:
        client = spot if market == SPOT else coinm
        try:
            orders[cid] = client.get_order(symbol, cid)
        except OrderNotFound:
            orders[cid] = None
    return orders


def _fees(spot: SpotClient, coinm: CoinmClient, symbol: str) -> FeeRates:
    account = spot.account()
    maker, taker = coinm.commission_rate(symbol)
    return FeeRates(account.maker_rate, account.taker_rate, maker, taker)


def _rules(client, symbol: str, setting: str):
    try:
        return client.exchange_info(symbol)
    except UnknownSymbol:
        raise StartupError(f"{setting}: '{symbol}' is not listed on this venue "
                           f"(check the symbol, or PAIR)") from None


def _open_venue(settings: Settings, stop: threading.Event, give_up_at: float | None):
    """(urls, demo keys or None, local exchange or None), starting the local exchange in-process
    when asked to."""
    if settings.venue != "sim":
        return urls_for(settings.venue), None, None
    if settings.sim_url:
        info = _with_retry(stop, f"local exchange at {settings.sim_url}",
                           lambda: _sim_info(settings.sim_url), give_up_at)
        if info is None:
            return None, None, None
        return (VenueUrls(info["rest"], info["ws"], info["rest"], info["ws"]),
                (info["api_key"], info["api_secret"]), None)
    from arbitrage.sim import LocalExchange
    from arbitrage.sim.replay import ReplayError
    from arbitrage.sim.symbols import ALL_SYMBOLS

    # every coin is listed, so PAIR=SOL trades on the local exchange too (an unstreamed coin's
    # book moves every 2 s: listing costs little)
    symbols = ALL_SYMBOLS if settings.sim_source == "synthetic" else None
    try:
        sim = LocalExchange(source=settings.sim_source, seed=settings.sim_seed, symbols=symbols,
                            speed=float(settings.sim_speed), replay_files=settings.replay_files,
                            funding_interval_sec=float(settings.sim_funding_interval),
                            funding_regime=settings.sim_funding_regime,
                            queue_model=settings.sim_queue_model,
                            **({"faults": settings.sim_faults} if settings.sim_faults else {}))
    except ValueError as exc:           # a bad fault plan or replay file: a settings problem
        raise StartupError(f"SIM_FAULTS / SIM_REPLAY: {exc}") from None
    try:
        sim.start()
    except ReplayError as exc:          # files without a snapshot, or without depth at all
        raise StartupError(f"SIM_REPLAY: {exc}") from None
    log.info("local exchange (%s) at %s, streams at %s", settings.sim_source, sim.rest_url,
             sim.ws_url)
    return (VenueUrls(sim.rest_url, sim.ws_url, sim.rest_url, sim.ws_url),
            (sim.api_key, sim.api_secret), sim)


def _watch_recording_end(settings: Settings, sim, stop: threading.Event):
    """A replayed recording that ends stops the bot as RUN_SECONDS would (app/recording_end.py).
    Returns the watcher's off switch, or None when the market never ends."""
    if settings.venue != "sim":
        return None
    if sim is not None:
        probe, every = recording_end.local_probe(sim), recording_end.LOCAL_EVERY_S
    else:
        probe, every = recording_end.remote_probe(settings.sim_url), recording_end.REMOTE_EVERY_S
    return recording_end.watch(probe, stop, every) if probe is not None else None


def _sim_info(rest_url: str) -> dict:
    response = requests.get(rest_url.rstrip("/") + "/sim/info", timeout=5)
    response.raise_for_status()
    return response.json()


class GaveUp(Exception):
    """The venue stayed unreachable for the whole RUN_SECONDS budget."""


def _with_retry(stop: threading.Event, what: str, call, give_up_at: float | None = None):
    """Network trouble is retried with a log line, never a traceback. Returns None when stopped;
    raises GaveUp when `give_up_at` (monotonic) passes first."""
    delay = 0.5
    started = time.monotonic()
    while not stop.is_set():
        try:
            return call()
        except StartupError:
            raise
        except (BinanceError, requests.RequestException, OSError, ValueError) as exc:
            if give_up_at is not None and time.monotonic() + delay > give_up_at:
                raise GaveUp(f"gave up reaching {what} after {time.monotonic() - started:.0f} s "
                             f"({_why(exc)})") from None
            if isinstance(exc, StartNotSettled):     # not the network: the pair is executing
                log.warning("[START] %s; reading again in %.1f s", exc, delay)
            else:
                log.warning("[NET] %s unreachable (%s); retrying in %.1f s", what, _why(exc), delay)
            stop.wait(delay)
            delay = min(delay * 2, RETRY_MAX_S)
    return None


def _why(exc: Exception) -> str:
    """The host and the kind of failure; never requests' own text (it holds the whole URL)."""
    if isinstance(exc, requests.RequestException):
        url = exc.request.url if exc.request is not None and exc.request.url else ""
        return describe_network_error(exc, url)
    return f"{type(exc).__name__}: {exc}"[:200]


def _install_signal_handlers(stop: threading.Event) -> None:
    def handler(signum, frame):
        if stop.is_set():
            return
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _protect_secrets(settings: Settings) -> None:
    setup_logging(settings.log_level, _secrets(settings))


def _secrets(settings: Settings) -> list[str]:
    return [v for v in (settings.spot_key, settings.spot_secret, settings.dapi_key,
                        settings.dapi_secret) if v]


if __name__ == "__main__":
    sys.exit(main())
