"""The watchdog on a quiet symbol, and which sockets a forced reconnect closes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from core.book import OrderBook
from core.events import Event, FeedState
from core.feeds.supervisor import FeedSupervisor, drop_symbol_connection, subscribes_to
from core.settings import FeedSettings


def test_subscription_keys_match_the_exact_symbol_only() -> None:
    assert subscribes_to("orderbook::BTC/USDT", "BTC/USDT")
    assert subscribes_to("BTC/USDT", "BTC/USDT")
    assert subscribes_to("orderbook::BTC/USDT,ETH/USDT", "ETH/USDT")
    assert not subscribes_to("orderbook::BTC/USDT", "BTC/USD")
    assert not subscribes_to("orderbook::BTC/USDT:USDT", "BTC/USDT")
    assert not subscribes_to("orderbook::XBTC/USDT", "BTC/USDT")


class _Client:
    def __init__(self, keys: list[str]) -> None:
        self.subscriptions = {k: {} for k in keys}
        self.error: Exception | None = None
        self.closed = False

    async def close(self) -> None:
        self.closed = True


class _Exchange:
    """Just enough of a ccxt.pro exchange to count which clients get closed."""

    def __init__(self) -> None:
        self.clients: dict[str, Any] = {
            "wss://a": _Client(["orderbook::BTC/USDT"]),
            "wss://b": _Client(["orderbook::BTC/USD"]),
        }


def test_a_forced_reconnect_closes_only_the_symbols_socket() -> None:
    exchange = _Exchange()
    a, b = exchange.clients["wss://a"], exchange.clients["wss://b"]
    assert asyncio.run(drop_symbol_connection(exchange, "BTC/USD")) == 1
    assert b.closed and not a.closed


def _supervisor(exchange: Any, alive: bool, events: list[Event]) -> FeedSupervisor:
    book = OrderBook("v", "BTC/USD")
    book.apply_snapshot([[100.0, 1.0]], [[101.0, 1.0]], received_at=time.time() - 12)
    return FeedSupervisor(
        exchange,
        "v",
        "BTC/USD",
        book,
        FeedSettings(watchdog_s=10.0),
        3.0,
        events.append,
        venue_alive=lambda sup, now: alive,
    )


def test_a_quiet_symbol_on_a_live_venue_is_stale_but_keeps_the_shared_socket() -> None:
    exchange, events = _Exchange(), []
    sup = _supervisor(exchange, alive=True, events=events)
    asyncio.run(sup._watchdog_fired())
    assert sup.health.state is FeedState.STALE
    assert not sup.book.valid  # never traded on while quiet
    assert not exchange.clients["wss://b"].closed
    assert sup.health.reconnects == 0


def test_a_silent_venue_is_reconnected_by_the_watchdog() -> None:
    exchange, events = _Exchange(), []
    sup = _supervisor(exchange, alive=False, events=events)
    asyncio.run(sup._watchdog_fired())
    assert exchange.clients.get("wss://b") is None  # closed and removed
    assert sup.health.reconnects == 1
    assert sup.health.state is FeedState.CONNECTING


def test_a_quiet_symbol_is_reconnected_after_long_enough() -> None:
    exchange, events = _Exchange(), []
    sup = _supervisor(exchange, alive=True, events=events)
    sup.book.apply_snapshot([[100.0, 1.0]], [[101.0, 1.0]], received_at=time.time() - 31)
    asyncio.run(sup._watchdog_fired())
    assert sup.health.reconnects == 1
