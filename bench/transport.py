"""The bot's own entries on each order transport (ORDER_TRANSPORT=rest vs ws), for the bench.

`measure(transport, seconds)` runs the real bot in-process against a local exchange (its own
process) with
thresholds that trade often and returns, per entry leg, the time from the market event that
decided the entry to the leg being handed to its lane (REST: the leg thread calls the client;
ws: the engine thread hands the frame to the socket), and the skew between the two legs.
`python -m bench.transport [seconds]` prints both transports side by side.
"""
from __future__ import annotations

import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from app.main import connect
from arbitrage.config import load_settings
from arbitrage.venues import VenueUrls
from bench.latency import start_exchange

FLAGS = ("--enter-bps", "0.5", "--exit-bps", "0.3", "--stop-bps", "40", "--min-v-usd", "100",
         "--max-q-btc-frontier", "0.05", "--reopen-cooldown-sec", "0.3", "--max-hold-sec", "2",
         "--flatten-on-exit", "--log-level", "WARNING")


@dataclass
class Entries:
    transport: str
    legs_ms: list[float]          # event -> leg handed to its lane, every leg
    skew_ms: list[float]          # between the two legs of each entry

    def row(self) -> str:
        def pct(xs: list[float], p: float) -> str:
            return f"{sorted(xs)[min(len(xs) - 1, int(p * len(xs)))]:.3f}" if xs else "-"
        return (f"{self.transport:<5} entries {len(self.skew_ms):>4}  event->leg median "
                f"{pct(self.legs_ms, .5)} ms p99 {pct(self.legs_ms, .99)} ms  skew median "
                f"{pct(self.skew_ms, .5)} ms p99 {pct(self.skew_ms, .99)} ms")


def measure(transport: str, seconds: float = 30.0, seed: int = 15) -> Entries:
    # the exchange in its own process (as bench/latency.py): in this one it would take the
    # interpreter from the bot whenever a send releases it, and the skew would measure the sim
    proc, info = start_exchange(seed)
    work = Path(tempfile.mkdtemp(prefix="bench-transport-"))
    try:
        env = {"SPOT_KEY": info["api_key"], "SPOT_SECRET": info["api_secret"],
               "DAPI_KEY": info["api_key"], "DAPI_SECRET": info["api_secret"]}
        settings = load_settings(["--venue", "sim", "--sim-url", info["rest"], *FLAGS,
                                  "--order-transport", transport,
                                  "--trades-log", str(work / "trades_log.csv"),
                                  "--state-path", str(work / "state.json")], env, dotenv_path=None)
        stop = threading.Event()
        urls = VenueUrls(info["rest"], info["ws"], info["rest"], info["ws"])
        bot = connect(settings, urls, stop)
        stats = bot.run(stop, seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    legs, skew = [], []
    for _, trigger, spot_ns, perp_ns in stats.entry_latency:
        legs += [(spot_ns - trigger) / 1e6, (perp_ns - trigger) / 1e6]
        skew.append(abs(perp_ns - spot_ns) / 1e6)
    return Entries(transport, legs, skew)


if __name__ == "__main__":
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    for name in ("rest", "ws"):
        print(measure(name, secs).row(), flush=True)
