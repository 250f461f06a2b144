"""Circuit breaker, kill switch and the risk gate every trade passes through.

One explicit state machine per scope: the ``global`` scope and one per venue.

    CLOSED --trip--> OPEN --cooldown elapsed--> HALF_OPEN --trial ok--> CLOSED
                       ^                            |
                       +--------trial failed--------+

Trips: consecutive failed trades >= ``max_consecutive_failures`` (global, and per venue for
the venue whose leg failed), today's (UTC) realized loss >= ``max_daily_loss_usd`` (global), a
stale or disconnected feed of a venue in a trade (that venue), a fill slipping beyond
``max_slippage_bps`` (that venue), and the kill switch (global).

HALF_OPEN lets exactly one trial trade through per scope: `acquire` hands out the slot, and the
trade's result closes the scope or re-opens it. A daily-loss trip stays OPEN until the UTC day
rolls over, and a kill only ends with an explicit `resume`: a cooldown alone never re-opens
trading after either.

`check` is a pure question (used before an opportunity is queued for approval); `acquire` is
the executor's commitment just before it sends legs. Every refusal carries a reason a trader can
read, and every transition is published as `BreakerTransitioned` and written to the journal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from core.bus import EventBus
from core.events import BreakerTransitioned, Event, FeedHealthChanged, FeedState, KillSwitchToggled
from core.journal import Journal
from core.records import BreakerEventRecord
from core.settings import RiskSettings, ThresholdSettings

GLOBAL = "global"
Clock = Callable[[], float]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Cause(StrEnum):
    CONSECUTIVE_FAILURES = "consecutive_failures"
    DAILY_LOSS = "daily_loss"
    FEED = "feed"
    SLIPPAGE = "slippage"
    KILL_SWITCH = "kill_switch"
    # causes of the way back
    COOLDOWN_ELAPSED = "cooldown_elapsed"
    TRIAL_SUCCEEDED = "trial_succeeded"
    TRIAL_FAILED = "trial_failed"
    RESUMED = "resumed"
    NEW_DAY = "new_day"


_UNHEALTHY_FEEDS = frozenset({FeedState.STALE, FeedState.DOWN})


@dataclass(frozen=True, slots=True)
class Decision:
    """The gate's answer. `trial_scopes` are the HALF_OPEN slots this permit holds."""

    allowed: bool
    reason: str
    trial_scopes: tuple[str, ...] = ()
    venues: tuple[str, ...] = ()


@dataclass(slots=True)
class _Scope:
    name: str
    state: BreakerState = BreakerState.CLOSED
    cause: str = ""
    reason: str = ""
    opened_at: float = 0.0
    consecutive_failures: int = 0
    trial_in_flight: bool = False


@dataclass(frozen=True, slots=True)
class ScopeView:
    name: str
    state: BreakerState
    cause: str
    reason: str
    opened_at: float
    reopens_at: float | None  # when HALF_OPEN becomes possible (None: not by time alone)
    consecutive_failures: int


@dataclass(frozen=True, slots=True)
class BreakerView:
    """A snapshot for the console."""

    killed: bool
    kill_reason: str
    daily_pnl_usd: Decimal
    scopes: tuple[ScopeView, ...] = field(default=())


class _OpportunityLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def symbol(self) -> str: ...
    @property
    def buy_venue(self) -> str: ...
    @property
    def sell_venue(self) -> str: ...
    @property
    def expires_at(self) -> float: ...


def utc_day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def utc_day_start(ts: float) -> float:
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


class CircuitBreaker:
    def __init__(
        self,
        risk: RiskSettings,
        thresholds: ThresholdSettings,
        *,
        journal: Journal | None = None,
        bus: EventBus | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.risk = risk
        self.thresholds = thresholds
        self._journal = journal
        self._bus = bus
        self._clock = clock
        self._scopes: dict[str, _Scope] = {GLOBAL: _Scope(GLOBAL)}
        self._feeds: dict[tuple[str, str], tuple[FeedState, str]] = {}
        self._active: dict[str, int] = {}  # venue -> trades in flight holding a permit
        self.killed = False
        self.kill_reason = ""
        now = clock()
        self._day = utc_day(now)
        self.daily_pnl_usd = (
            journal.realized_pnl_usd_since(utc_day_start(now)) if journal else Decimal(0)
        )
        if self.daily_pnl_usd <= -Decimal(str(risk.max_daily_loss_usd)):
            self.trip(GLOBAL, Cause.DAILY_LOSS, self._daily_loss_reason(), now)

    # -- reading ---------------------------------------------------------------------------

    def state(self, scope: str = GLOBAL) -> BreakerState:
        return self._scope(scope).state

    def view(self, now: float | None = None) -> BreakerView:
        now = self._clock() if now is None else now
        self._advance(now)
        return BreakerView(
            killed=self.killed,
            kill_reason=self.kill_reason,
            daily_pnl_usd=self.daily_pnl_usd,
            scopes=tuple(
                ScopeView(
                    name=s.name,
                    state=s.state,
                    cause=s.cause,
                    reason=s.reason,
                    opened_at=s.opened_at,
                    reopens_at=self._reopens_at(s),
                    consecutive_failures=s.consecutive_failures,
                )
                for s in self._scopes.values()
            ),
        )

    def _scope(self, name: str) -> _Scope:
        scope = self._scopes.get(name)
        if scope is None:
            scope = self._scopes[name] = _Scope(name)
        return scope

    def _reopens_at(self, scope: _Scope) -> float | None:
        if scope.state is not BreakerState.OPEN:
            return None
        if scope.cause == Cause.KILL_SWITCH:
            return None
        if scope.cause == Cause.DAILY_LOSS:
            return utc_day_start(scope.opened_at) + 86_400
        return scope.opened_at + self.risk.cooldown_s

    # -- the gate --------------------------------------------------------------------------

    def check(
        self, venues: Iterable[str], symbol: str | None = None, now: float | None = None
    ) -> Decision:
        """May a trade on these venues start now? Changes nothing but time-driven states."""
        now = self._clock() if now is None else now
        self._advance(now)
        venues = tuple(dict.fromkeys(venues))
        reason = self._refusal(venues, symbol)
        if reason:
            return Decision(False, reason, venues=venues)
        return Decision(True, "ok", venues=venues)

    def acquire(
        self, venues: Iterable[str], symbol: str | None = None, now: float | None = None
    ) -> Decision:
        """Commit to a trade: takes the HALF_OPEN trial slots; a bad feed trips its venue.

        Every allowed permit must be ended by `record_trade` (or `release` if nothing was sent).
        """
        now = self._clock() if now is None else now
        self._advance(now)
        venues = tuple(dict.fromkeys(venues))
        for venue in venues:
            bad = self._bad_feed(venue, symbol)
            if bad and self._scope(venue).state is not BreakerState.OPEN:
                self.trip(venue, Cause.FEED, bad, now)
        reason = self._refusal(venues, symbol)
        if reason:
            return Decision(False, reason, venues=venues)
        trials = []
        for name in (GLOBAL, *venues):
            scope = self._scope(name)
            if scope.state is BreakerState.HALF_OPEN:
                scope.trial_in_flight = True
                trials.append(name)
        for venue in venues:
            self._active[venue] = self._active.get(venue, 0) + 1
        reason = "trial trade (half-open: " + ", ".join(trials) + ")" if trials else "ok"
        return Decision(True, reason, trial_scopes=tuple(trials), venues=venues)

    def release(self, decision: Decision) -> None:
        """Give back a permit that was not used (nothing was sent)."""
        if not decision.allowed:
            return
        for name in decision.trial_scopes:
            self._scope(name).trial_in_flight = False
        self._done(decision.venues)

    def send_refusal(self, decision: Decision) -> str:
        """Why the holder of `decision` must not send now ('' when it may): the kill switch,
        or a scope it covers opened since the permit was taken. Checked right before sending,
        since the awaits between the permit and the send can take a while."""
        if self.killed:
            return f"kill switch on: {self.kill_reason}"
        for name in (GLOBAL, *decision.venues):
            scope = self._scopes.get(name)
            if scope is not None and scope.state is BreakerState.OPEN:
                label = "breaker" if name == GLOBAL else f"{name} breaker"
                return f"{label} open ({scope.cause}): {scope.reason}"
        return ""

    def _done(self, venues: Iterable[str]) -> None:
        for venue in venues:
            left = self._active.get(venue, 0) - 1
            if left > 0:
                self._active[venue] = left
            else:
                self._active.pop(venue, None)

    def _refusal(self, venues: tuple[str, ...], symbol: str | None) -> str:
        if self.killed:
            return f"kill switch on: {self.kill_reason}"
        for name in (GLOBAL, *venues):
            scope = self._scope(name)
            label = "breaker" if name == GLOBAL else f"{name} breaker"
            if scope.state is BreakerState.OPEN:
                reopen = self._reopens_at(scope)
                when = "" if reopen is None else f"; trial possible at {_hms(reopen)} UTC"
                if scope.cause == Cause.DAILY_LOSS:
                    when = "; trading resumes at 00:00 UTC or on resume"
                return f"{label} open ({scope.cause}): {scope.reason}{when}"
            if scope.state is BreakerState.HALF_OPEN and scope.trial_in_flight:
                return f"{label} half-open: its one trial trade is still in flight"
        for venue in venues:
            bad = self._bad_feed(venue, symbol)
            if bad:
                return bad
        return ""

    def _bad_feed(self, venue: str, symbol: str | None) -> str:
        for (v, s), (state, why) in self._feeds.items():
            if v == venue and (symbol is None or s == symbol) and state in _UNHEALTHY_FEEDS:
                detail = f": {why}" if why else ""
                return f"feed {venue} {s} is {state}{detail}"
        return ""

    # -- what trips it ---------------------------------------------------------------------

    def record_trade(
        self,
        decision: Decision,
        ok: bool,
        pnl_usd: Decimal,
        failed_venues: Iterable[str] = (),
        now: float | None = None,
    ) -> None:
        """The result of a trade that held `decision`: success resets, failure counts."""
        now = self._clock() if now is None else now
        self._advance(now)
        self._done(decision.venues)
        self.daily_pnl_usd += pnl_usd
        failed = set(failed_venues)
        limit = self.risk.max_consecutive_failures
        scope_names = [GLOBAL, *decision.venues]
        for name in scope_names:
            scope = self._scope(name)
            counted = name == GLOBAL or name in failed
            if ok:
                scope.consecutive_failures = 0
            elif counted:
                scope.consecutive_failures += 1
            if name in decision.trial_scopes and scope.state is BreakerState.HALF_OPEN:
                scope.trial_in_flight = False
                if ok:
                    self._transition(
                        scope,
                        BreakerState.CLOSED,
                        Cause.TRIAL_SUCCEEDED,
                        "trial trade succeeded",
                        now,
                    )
                else:
                    self._open(scope, Cause.TRIAL_FAILED, "trial trade failed", now)
            elif not ok and counted and scope.consecutive_failures >= limit:
                if scope.state is not BreakerState.OPEN:
                    what = "trades" if name == GLOBAL else f"legs on {name}"
                    self.trip(
                        name,
                        Cause.CONSECUTIVE_FAILURES,
                        f"{scope.consecutive_failures} failed {what} in a row (limit {limit})",
                        now,
                    )
        if self.daily_pnl_usd <= -Decimal(str(self.risk.max_daily_loss_usd)):
            if not (
                self._scopes[GLOBAL].state is BreakerState.OPEN
                and self._scopes[GLOBAL].cause == Cause.DAILY_LOSS
            ):
                self.trip(GLOBAL, Cause.DAILY_LOSS, self._daily_loss_reason(), now)

    def _daily_loss_reason(self) -> str:
        return (
            f"realized loss today {(-self.daily_pnl_usd):.2f} USD reached the limit "
            f"{self.risk.max_daily_loss_usd:.2f} USD"
        )

    def record_slippage(self, venue: str, slippage_bps: float, now: float | None = None) -> None:
        """A fill on `venue` moved `slippage_bps` against us from the detected price."""
        limit = self.thresholds.max_slippage_bps
        if slippage_bps > limit:
            now = self._clock() if now is None else now
            scope = self._scope(venue)
            if scope.state is not BreakerState.OPEN:
                self.trip(
                    venue,
                    Cause.SLIPPAGE,
                    f"fill slipped {slippage_bps:.1f} bps (limit {limit:g})",
                    now,
                )

    def feed_health(
        self, venue: str, symbol: str, state: FeedState, reason: str = "", now: float | None = None
    ) -> None:
        """Feed supervisor news; a bad feed of a venue with a trade in flight trips that venue."""
        self._feeds[(venue, symbol)] = (state, reason)
        if state in _UNHEALTHY_FEEDS and self._active.get(venue, 0) > 0:
            now = self._clock() if now is None else now
            scope = self._scope(venue)
            if scope.state is not BreakerState.OPEN:
                detail = f": {reason}" if reason else ""
                self.trip(
                    venue, Cause.FEED, f"feed {venue} {symbol} is {state} mid-trade{detail}", now
                )

    def on_event(self, event: Event) -> None:
        """Bus listener: `bus.listen(breaker.on_event)` feeds it feed-health changes."""
        if isinstance(event, FeedHealthChanged):
            self.feed_health(event.venue, event.symbol, event.state, event.reason, event.at)

    def trip(self, scope_name: str, cause: Cause, reason: str, now: float | None = None) -> None:
        now = self._clock() if now is None else now
        scope = self._scope(scope_name)
        scope.trial_in_flight = False
        self._open(scope, cause, reason, now)

    # -- kill switch -----------------------------------------------------------------------

    def kill(self, reason: str = "kill switch pressed", now: float | None = None) -> None:
        """Halt new trades at once; only `resume` lifts it."""
        now = self._clock() if now is None else now
        if self.killed:
            return
        self.killed = True
        self.kill_reason = reason
        self._open(self._scopes[GLOBAL], Cause.KILL_SWITCH, reason, now)
        self._publish(KillSwitchToggled(active=True, reason=reason, at=now))

    def resume(self, reason: str = "resumed by the trader", now: float | None = None) -> None:
        """Lift the kill switch (and a global trip) explicitly: global goes CLOSED."""
        now = self._clock() if now is None else now
        was_killed = self.killed
        self.killed = False
        self.kill_reason = ""
        scope = self._scopes[GLOBAL]
        scope.consecutive_failures = 0
        scope.trial_in_flight = False
        if scope.state is not BreakerState.CLOSED:
            self._transition(scope, BreakerState.CLOSED, Cause.RESUMED, reason, now)
        if was_killed:
            self._publish(KillSwitchToggled(active=False, reason=reason, at=now))

    # -- state machine ---------------------------------------------------------------------

    def _advance(self, now: float) -> None:
        """Time-driven transitions: day roll-over, cooldown OPEN -> HALF_OPEN."""
        day = utc_day(now)
        if day != self._day:
            self._day = day
            self.daily_pnl_usd = Decimal(0)
        for scope in self._scopes.values():
            if scope.state is not BreakerState.OPEN:
                continue
            reopen = self._reopens_at(scope)
            if reopen is None or now < reopen:
                continue
            if scope.cause == Cause.DAILY_LOSS:
                self._transition(scope, BreakerState.HALF_OPEN, Cause.NEW_DAY, "new UTC day", now)
            else:
                self._transition(
                    scope,
                    BreakerState.HALF_OPEN,
                    Cause.COOLDOWN_ELAPSED,
                    f"cooldown {self.risk.cooldown_s:g}s elapsed; one trial trade allowed",
                    now,
                )

    def _open(self, scope: _Scope, cause: Cause, reason: str, now: float) -> None:
        self._transition(scope, BreakerState.OPEN, cause, reason, now)
        scope.opened_at = now
        scope.cause = str(cause)
        scope.reason = reason

    def _transition(
        self, scope: _Scope, to: BreakerState, cause: Cause, reason: str, now: float
    ) -> None:
        before = scope.state
        scope.state = to
        if to is not BreakerState.OPEN:
            scope.trial_in_flight = False
            if to is BreakerState.CLOSED:
                scope.consecutive_failures = 0
        if self._journal is not None:
            self._journal.record_breaker_event(
                BreakerEventRecord(scope.name, str(before), str(to), str(cause), reason, now)
            )
        self._publish(
            BreakerTransitioned(
                scope=scope.name,
                from_state=str(before),
                to_state=str(to),
                cause=str(cause),
                reason=reason,
                at=now,
            )
        )

    def _publish(self, event: Event) -> None:
        if self._bus is not None:
            self._bus.publish(event)


class RiskGate:
    """The question asked of every opportunity: may it be traded now, and if not, why not."""

    def __init__(self, breaker: CircuitBreaker) -> None:
        self.breaker = breaker

    def check(self, opportunity: _OpportunityLike | Any, now: float) -> Decision:
        if now > opportunity.expires_at:
            return Decision(
                False, f"expired {now - opportunity.expires_at:.1f}s ago (ttl)", venues=()
            )
        return self.breaker.check(
            (opportunity.buy_venue, opportunity.sell_venue), opportunity.symbol, now
        )


def _hms(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S")
