"""One supervisor task per (venue, symbol) around the unified `watch_order_book`.

What ccxt.pro (4.5, checked in ccxt/pro/binance.py and async_support/base/ws/) does on trouble,
and what we do about it:

- sequence gap: ccxt raises ``ChecksumError`` and deletes its own book and subscription; the
  next watch re-subscribes on the same socket and fetches a fresh REST snapshot. We mark the
  book invalid (RESYNCING) until that snapshot arrives.
- socket closed by the server: every pending watch is rejected with ``NetworkError``; the next
  watch opens a new socket and resyncs. We go DOWN and retry with jittered backoff.
- a non-numeric price ("abc"): ccxt itself fails (``TypeError``) and drops its book; we count
  the message as dropped and resync.
- NaN price or size, a negative size, a crossed book: ccxt stores them and hands them to us,
  and the bad level stays in its cached book. We drop the update (our book is unchanged),
  count it, and force a resync by closing the socket that carries the symbol.
- broken JSON: ccxt's receive loop dies inside an asyncio callback and the socket goes quiet
  without any error reaching us; the watchdog handles it like any silent feed.
- a silent feed: no update within ``feeds.watchdog_s`` -> STALE, the book is invalidated and
  the socket is closed so that the next watch reconnects and resyncs.

Closing a ccxt client cancels the futures other symbols on the same socket are awaiting, so a
CancelledError that was not aimed at our task is treated as a dropped connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import ccxt
from loguru import logger

from core.book import BookDataError, OrderBook
from core.events import FeedState
from core.feeds.liveness import Backoff, FeedHealth, Publish
from core.settings import FeedSettings

OnUpdate = Callable[[str, str, OrderBook], None]
# A quiet symbol on a venue that still streams its other symbols is reconnected only after
# this many watchdog periods of silence.
QUIET_SYMBOL_PATIENCE = 3


class FeedSupervisor:
    """Keeps one `OrderBook` in step with one venue's stream for one symbol."""

    def __init__(
        self,
        exchange: Any,
        venue: str,
        symbol: str,
        book: OrderBook,
        feeds: FeedSettings,
        stale_after_s: float,
        publish: Publish,
        on_update: OnUpdate | None = None,
        rng: random.Random | None = None,
        venue_alive: Callable[[FeedSupervisor, float], bool] | None = None,
    ) -> None:
        self.exchange = exchange
        self._venue_alive = venue_alive
        self.venue = venue
        self.symbol = symbol
        self.book = book
        self.depth = feeds.depth_limit
        self.watchdog_s = feeds.watchdog_s
        self.stale_after_s = stale_after_s
        self.health = FeedHealth(venue, symbol, publish)
        self.backoff = Backoff(
            feeds.backoff_initial_s, feeds.backoff_max_s, feeds.watchdog_s, rng=rng
        )
        self._on_update = on_update
        self._failures = 0  # errors since the last good update

    # -- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled; never raises for feed trouble."""
        self.health.set(FeedState.CONNECTING)
        while True:
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that
                # races with a result, and this loop would then never stop.
                async with asyncio.timeout(self.watchdog_s):
                    raw = await self.exchange.watch_order_book(self.symbol)
            except TimeoutError:
                await self._watchdog_fired()
                continue
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is None or task.cancelling():
                    raise
                # ccxt cancelled its own future: the socket was closed under us
                await self._down("connection closed")
                continue
            except ccxt.InvalidNonce as exc:  # ChecksumError: sequence gap
                self._resyncing(f"sequence gap: {exc}")
                self._failures += 1
                if self._failures > 1:  # gap after gap with no good update: slow down
                    await asyncio.sleep(self.backoff.next_delay())
                continue
            except ccxt.NetworkError as exc:
                await self._down(f"{type(exc).__name__}: {exc}")
                continue
            except ccxt.BaseError as exc:  # an exchange-side error (bad symbol, rejected, ...)
                await self._down(f"{type(exc).__name__}: {exc}", reconnect=True)
                continue
            except Exception as exc:  # noqa: BLE001 - ccxt choked on message content
                self.health.drop(f"update rejected by ccxt: {type(exc).__name__}: {exc}")
                self._resyncing("malformed update")
                await asyncio.sleep(self.backoff.next_delay())
                continue
            await self._on_book(raw)

    async def _on_book(self, raw: Any) -> None:
        received_at = time.time()
        try:
            bids: Sequence[Any] = raw["bids"][: self.depth]
            asks: Sequence[Any] = raw["asks"][: self.depth]
        except (KeyError, TypeError, IndexError):
            self.health.drop(f"update without bids/asks: {type(raw).__name__}")
            return
        if _crossed(bids, asks):
            self.health.drop(f"crossed book: bid {bids[0][0]} >= ask {asks[0][0]}")
            await self._resync("crossed book")
            return
        try:
            self.book.apply_snapshot(
                bids,
                asks,
                sequence=_int_or_none(raw.get("nonce")),
                exchange_ts=_seconds(raw.get("timestamp")),
                received_at=received_at,
            )
        except BookDataError as exc:
            self.health.drop(str(exc))
            # ccxt keeps the bad level in its cached book: every later update would carry it
            await self._resync(f"bad level from venue: {exc}")
            return
        self.health.last_update_at = received_at
        self._failures = 0
        self.backoff.note_healthy(received_at)
        self.health.set(FeedState.LIVE)
        if self._on_update is not None:
            try:
                self._on_update(self.venue, self.symbol, self.book)
            except Exception:  # noqa: BLE001 - a consumer bug must not stop the feed
                logger.exception("on_update failed for {} {}", self.venue, self.symbol)

    # -- state changes ---------------------------------------------------------------------

    def check_stale(self, now: float) -> None:
        """Periodic: a LIVE feed whose book has not changed for stale_after_s becomes STALE."""
        if self.health.state is FeedState.LIVE and now - self.book.received_at > self.stale_after_s:
            self.health.set(
                FeedState.STALE, f"no update for {(now - self.book.received_at) * 1000:.0f} ms"
            )

    def _resyncing(self, reason: str) -> None:
        self.health.resyncs += 1
        self.book.invalidate(reason)
        self.health.set(FeedState.RESYNCING, reason)

    async def _resync(self, reason: str) -> None:
        """Our book is fine but ccxt's copy is not: drop the socket so it starts afresh."""
        self._resyncing(reason)
        await self._reconnect()

    async def _down(self, reason: str, reconnect: bool = False) -> None:
        self._failures += 1
        self.book.invalidate(f"feed down: {reason}")
        self.health.set(FeedState.DOWN, reason)
        if reconnect:
            await self._reconnect()
        delay = self.backoff.next_delay()
        logger.info("feed {} {}: retrying in {:.2f}s", self.venue, self.symbol, delay)
        await asyncio.sleep(delay)

    async def _watchdog_fired(self) -> None:
        reason = f"no update for {self.watchdog_s:g}s (watchdog)"
        self.book.invalidate(reason)
        self.health.set(FeedState.STALE, reason)  # a no-op if the stale check got there first
        now = time.time()
        quiet_s = now - self.book.received_at if self.book.received_at else float("inf")
        if (
            self._venue_alive is not None
            and self._venue_alive(self, now)
            and quiet_s < QUIET_SYMBOL_PATIENCE * self.watchdog_s
        ):
            # The venue still talks on its other symbols, so this one is probably just quiet
            # (an illiquid pair). Closing a socket it may share with them would knock the
            # liquid pairs offline too; only a much longer silence forces a reconnect.
            return
        await self._reconnect()
        self.health.set(FeedState.CONNECTING, f"{reason}; reconnecting")

    async def _reconnect(self) -> None:
        """Close the ccxt websocket client(s) carrying this symbol; the next watch reopens."""
        self.health.reconnects += 1
        closed = await drop_symbol_connection(self.exchange, self.symbol)
        logger.info("feed {} {}: closed {} socket(s) to resync", self.venue, self.symbol, closed)


async def drop_symbol_connection(exchange: Any, symbol: str) -> int:
    """Close every ccxt.pro websocket client subscribed to `symbol`; returns how many."""
    clients = getattr(exchange, "clients", None)
    if not isinstance(clients, dict):
        return 0  # not a ccxt.pro exchange (the simulator): nothing to close
    closed = 0
    for url, client in list(clients.items()):
        subscriptions = getattr(client, "subscriptions", None) or {}
        if not any(subscribes_to(str(key), symbol) for key in subscriptions):
            continue
        # With `error` set, ccxt's on_close will not delete clients[url], which by then may
        # already hold the new client for the same url (the same guard ccxt uses itself).
        if getattr(client, "error", None) is None:
            client.error = ccxt.NetworkError(f"arbdesk: forced reconnect for {symbol}")
        if clients.get(url) is client:
            del clients[url]
        with contextlib.suppress(Exception):
            await client.close()
        closed += 1
    return closed


def subscribes_to(key: str, symbol: str) -> bool:
    """Whether a ccxt subscription key (`orderbook::BTC/USDT`, `book:ETH/BTC`, ...) names
    exactly `symbol`: `BTC/USD` must not match `BTC/USDT`, nor `BTC/USDT` match
    `BTC/USDT:USDT` (a perpetual)."""
    pattern = rf"(^|[:@,|]){re.escape(symbol)}($|::|[,|@])"
    return re.search(pattern, key) is not None


def _crossed(bids: Sequence[Any], asks: Sequence[Any]) -> bool:
    if not bids or not asks:
        return False
    try:
        return bool(float(bids[0][0]) >= float(asks[0][0]))
    except (TypeError, ValueError, IndexError, KeyError):
        return False  # not numbers: apply_snapshot rejects it with the precise reason


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _seconds(ms: object) -> float | None:
    if isinstance(ms, int | float) and not isinstance(ms, bool):
        return float(ms) / 1000.0
    return None
