"""The local exchange: a Binance-compatible market-data server on loopback (design §12)."""
from arbitrage.sim.exchange import LocalExchange

__all__ = ["LocalExchange"]
