"""The real bot, built the way `python -m app.main --venue sim --sim-url ...` builds it, against a
local exchange in this process: the benches measure the product's own objects, not copies."""
from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path

from app.main import connect
from arbitrage.config import load_settings
from arbitrage.sim import LocalExchange
from arbitrage.venues import VenueUrls


def quiet() -> None:
    """Benches print a table; the bot's INFO lines would cost time and bury it."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger().setLevel(logging.WARNING)


def build_bot(sim: LocalExchange, *flags: str, workdir: str | Path | None = None):
    """(bot, stop event); the bot is connected (rules, fees, reconciliation) but not running."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix="bench-"))
    env = {"SPOT_KEY": sim.api_key, "SPOT_SECRET": sim.api_secret,
           "DAPI_KEY": sim.api_key, "DAPI_SECRET": sim.api_secret}
    settings = load_settings(["--venue", "sim", "--sim-url", sim.rest_url,
                              "--trades-log", str(workdir / "trades_log.csv"),
                              "--state-path", str(workdir / "state.json"), *flags], env,
                             dotenv_path=None)
    stop = threading.Event()
    bot = connect(settings, VenueUrls(sim.rest_url, sim.ws_url, sim.rest_url, sim.ws_url), stop)
    return bot, stop
