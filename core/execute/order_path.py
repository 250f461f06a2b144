"""The one order path: every route kind's trade goes risk gate -> journal -> venue adapter here.

A route kind brings a plan (its opportunity made concrete: rounded CEX orders, a raw swap, a
flash transaction) and an adapter that sends its legs (CEX orders through core.execute.legs,
DEX transactions through core.execute.dex). Everything the kinds share lives in `OrderPath`,
one instance per engine run, so a new kind adds a plan and an adapter, not a third lifecycle:

- one trade in flight per route key, the shutdown latch, `max_concurrent_trades` and the TTL;
- the breaker permit, asked through the one `OrderGate` (admit, send check, release, outcome);
- the funds a trade counts on, held until it closes (`Reservations`);
- the journal rows and events of refusing, starting, withdrawing, finishing and aborting a
  trade (`TradeLedger`), and the active / finished lists and counters the console shows;
- `Submission`, the one answer every kind gives to `submit`, and `drain` at shutdown.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from core.events import Event
from core.execute.gate import OrderGate
from core.execute.ledger import Ending, TradeLedger
from core.execute.legs import LegRunner
from core.execute.reserve import Hold, Reservations
from core.execute.trades import ZERO, ExecutorStats, Submission, Trade, TradeView
from core.journal import Journal
from core.risk import CircuitBreaker, Decision
from core.settings import RiskSettings

Clock = Callable[[], float]
RouteKey = tuple[str, str, str]  # symbol, buy venue, sell venue
FINISHED_KEPT = 500
IN_FLIGHT = "a trade on this pair and route is already in flight"


class Refused(Exception):
    """The trade is not started; the message says why."""


class OrderPath:
    """The shared lifecycle of every trade, whatever its route kind (see the module doc)."""

    def __init__(
        self,
        journal: Journal,
        breaker: CircuitBreaker,
        risk: RiskSettings,
        legs: LegRunner,
        publish: Callable[[Event], None],
        clock: Clock,
    ) -> None:
        self.journal = journal
        self.risk = risk
        self.legs = legs
        self.clock = clock
        self.gate = OrderGate(breaker)
        """Every breaker question of every trade goes through it."""
        self.ledger = TradeLedger(journal, self.gate, legs, publish, clock, self._closed)
        """Adapters end their trades through it (finish, withdraw, or `abort` below)."""
        self.reservations = Reservations()
        """Funds held by trades in flight, across route kinds."""
        self.active: dict[str, Trade] = {}
        self.finished: deque[Trade] = deque(maxlen=FINISHED_KEPT)
        self._keys: set[RouteKey] = set()
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._accepting = True
        self._counts = {"opportunities": 0, "refused": 0, "executed": 0, "ok": 0, "failed": 0}
        self._volume = self._profit = self._profit_usd = self._fees = ZERO
        self._exec_time = 0.0

    # -- what the console and the engine read --------------------------------------------------

    def trades(self) -> list[TradeView]:
        """Active trades first (newest first), then finished ones (newest first)."""
        active = sorted(self.active.values(), key=lambda t: t.started_at, reverse=True)
        return [t.view() for t in active] + [t.view() for t in reversed(self.finished)]

    def trade(self, trade_id: str) -> TradeView | None:
        found = self.active.get(trade_id) or next(
            (t for t in self.finished if t.id == trade_id), None
        )
        return found.view() if found else None

    def stats(self) -> ExecutorStats:
        c = self._counts
        finished = c["ok"] + c["failed"]
        return ExecutorStats(
            opportunities=c["opportunities"],
            refused=c["refused"],
            executed=c["executed"],
            successful=c["ok"],
            failed=c["failed"],
            volume=self._volume,
            profit=self._profit,
            profit_usd=self._profit_usd,
            fees=self._fees,
            avg_profit_per_trade=self._profit / finished if finished else ZERO,
            avg_execution_s=self._exec_time / finished if finished else 0.0,
            success_rate=c["ok"] / finished if finished else 0.0,
        )

    @property
    def accepting(self) -> bool:
        return self._accepting

    def stop_accepting(self) -> None:
        """Refuse new trades from now on (shutdown); trades in flight carry on."""
        self._accepting = False

    def resume_accepting(self) -> None:
        self._accepting = True

    # -- before a trade starts -----------------------------------------------------------------

    def claim(self, opportunity: Any) -> RouteKey | None:
        """Count the submission and claim its route; None when a trade on it is in flight."""
        self._counts["opportunities"] += 1
        key: RouteKey = (opportunity.symbol, opportunity.buy_venue, opportunity.sell_venue)
        if key in self._keys:
            return None
        self._keys.add(key)
        return key

    def unclaim(self, key: RouteKey) -> None:
        self._keys.discard(key)

    def check_open(self, opportunity: Any) -> float:
        """Refuse when draining, at `max_concurrent_trades` or past the TTL; returns now."""
        if not self._accepting:
            raise Refused("shutting down: no new trades")
        limit = self.risk.max_concurrent_trades
        if len(self.active) >= limit:
            raise Refused(f"{len(self.active)} trades in flight (max_concurrent_trades {limit})")
        now = self.clock()
        if now > opportunity.expires_at:
            raise Refused(f"expired {now - opportunity.expires_at:.1f}s ago (ttl)")
        return now

    def precheck(self, opportunity: Any) -> float:
        """`check_open` plus the breaker's read-only answer: refuse before any round-trip."""
        now = self.check_open(opportunity)
        venues = (opportunity.buy_venue, opportunity.sell_venue)
        if refusal := self.gate.refusal(venues, opportunity.symbol, now):
            raise Refused(refusal)
        return now

    def admit(self, opportunity: Any) -> Decision:
        """Take the breaker permit (end it with finish / withdraw / abort, or `gate.release`)."""
        venues = (opportunity.buy_venue, opportunity.sell_venue)
        decision = self.gate.admit(venues, opportunity.symbol, self.clock())
        if not decision.allowed:
            raise Refused(decision.reason)
        return decision

    def refuse(self, opportunity: Any, reason: str) -> Submission:
        self._counts["refused"] += 1
        self.ledger.refuse(opportunity, reason)
        return Submission(False, reason)

    # -- a trade's life ------------------------------------------------------------------------

    def start(
        self,
        opportunity: Any,
        amount: Decimal,
        buy_price: Decimal,
        sell_price: Decimal,
        *,
        reason: str = "",
    ) -> Trade:
        """Journal (`sending`), list and announce a new trade."""
        return self.ledger.start(
            opportunity, amount, buy_price, sell_price, self._register, reason=reason
        )

    def _register(self, trade: Trade) -> None:
        self.active[trade.id] = trade
        self._counts["executed"] += 1

    def track(self, trade_id: str, key: RouteKey, task: asyncio.Task[Any]) -> None:
        """`task` runs the trade; the route is claimed until it ends, `drain` waits for it."""
        self._tasks[trade_id] = task

        def forget(_task: object) -> None:
            self._keys.discard(key)
            self._tasks.pop(trade_id, None)

        task.add_done_callback(forget)

    def task(self, trade_id: str) -> asyncio.Task[Any] | None:
        return self._tasks.get(trade_id)

    def launch(
        self,
        key: RouteKey,
        decision: Decision,
        hold: Hold,
        start: Callable[[], Trade],
        run: Callable[[Trade, asyncio.Future[None]], Awaitable[Any]],
        what: str,
    ) -> tuple[Trade, asyncio.Future[None]]:
        """Start a trade (`start`, e.g. `self.start(...)`) and the task that runs its legs
        (`run(trade, sent)`, which resolves `sent` once its first send is scheduled): the
        adapter awaits `sent` shielded. If this raises, nothing was sent: the permit and the
        funds go back and the trade leaves the active list. If `run` raises, the trade is
        aborted (`needs_attention`, naming `what` stopped); the funds go back when it ends."""
        trade: Trade | None = None
        try:
            trade = start()
            sent = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(self._guarded(trade, decision, hold, sent, run, what))
            self.track(trade.id, key, task)
        except BaseException:
            self.gate.release(decision)
            self.reservations.release(hold)
            if trade is not None:
                self.active.pop(trade.id, None)
            raise
        return trade, sent

    async def _guarded(
        self,
        trade: Trade,
        decision: Decision,
        hold: Hold,
        sent: asyncio.Future[None],
        run: Callable[[Trade, asyncio.Future[None]], Awaitable[Any]],
        what: str,
    ) -> Trade:
        try:
            await run(trade, sent)
        except BaseException as exc:
            if not sent.done():
                sent.set_exception(exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
            why = f"{what} stopped mid-trade ({type(exc).__name__}: {exc}); check the venues"
            self.abort(trade, decision, why)
            raise
        finally:
            self.reservations.release(hold)
        return trade

    async def wait(self, trade_id: str) -> None:
        """Until the trade's task ends (shielded: giving up waiting never cancels it)."""
        task = self._tasks.get(trade_id)
        if task is not None:
            await asyncio.shield(task)

    def abort(self, trade: Trade, decision: Decision, why: str) -> None:
        """A bug or a cancellation mid-trade: `needs_attention`, never silent, never dropped
        (a trade that already ended is left as it ended)."""
        if trade.id in self.active:
            self.ledger.abort(trade, decision, why)

    def _closed(self, trade: Trade, ending: Ending) -> None:
        """The ledger's close hook: count how the trade ended, move it to the finished list."""
        if ending == "withdrawn":  # sent nothing: the caller refuses the opportunity instead
            self._counts["executed"] -= 1
        elif ending == "aborted":
            self._counts["failed"] += 1
        else:  # finished: the ledger has set every figure by now
            assert trade.realized_pnl is not None and trade.realized_pnl_usd is not None
            assert trade.finished_at is not None
            self._counts["ok" if ending == "completed" else "failed"] += 1
            self._volume += trade.volume
            self._profit += trade.realized_pnl
            self._profit_usd += trade.realized_pnl_usd
            self._fees += trade.fees
            self._exec_time += trade.finished_at - trade.started_at
        self.active.pop(trade.id, None)
        self.finished.append(trade)
        if not self.active:  # idle: the WAL checkpoint (an fsync) stays off the order path
            self.journal.checkpoint()
        self.ledger.closed(trade)

    # -- shutdown ------------------------------------------------------------------------------

    async def drain(self, timeout_s: float | None = None) -> list[str]:
        """Take no new trades and let those in flight finish; the ids still in flight."""
        self._accepting = False
        tasks = list(self._tasks.values())
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)
        return [t.id for t in self.active.values()]
