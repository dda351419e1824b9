"""`python -m arbitrage.sim`: run the local exchange until Ctrl-C or SIGTERM."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from arbitrage.sim.exchange import LocalExchange
from arbitrage.sim.funding import REGIMES
from arbitrage.sim.queue import MODELS, NONE
from arbitrage.sim.replay import iso_ms
from arbitrage.sim.symbols import ALL_SYMBOLS, SYMBOLS


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m arbitrage.sim",
                                 description="Binance-compatible local exchange (REST + WebSocket).")
    ap.add_argument("--source", choices=("synthetic", "replay"), default=None,
                    help="market source (default: replay when --replay is given, else synthetic)")
    ap.add_argument("--replay", nargs="+", default=[], metavar="FILE", help="capture file(s) to replay")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--speed", type=float, default=1.0)
    ap.add_argument("--symbols", nargs="+", choices=sorted(SYMBOLS), default=None,
                    help="symbols to list (default: all of them; only BTC and ETH move every 100 ms)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--rest-port", type=int, default=0)
    ap.add_argument("--ws-port", type=int, default=0)
    ap.add_argument("--funding-interval", type=float, default=8 * 3600, metavar="SEC")
    ap.add_argument("--funding-regime", choices=REGIMES, default="normal",
                    help="sign of the funding: normal (mostly positive, flips now and then), "
                         "positive, negative, flipping (every 3 settlements)")
    ap.add_argument("--queue-model", choices=MODELS, default=NONE,
                    help="resting orders: none (fill only when the book trades through their price) "
                         "| risk_averse (also from trades at their price once the queue ahead has "
                         "traded; arbitrage/sim/queue.py)")
    ap.add_argument("--weight-limit", type=int, default=6000)
    ap.add_argument("--faults", default=None, metavar="SPEC",
                    help="chaos plan, e.g. drop=0.01,disconnect=20,silence=30:4,http5xx=0.02,"
                         "ratelimit=60,slow=0.05:1.5,clock=45:3000,malformed=0.005,reduce=90,seed=1 "
                         "(grammar: arbitrage/sim/chaos.py)")
    ap.add_argument("--log-level", default="INFO")
    args = ap.parse_args(argv)
    if args.faults is not None:
        from arbitrage.sim.chaos import FaultPlan
        try:
            FaultPlan.parse(args.faults)
        except ValueError as exc:
            ap.error(f"--faults: {exc}")
    args.source = args.source or ("replay" if args.replay else "synthetic")
    if args.source == "replay" and not args.replay:
        ap.error("--source replay needs --replay FILE")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("websockets").setLevel(logging.WARNING)   # one line per connection is noise
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    symbols = args.symbols or (ALL_SYMBOLS if args.source == "synthetic" else None)
    ex = LocalExchange(source=args.source, seed=args.seed, speed=args.speed, symbols=symbols,
                       replay_files=args.replay, host=args.host, rest_port=args.rest_port,
                       ws_port=args.ws_port, funding_interval_sec=args.funding_interval,
                       weight_limit=args.weight_limit, faults=args.faults,
                       funding_regime=args.funding_regime, queue_model=args.queue_model)
    try:
        ex.start()
    except (OSError, ValueError) as exc:
        print(f"cannot start the local exchange: {exc}", file=sys.stderr)
        return 2
    try:
        print(f"REST  {ex.rest_url}", flush=True)
        print(f"WS    {ex.ws_url}", flush=True)
        print(f"WSAPI {ex.ws_api_url} {ex.ws_dapi_url}", flush=True)
        print(f"KEY   {ex.api_key}", flush=True)          # a loopback demo pair, not a secret
        print(f"SECRET {ex.api_secret}", flush=True)
        print(f"INFO  {args.source}: {', '.join(ex.market.symbols)} (Ctrl-C to stop)", flush=True)
        if ex.fault_plan is not None:
            print(f"FAULTS {args.faults}", flush=True)
        reported = False
        while not done.wait(0.2):
            ended_ms = ex.recording_ended_ms()
            if ended_ms is not None and not reported:
                reported = True
                print(f"[REPLAY] recording ended at {iso_ms(ended_ms)}: streams are silent, the books "
                      f"stay and REST answers until Ctrl-C", flush=True)
        if ex.fault_plan is not None:
            counts = ", ".join(f"{k}={v}" for k, v in ex.fault_counts().items())
            print(f"FAULTS injected: {counts}", flush=True)
    finally:
        ex.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
