"""Nonces for locally signed transactions: never skipped, never reused, under concurrency.

A nonce is handed out inside `async with manager.claim(address) as nonce:` and counts as used
only when the block exits without an exception (the node accepted the transaction). Holding the
per-address lock across sign + send keeps the node receiving one account's transactions in
nonce order, which anvil (and every mempool) needs to keep them all pending.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager


class NonceManager:
    """`fetch(address)` returns the account's pending transaction count from the node."""

    def __init__(self, fetch: Callable[[str], Awaitable[int]]) -> None:
        self._fetch = fetch
        self._next: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def claim(self, address: str) -> AsyncIterator[int]:
        """The next nonce of `address`; consumed only if the body completes."""
        lock = self._locks.setdefault(address, asyncio.Lock())
        async with lock:
            if address not in self._next:
                self._next[address] = await self._fetch(address)
            nonce = self._next[address]
            yield nonce
            self._next[address] = nonce + 1

    async def resync(self, address: str) -> int:
        """Forget the local count and read it again (after 'nonce too low' or a restart)."""
        lock = self._locks.setdefault(address, asyncio.Lock())
        async with lock:
            self._next[address] = await self._fetch(address)
            return self._next[address]

    def peek(self, address: str) -> int | None:
        """The nonce the next claim would get, if known."""
        return self._next.get(address)
