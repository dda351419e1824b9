"""The engine thread: one consumer of every event, the only writer of the trading state.

queueing.py    the engine's bounded event queue (C SimpleQueue + a size check)
evaluation.py  the read of the market after each event (gates, frontier, spread), pure
trader.py      the engine thread's trading: evaluations -> pairs, pair results -> state

No imports here: each module is imported by its own path.
"""
