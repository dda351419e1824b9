"""Backtest: the bot's own engine in simulated time, against the local exchange's trading core
in-process (no sockets, no sleeping threads). See arbitrage/backtest/run.py."""
