"""Building one exchange object per venue, and getting it ready to stream.

A venue is anything speaking the ccxt unified subset the core uses: a real `ccxt.pro` exchange
(kind `ccxt`) or the embedded simulator's venue (kind `sim`). Nothing after this module knows
which one it has.
"""

from __future__ import annotations

import asyncio
import copy
import difflib
import time
from collections.abc import Callable
from typing import Any

from loguru import logger

from core.events import VenueProblem
from core.feeds.liveness import Backoff, Publish
from core.settings import FeedSettings, VenueKind, VenueSettings


def create_exchange(venue: VenueSettings, sim_market: Any | None = None) -> Any:
    """A ccxt.pro exchange configured from `venue.options` (unchanged), or the sim's venue."""
    if venue.kind is VenueKind.SIM:
        if sim_market is None:
            raise ValueError(f"venue {venue.name!r} is a sim venue but no simulator is running")
        return sim_market.exchange(venue.name)
    import ccxt.pro  # local: importing ccxt costs ~0.5 s and sim mode never needs it

    exchange_class = getattr(ccxt.pro, venue.exchange_id, None)
    if exchange_class is None:
        raise ValueError(f"venue {venue.name!r}: ccxt.pro has no exchange {venue.exchange_id!r}")
    config = copy.deepcopy(venue.options)  # ccxt mutates nested dicts it is given
    config.setdefault("enableRateLimit", True)
    return exchange_class(config)


def symbol_problem(venue: str, symbol: str, known: list[str]) -> str:
    """The message for a configured symbol the venue does not list, with close matches."""
    upper = {s.upper(): s for s in known}
    close = [upper[symbol.upper()]] if symbol.upper() in upper else []
    base, _, quote = symbol.partition("/")
    swapped = f"{quote}/{base}"
    if swapped in known:
        close.append(swapped)
    close += [
        s for s in difflib.get_close_matches(symbol, known, n=3, cutoff=0.7) if s not in close
    ]
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"unknown symbol {symbol!r} on venue {venue!r}{hint} (skipped; other symbols run)"


async def prepare_venue(
    exchange: Any,
    venue: VenueSettings,
    *,
    publish: Publish | None = None,
    feeds: FeedSettings | None = None,
    on_failure: Callable[[str], None] | None = None,
) -> list[str]:
    """Load markets (retrying an unreachable venue with backoff, forever) and return the
    configured symbols the venue lists; each unknown one is reported and skipped."""
    feeds = feeds or FeedSettings()
    backoff = Backoff(feeds.backoff_initial_s, feeds.backoff_max_s, feeds.watchdog_s)
    while True:
        try:
            markets = await exchange.load_markets()
            break
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure: report it and retry
            delay = backoff.next_delay()
            message = (
                f"cannot load markets: {type(exc).__name__}: {exc}; "
                f"retry {backoff.attempts} in {delay:.2f}s"
            )
            _report(publish, venue.name, message)
            if on_failure is not None:
                on_failure(message)
            await asyncio.sleep(delay)
    known = list(markets or getattr(exchange, "markets", None) or {})
    symbols = []
    for symbol in venue.symbols:
        if symbol in known:
            symbols.append(symbol)
        else:
            _report(publish, venue.name, symbol_problem(venue.name, symbol, known), symbol)
    return symbols


def _report(publish: Publish | None, venue: str, message: str, symbol: str | None = None) -> None:
    logger.warning("venue {}: {}", venue, message)
    if publish is not None:
        publish(VenueProblem(venue, message, symbol, at=time.time()))
