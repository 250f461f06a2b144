"""Quote-currency -> USD conversion for thresholds and reporting.

Assumption, stated plainly: the stablecoins USDT, USDC, USD, BUSD, DAI and FDUSD each count as
exactly 1 USD (a depeg is not modelled). Any other quote currency (BTC for ETH/BTC) converts at
the median mid of QUOTE/USDT, QUOTE/USD and QUOTE/USDC over every venue whose book for it is
usable right now (valid, not crossed, not stale). When no such book exists the rate is unknown
(`None`): the detector then cannot apply `max_notional_usd` nor prove `min_profit_usd`, and it
emits nothing for that symbol rather than guess.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping

from core.book import OrderBook

STABLECOINS = frozenset({"USDT", "USDC", "USD", "BUSD", "DAI", "FDUSD"})
USD_QUOTES = ("USDT", "USD", "USDC")


def quote_currency(symbol: str) -> str:
    """'ETH/BTC' -> 'BTC'; a ccxt derivative 'BTC/USDT:USDT' -> 'USDT'."""
    return symbol.partition("/")[2].partition(":")[0]


class UsdRates:
    """Reads the live books (symbol -> venue -> book) to price a currency in USD."""

    def __init__(self, books: Mapping[str, Mapping[str, OrderBook]]) -> None:
        self._books = books

    def rate(self, currency: str, now: float, stale_after_s: float) -> float | None:
        """USD per one unit of `currency`, or None when no usable book prices it."""
        if currency in STABLECOINS:
            return 1.0
        mids = []
        for usd in USD_QUOTES:
            venues = self._books.get(f"{currency}/{usd}")
            if not venues:
                continue
            for book in venues.values():
                if book.usable(now, stale_after_s):
                    mid = book.mid()
                    if mid is not None:
                        mids.append(mid)
        if not mids:
            return None
        return statistics.median(mids)

    def quote_rate(self, symbol: str, now: float, stale_after_s: float) -> float | None:
        """USD per one unit of `symbol`'s quote currency."""
        return self.rate(quote_currency(symbol), now, stale_after_s)
