"""Backtest speed: one configuration of `app.backtest` over the captures (the synthetic market
when they are absent), as a multiple of real time. What is timed is the whole run after start-up
in simulated time: the exchange's replay (read, parse, its own book, matching hooks), the feed,
and the bot's hot path (parse, book, evaluation), plus whatever it trades."""
from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.replay import CAPTURES


@dataclass
class Speed:
    source: str
    market_s: float
    wall_s: list[float]

    def multiples(self) -> list[float]:
        return [self.market_s / w for w in self.wall_s]


def measure(data: Path, runs: int = 3) -> Speed:
    from app.backtest import parser, run_one
    import app.main, app.summary, arbitrage.backtest.run  # noqa: F401,E401  imported before timing:
    # run_one imports them on first use, which the first of the runs would otherwise pay for

    paths = [data / name for name in CAPTURES]
    flags = (["--replay", ",".join(str(p) for p in paths)] if all(p.exists() for p in paths)
             else ["--synthetic", "--minutes", "5"])
    walls, market_s = [], 0.0
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="bench-backtest-") as out:
            args, rest = parser().parse_known_args([*flags, "--out", out])
            began = time.perf_counter()
            result = run_one(args, rest, Path(out))
            walls.append(time.perf_counter() - began)
            market_s = result.market_s
    source = "captures" if flags[0] == "--replay" else "synthetic 5 min"
    return Speed(source, market_s, walls)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    speed = measure(ap.parse_args().data)
    print(f"backtest ({speed.source}): {speed.market_s:.0f} s of market, "
          + ", ".join(f"{m:.0f}x" for m in speed.multiples()))
