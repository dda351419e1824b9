"""Operations: what a running instance tells the fleet (status file), what the fleet tells it
(control file), and the Prometheus view of both. Nothing here runs on the bot's hot path: the bot
calls one hook once a second from its engine loop (arbitrage/ops/sink.py)."""
