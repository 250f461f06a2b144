"""The engine's copy of the journal's trade statistics (`core.trade_stats`), recomputed every
few seconds and soon after a trade finishes, so that snapshots and /metrics read a cached
value instead of running SQL each frame or scrape.

The read runs in a worker thread on a read-only connection of its own (`read_stats_rows`): a
`Journal`'s connection belongs to the event loop's thread, and the read grows with the journal
(about 0.4 s for 20,000 trades and 200,000 opportunities), which the loop must not wait for.
A journal in memory has no second connection, so it is read on the loop (tests only).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from loguru import logger

from core.events import Event, TradeFinished
from core.journal import Journal, read_stats_rows
from core.trade_stats import TradeStats, trade_stats

EVERY_S = 5.0
MIN_GAP_S = 1.0  # between two reads, however fast trades finish


class TradeStatsCache:
    def __init__(
        self,
        journal: Callable[[], Journal | None],
        every_s: float = EVERY_S,
        min_gap_s: float = MIN_GAP_S,
    ) -> None:
        self.journal = journal
        self.every_s = every_s
        self.min_gap_s = min_gap_s
        self.latest = TradeStats()
        self._due = asyncio.Event()

    def on_event(self, event: Event) -> None:
        """A bus listener: a finished trade changes the figures."""
        if isinstance(event, TradeFinished):
            self._due.set()

    async def run(self) -> None:
        """Refresh, then wait for a finished trade or `every_s`; one read at a time."""
        while True:
            self._due.clear()
            await self.refresh()
            await asyncio.sleep(self.min_gap_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._due.wait(), max(0.0, self.every_s - self.min_gap_s))

    async def refresh(self) -> None:
        journal = self.journal()
        if journal is None:
            return
        try:
            if str(journal.path) == ":memory:":
                self.latest = trade_stats(journal.stats_rows())
            else:
                self.latest = await asyncio.to_thread(_read, str(journal.path))
        except Exception as exc:  # the figures go stale, trading goes on; said in the log
            logger.warning("trade statistics not read from the journal: {!r}", exc)


def _read(path: str) -> TradeStats:
    return trade_stats(read_stats_rows(path))
