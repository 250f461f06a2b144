"""The embedded market simulator: `SimMarket` (prices, books, time) and its ccxt-like venues."""

from core.feeds.sim.exchange import SimExchange
from core.feeds.sim.market import SimMarket

__all__ = ["SimExchange", "SimMarket"]
