"""A small in-process pub/sub bus for core events.

`publish` is synchronous and never blocks the publisher (feeds publish thousands of events a
second). Each subscriber owns a bounded buffer; when a slow subscriber's buffer is full the
oldest events are dropped and counted, so one slow consumer can never stall the engine.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable

from core.events import Event

Listener = Callable[[Event], None]


class Subscription:
    """An async-iterable view of the bus, filtered by event type."""

    def __init__(self, bus: EventBus, types: tuple[type[Event], ...], maxlen: int) -> None:
        self._bus = bus
        self._types = types
        self._buffer: deque[Event] = deque(maxlen=maxlen)
        self._ready = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def offer(self, event: Event) -> None:
        if self._types and not isinstance(event, self._types):
            return
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1
        self._buffer.append(event)
        self._ready.set()

    def drain(self) -> list[Event]:
        """Everything buffered now, without waiting."""
        events = list(self._buffer)
        self._buffer.clear()
        self._ready.clear()
        return events

    async def next_batch(self, max_wait_s: float | None = None) -> list[Event]:
        """Wait for at least one event (or the timeout), then return all that are buffered."""
        if not self._buffer and not self.closed:
            try:
                await asyncio.wait_for(self._ready.wait(), max_wait_s)
            except TimeoutError:
                return []
        return self.drain()

    def close(self) -> None:
        self.closed = True
        self._ready.set()
        self._bus.unsubscribe(self)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while not self.closed:
            for event in await self.next_batch():
                yield event


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self._listeners: list[Listener] = []
        self._pending: deque[Event] = deque()
        self._delivering = False

    def subscribe(self, *types: type[Event], maxlen: int = 100_000) -> Subscription:
        sub = Subscription(self, types, maxlen)
        self._subscriptions.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subscriptions:
            self._subscriptions.remove(sub)

    def listen(self, listener: Listener) -> None:
        """A synchronous in-core listener, called inline on publish (keep it fast)."""
        self._listeners.append(listener)

    def publish(self, event: Event) -> None:
        """Deliver in publish order: an event a listener publishes while handling another
        (the breaker reacting to a stale feed) is queued and delivered after its cause."""
        self._pending.append(event)
        if self._delivering:
            return
        self._delivering = True
        try:
            while self._pending:
                current = self._pending.popleft()
                for sub in self._subscriptions:
                    sub.offer(current)
                for listener in self._listeners:
                    listener(current)
        finally:
            self._delivering = False
