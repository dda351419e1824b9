"""One backtest: the bot, built by the same start-up as `app.main` (rules, fees, reconciliation,
ledger, state file), driven in simulated time over a synthetic or recorded market.

The engine loop is the bot's own steps (`_handle`, `_evaluate`, `_on_timer`) in the order its
`_step` runs them; only the waiting differs: instead of blocking on the queue, time jumps to the
next thing that happens — a market step at the exchange, a stream message reaching the bot, or
the bot's timer tick. A pair runs in-line: its orders and polls sleep on the SimClock, which plays
the market forward meanwhile (the books move, resting orders fill, messages queue up for the bot).
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Iterator

from arbitrage.backtest.clock import SimClock
from arbitrage.backtest.inline import InlineExecutor, runner_for
from arbitrage.backtest.market import Feed, Step, first_line_ns, replay_steps, synthetic_steps
from arbitrage.backtest.venue import InProcessHttp, Latency
from arbitrage.config import Settings
from arbitrage.exchanges.binance_coinm import CoinmClient
from arbitrage.exchanges.binance_spot import SpotClient
from arbitrage.sim import LocalExchange
from arbitrage.sim.api_market import MarketApi
from arbitrage.sim.funding_file import FundingFile, read_funding_file
from arbitrage.sim.market import DEPTH, MARK, TICKER, use_time_source
from arbitrage.sim.replay import ReplaySource
from arbitrage.sim.symbols import SYMBOLS
from arbitrage.engine.trader import PairDone
from arbitrage.venues import VenueUrls

log = logging.getLogger("arbitrage.backtest")

SYNTHETIC_START_NS = 1_767_225_600_000_000_000     # 2026-01-01T00:00:00Z: a fixed, seedable start
BACKTEST_URL = "http://backtest.invalid"


@dataclass
class Exposure:
    """Unhedged base coin between the two accounts, sampled after every order the exchange
    executes: the largest that lasted any simulated time (both legs of a pair can land at the
    same instant: the state between them lasted nothing), and the longest stretch beyond one
    contract's worth ("naked")."""
    max_btc: Decimal = Decimal(0)
    max_naked_s: float = 0.0
    _last: tuple[int, Decimal, bool] | None = None     # (time, exposure, beyond one contract)
    _naked_since_ns: int | None = None

    def sample(self, now_ns: int, exposure: Decimal, one_contract: Decimal) -> None:
        last = self._last
        if last is not None and now_ns > last[0]:
            self._commit(last, now_ns)
        self._last = (now_ns, exposure, abs(exposure) >= one_contract)

    def _commit(self, held: tuple[int, Decimal, bool], until_ns: int) -> None:
        at, exposure, naked = held
        self.max_btc = max(self.max_btc, abs(exposure))
        if naked:
            if self._naked_since_ns is None:
                self._naked_since_ns = at
            self.max_naked_s = max(self.max_naked_s, (until_ns - self._naked_since_ns) / 1e9)
        else:
            self._naked_since_ns = None

    def finish(self, now_ns: int) -> None:
        if self._last is not None:
            self._commit(self._last, max(now_ns, self._last[0]))
            self._last = (max(now_ns, self._last[0]), self._last[1], self._last[2])


@dataclass
class Outcome:
    bot: object
    stats: object
    marks: str                  # where the marks came from
    funding: str                # where the funding settlements came from
    market_seconds: float       # simulated time covered
    exposure: Exposure
    latency: Latency
    out_dir: Path
    events: int = 0
    notes: list[str] = field(default_factory=list)
    exchange: object = None     # the local exchange, as the run left it


class Backtest:
    def __init__(self, settings: Settings, latency: Latency, minutes: float = 5.0,
                 out_dir: str | Path = "backtest-out", start_ms: int | None = None,
                 model=None, funding_history: str | Path | None = None) -> None:
        """`start_ms`: when the synthetic market starts (default 2026-01-01T00:00:00Z); a
        replay starts at its recording's first line. `model(specs)`: a synthetic source other
        than the settings' (e.g. arbitrage/sim/regimes.py), for a market built in code.
        `funding_history`: a fundingRate history file whose settlements replace the exchange's
        own (arbitrage/sim/funding_file.py)."""
        self.s = settings
        self.model = model
        self.funding_history = funding_history
        self.start_ms = start_ms
        self._on_pair_done = lambda: None
        self.latency = latency
        self.minutes = minutes
        self.out_dir = Path(out_dir)

    def run(self) -> Outcome:
        s = self.s
        files = list(s.replay_files) if s.sim_source == "replay" else []
        start_ns = (first_line_ns(files[0]) if files else
                    self.start_ms * 1_000_000 if self.start_ms is not None else SYNTHETIC_START_NS)
        clock = SimClock(start_ns)
        with use_time_source(clock.now_ns):
            return self._run(clock, files)

    def _run(self, clock: SimClock, files: list[str]) -> Outcome:
        from app.main import connect        # the live start-up, against the in-process venue

        s = self.s
        spot_sym, perp_sym = s.spot_symbol, s.coinm_symbol
        ex = LocalExchange(source=s.sim_source, seed=s.sim_seed, symbols=[spot_sym, perp_sym],
                           replay_files=files,
                           funding_interval_sec=float(s.sim_funding_interval),
                           funding_regime=s.sim_funding_regime, queue_model=s.sim_queue_model)
        if files:     # only the streams the bot subscribes to are read (parsing is the cost)
            # the public trades move queues: read only when a queue model needs them
            trades = () if s.sim_queue_model != "none" else ("@trade",)
            skip = trades + ("@aggTrade",) + (() if s.verify_books else ("@bookTicker",))
            ex.source = ReplaySource(files, symbols=[spot_sym, perp_sym], skip_streams=skip,
                                     funding_interval_sec=float(s.sim_funding_interval))
        if self.model is not None and not files:
            ex.source = self.model(ex.specs)
        ex.market._hooks.remove(ex.tape.on_step)   # klines: nobody asks for them here
        ex.source.prepare(ex.market)
        if files:
            clock.set(ex.source.t0_ns)
            steps: Iterator[Step] = replay_steps(ex.source, ex.market)
            recorded = perp_sym in ex.source.recorded_marks
            marks = ("from the capture's mark stream" if recorded else
                     "derived: the perp mid once per recorded second (the capture carries no "
                     "mark stream)")
            funding = ("from the capture: the rates and times its marks announce" if recorded else
                       f"a schedule: every {float(s.sim_funding_interval):g} s at the rate of "
                       f"the derived premium")
            end_ns = None
        else:
            steps = synthetic_steps(ex.source, ex.market, clock.now_ns(), self.minutes)
            marks = "the synthetic model's mark stream (1/s)"
            funding = (f"a schedule: every {float(s.sim_funding_interval):g} s at the model's "
                       f"rate ({s.sim_funding_regime})")
            end_ns = clock.now_ns() + int(self.minutes * 60e9)
        table = (self._use_funding_file(ex, perp_sym, clock.now_ms())
                 if self.funding_history is not None else None)
        # the exchange's clocks are the simulated one
        ex.trading.auth.clock_ms = clock.now_ms
        api = MarketApi(ex.market, SYMBOLS, ex.weight_limit, lambda: {}, clock_ms=clock.now_ms,
                        tape=ex.tape)
        routes = {**api.routes(), **ex.routes}
        channels = {DEPTH, MARK} | ({TICKER} if s.verify_books else set())
        feed = Feed({spot_sym: "spot", perp_sym: "coinm"}, channels, self.latency.feed_ns,
                    clock.now_ns, self.latency.feed_sampler())
        ex.market.add_listener(feed.on_event)

        exposure = Exposure()
        spec = SYMBOLS[perp_sym]
        base = SYMBOLS[spot_sym].base_asset
        start_spot = None

        def sample(flat: bool = False) -> None:
            """Spot coin held since the bot was last flat against what the contracts hedge
            (valued at the position's entry price: the coin they were sold or bought for)."""
            nonlocal start_spot
            wallet = ex.trading.wallet
            held = wallet.free[base] + wallet.locked[base]
            position = ex.trading.account.position(perp_sym)
            if start_spot is None or (flat and position.amount == 0):
                start_spot = held          # a closed trade's result is not exposure
            size = Decimal(spec.contract_size)
            px = position.entry if position.amount and position.entry else None
            if px is None:
                mark = ex.market.marks.get(perp_sym)
                px = Decimal(str(mark.mark)) if mark is not None and mark.mark else None
            if px is None:
                return
            exposure.sample(clock.now_ns(), held - start_spot + position.amount * size / px,
                            size / px)

        class TrackedHttp(InProcessHttp):
            def _send(self, method, path, url, body, headers):
                try:
                    return super()._send(method, path, url, body, headers)
                finally:
                    if path.endswith("/order"):
                        sample()

        https = [TrackedHttp(routes, clock, self.latency, ex.api_key, ex.api_secret,
                             recv_window=s.recv_window) for _ in range(2)]
        clients = (SpotClient(https[0], now_ns=clock.now_ns),
                   CoinmClient(https[1], now_ns=clock.now_ns))
        sample()
        stop = threading.Event()
        bot = connect(s, VenueUrls(BACKTEST_URL, "ws://backtest.invalid", BACKTEST_URL,
                                   "ws://backtest.invalid"), stop, fresh_exchange=True,
                      clients=clients, clock=clock, pool=InlineExecutor(),
                      leg_runner=runner_for(clock))
        deliver = {"spot": bot._on_message_for("spot"), "coinm": bot._on_message_for("coinm")}
        driver = _Driver(clock, steps, feed, deliver)
        clock.on_advance = driver.play_until
        started_ns = clock.now_ns()
        self._on_pair_done = lambda: sample(flat=bot.trader.state == "FLAT")
        stats = self._loop(bot, clock, driver, end_ns)
        stats.started_ns = started_ns
        bot._wind_down()
        bot._shutdown()
        stats.ended_ns = clock.now_ns()
        sample()
        exposure.finish(clock.now_ns())
        if table is not None:
            funding = (f"history file {Path(self.funding_history).name}: "
                       f"{len(table.settlements)} settlements of {perp_sym}, "
                       f"{table.inside(started_ns // 1_000_000, clock.now_ms())} inside the "
                       f"market played")
        return Outcome(bot, stats, marks, funding, (clock.now_ns() - started_ns) / 1e9, exposure,
                       self.latency, self.out_dir, driver.steps_played, exchange=ex)

    def _use_funding_file(self, ex: LocalExchange, perp_sym: str, now_ms: int) -> FundingFile:
        """The file's settlements replace the exchange's schedule (and its history before now)."""
        table = FundingFile(perp_sym, read_funding_file(self.funding_history, perp_sym))
        mark = ex.market.marks[perp_sym]
        table.seed_history(ex.market.funding, now_ms, mark.mark)
        ex.market.announce = table.announce
        ex.market.set_mark(mark, publish=False)       # the desk now expects the file's next one
        return table

    def _loop(self, bot, clock: SimClock, driver: "_Driver", end_ns: int | None):
        """The bot's `_step`, with simulated waiting (see the module doc)."""
        bot.stats.started_ns = clock.now_ns()
        bot.pool.submit(bot._fetch_mark)
        bot._request_account()
        tick_ns = int(float(self.s.poll_interval) * 1e9)
        status_ns = int(float(self.s.status_interval) * 1e9)
        next_timer = clock.now_ns() + tick_ns
        next_status = clock.now_ns() + status_ns
        events = bot.events
        handle, evaluate = bot._handle, bot._evaluate
        while True:
            while not events.empty():
                event = events.get_nowait()
                now = clock.now_ns()
                if handle(event, now):
                    if type(event) is PairDone:
                        self._on_pair_done()
                    if events.empty():
                        evaluate(now)
            nxt = driver.next_ns()
            if nxt is None and end_ns is None:
                break                               # the recording is over
            if end_ns is not None and min(nxt or end_ns, next_timer) >= end_ns:
                clock.advance_to(end_ns)
                break
            if nxt is not None and nxt < next_timer:
                clock.advance_to(nxt)
                continue
            clock.advance_to(next_timer)
            now = clock.now_ns()
            bot._on_timer(now)
            if now >= next_status:
                bot._evaluate(now, trade=False)
                log.info("%s", bot.status_line(now))
                next_status = now + status_ns
            next_timer = now + tick_ns
        return bot.stats


class _Driver:
    """Plays market steps and stream deliveries in time order up to a target time."""

    def __init__(self, clock: SimClock, steps: Iterator[Step], feed: Feed, deliver: dict) -> None:
        self.clock = clock
        self.steps = steps
        self.feed = feed
        self.deliver = deliver
        self.steps_played = 0
        self._next: Step | None = next(steps, None)

    def next_ns(self) -> int | None:
        pending = self.feed.pending
        step = self._next[0] if self._next is not None else None
        if pending:
            return pending[0][0] if step is None else min(step, pending[0][0])
        return step

    def play_until(self, target_ns: int) -> None:
        pending, clock = self.feed.pending, self.clock
        while True:
            step = self._next
            if pending and pending[0][0] <= target_ns and (step is None or pending[0][0] <= step[0]):
                at, conn, raw = pending.popleft()
                clock.set(at)
                self.deliver[conn](raw, at)
            elif step is not None and step[0] <= target_ns:
                clock.set(step[0])
                step[1]()
                self.steps_played += 1
                self._next = next(self.steps, None)
            else:
                return


def clear_outputs(settings: Settings) -> None:
    """A backtest's ledger and state are its own output: each run starts them afresh."""
    for path in (settings.trades_log, settings.state_path):
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
