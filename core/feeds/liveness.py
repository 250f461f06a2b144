"""Feed health bookkeeping: the state of one (venue, symbol) stream and a backoff policy.

`FeedHealth` publishes a `FeedHealthChanged` only when the state really changes, so a
consumer sees CONNECTING -> LIVE -> STALE -> LIVE ... and never a flood of repeats.
`Backoff` is exponential with full jitter (a uniform draw in [0, cap]) so that many feeds that
failed together do not reconnect together; it forgets past failures only after the feed has
been healthy for a while, so a feed that flaps (connects, then drops at once) still backs off.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from loguru import logger

from core.events import Event, FeedHealthChanged, FeedMessageDropped, FeedState

Publish = Callable[[Event], None]


class Backoff:
    """Full-jitter exponential backoff: delay n is uniform in [0, min(max, initial * 2**n)]."""

    def __init__(
        self,
        initial_s: float,
        max_s: float,
        healthy_after_s: float,
        rng: random.Random | None = None,
    ) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self.healthy_after_s = healthy_after_s
        self.attempts = 0
        self._rng = rng or random.Random()
        self._healthy_since: float | None = None

    def next_delay(self) -> float:
        cap = min(self.max_s, self.initial_s * 2.0 ** min(self.attempts, 30))
        self.attempts += 1
        self._healthy_since = None
        return self._rng.uniform(0.0, cap)

    def note_healthy(self, now: float) -> None:
        """Call on each good update; the attempt count resets after a healthy period."""
        if self.attempts == 0:
            return
        if self._healthy_since is None:
            self._healthy_since = now
        elif now - self._healthy_since >= self.healthy_after_s:
            self.attempts = 0
            self._healthy_since = None


class FeedHealth:
    """The health of one stream, with the counters the console shows."""

    def __init__(self, venue: str, symbol: str, publish: Publish) -> None:
        self.venue = venue
        self.symbol = symbol
        self.state: FeedState | None = None
        self.reason = ""
        self.dropped = 0
        self.reconnects = 0
        self.resyncs = 0
        self.last_update_at = 0.0
        self._publish = publish

    def set(self, state: FeedState, reason: str = "") -> bool:
        """Move to `state`; publishes and logs only on a change. Returns True if it changed."""
        if state is self.state:
            return False
        self.state = state
        self.reason = reason
        log = logger.info if state in (FeedState.LIVE, FeedState.CONNECTING) else logger.warning
        log(
            "feed {} {} -> {}{}", self.venue, self.symbol, state.value, f": {reason}" * bool(reason)
        )
        self._publish(FeedHealthChanged(self.venue, self.symbol, state, reason, at=time.time()))
        return True

    def drop(self, reason: str) -> None:
        """Count one rejected message and report it."""
        self.dropped += 1
        logger.warning(
            "feed {} {}: dropped message #{}: {}", self.venue, self.symbol, self.dropped, reason
        )
        self._publish(
            FeedMessageDropped(self.venue, self.symbol, reason, self.dropped, at=time.time())
        )
