"""Run the real bot in-process against a local exchange, and check the exchange agrees with it.

The bot is built exactly as `python -m app.main` builds it (`app.main.connect`), with its real
HTTP and WebSocket clients on loopback; only the engine loop runs in a thread of the test so the
test can watch its state and inject faults on the exchange while it trades.
"""
from __future__ import annotations

import logging
import tempfile
import threading
from decimal import Decimal
from pathlib import Path

from app.main import connect
from arbitrage.accounting.ledger import usdt_fee_part
from arbitrage.accounting.tradelog import read_rows
from arbitrage.config import load_settings
from arbitrage.sim import LocalExchange
from arbitrage.venues import VenueUrls
from tests.conftest import wait_for

SPOT, PERP = "BTCUSDT", "BTCUSD_PERP"

# Thresholds low enough that the synthetic market offers an entry within seconds.
EASY = ("--enter-bps", "0.5", "--exit-bps", "0.3", "--stop-bps", "40", "--min-v-usd", "100",
        "--max-q-btc-frontier", "0.05", "--reopen-cooldown-sec", "0.5")


# every BotRun not closed yet: a test that fails before its close() must not leave its bot
# running into the next tests (its REST calls would land in their `responses` mocks)
OPEN_RUNS: list["BotRun"] = []


def close_leftover_runs() -> None:
    while OPEN_RUNS:
        OPEN_RUNS[-1].shut_down()


class _Refusals(logging.Handler):
    """Collects "refusing to save an inconsistent snapshot" (arbitrage/persistence/state.py) while a bot runs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if "inconsistent snapshot" in text:
            self.lines.append(text)


class BotRun:
    """`sim`: a LocalExchange, or anything with its rest_url, ws_url, api_key and api_secret."""

    def __init__(self, sim: LocalExchange, *flags: str, workdir=None) -> None:
        self.sim = sim
        workdir = Path(workdir or tempfile.mkdtemp(prefix="bot-"))
        self.trades_log = workdir / "trades_log.csv"
        self.state_path = workdir / "state.json"
        env = {"SPOT_KEY": sim.api_key, "SPOT_SECRET": sim.api_secret,
               "DAPI_KEY": sim.api_key, "DAPI_SECRET": sim.api_secret}
        self.settings = load_settings(["--venue", "sim", "--sim-url", sim.rest_url,
                                       "--status-interval", "1", "--trades-log", str(self.trades_log),
                                       "--state-path", str(self.state_path), *flags], env,
                                      dotenv_path=None)
        urls = VenueUrls(sim.rest_url, sim.ws_url, sim.rest_url, sim.ws_url)
        self.stop = threading.Event()
        self.bot = connect(self.settings, urls, self.stop)
        self.spot, self.perp = self.bot.spot_rules.symbol, self.bot.perp_rules.symbol
        self.base = self.bot.spot_rules.base_asset
        self.spot_btc_start = self.bot.spot_client.account().total(self.base)
        self.thread = threading.Thread(target=self.bot.run, args=(self.stop,), daemon=True)
        self.thread.start()
        self.trader = self.bot.trader
        self.md = self.bot.market
        self._closed = False
        # a snapshot the state file refuses is a bug in the bot, never a test's fault
        self.refused_snapshots = _Refusals()
        logging.getLogger("arbitrage").addHandler(self.refused_snapshots)
        OPEN_RUNS.append(self)

    def sync_of(self, symbol: str):
        return self.md.spot if symbol == self.spot else self.md.perp

    def wait_closed_trades(self, n: int, timeout: float = 90.0) -> None:
        wait_for(lambda: len(self.trader.closed) >= n or self.trader.halt_reason,
                 timeout=timeout, what=f"{n} closed trade(s)")
        assert self.trader.halt_reason is None, self.trader.halt_reason

    def wait_entries(self, n: int, timeout: float = 90.0) -> None:
        wait_for(lambda: self.trader.entries >= n and not self.trader.in_flight, timeout=timeout,
                 what=f"{n} entr(y/ies) to complete")

    def close(self) -> None:
        if not self._closed:
            self.shut_down()
            assert not self.thread.is_alive(), "the bot did not stop"

    def shut_down(self) -> None:
        """Stop the bot and let go of it (close() also checks that it stopped)."""
        self._closed = True
        self.stop.set()
        self.thread.join(timeout=60)
        logging.getLogger("arbitrage").removeHandler(self.refused_snapshots)
        if self in OPEN_RUNS:
            OPEN_RUNS.remove(self)

    def assert_exchange_agrees(self, hedged_ok: bool = True) -> None:
        """No open orders; the COIN-M position and the spot BTC balance are exactly what the bot's
        own records say; and (unless halted) no unhedged exposure beyond one contract + one step."""
        self.close()
        assert not self.refused_snapshots.lines, self.refused_snapshots.lines[0]
        spot, coinm = self.bot.spot_client, self.bot.coinm_client
        assert spot.open_orders(self.spot) == [], "spot orders left open"
        assert coinm.open_orders(self.perp) == [], "COIN-M orders left open"
        position = coinm.position(self.perp).amount
        assert position == self.trader.contracts_net, (position, self.trader.contracts_net)
        spot_change = spot.account().total(self.base) - self.spot_btc_start
        assert spot_change == self.trader.spot_btc_net, (spot_change, self.trader.spot_btc_net)
        if self.trader.halt_reason is None:
            price = Decimal(str(self.md.perp.book.mid() or 60000))
            size = self.bot.perp_rules.contract_size
            exposure_btc = self.trader.spot_btc_net + self.trader.contracts_net * size / price
            # a commission paid in the base coin leaves the account short of what it bought: a
            # cost, not a position (on ETH one $13k buy pays 0.0054 ETH, more than a 10 USD contract)
            limit = size / price + self.bot.spot_rules.step_size + self._base_fees()
            assert abs(exposure_btc) < limit, (exposure_btc, limit)
            if not hedged_ok:
                assert position == 0

    def _base_fees(self) -> Decimal:
        """Spot commissions paid in the base coin, from the ledger (fee_btc_spot less its
        USDT-paid part)."""
        if not self.trades_log.exists():
            return Decimal(0)
        return sum(((r.fee_btc_spot or Decimal(0)) - usdt_fee_part(r)
                    for r in read_rows(self.trades_log)), Decimal(0))
