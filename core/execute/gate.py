"""The one place order paths ask the circuit breaker.

The CEX executor, the on-chain trader, their shared ledger and the liquidation path all admit,
send, release and account trades through `OrderGate`, so the rules of a permit (taken once,
asked again right before sending, ended exactly once by a result or a release) live in one
module instead of being re-spelled at each call site. The breaker itself (core.risk) stays the
state machine; its commands (kill, resume) and read-outs (state, view) are not order admission
and are used directly by the engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from core.risk import CircuitBreaker, Decision


class OrderGate:
    """Admission, send check and outcome of every trade, over one `CircuitBreaker`.

    Stateless: every method asks the breaker at call time (so several gates over one breaker,
    or a breaker method patched in a test, behave as the breaker does). `now` is passed through;
    None means the breaker's own clock.
    """

    def __init__(self, breaker: CircuitBreaker) -> None:
        self.breaker = breaker

    def refusal(
        self, venues: Iterable[str], symbol: str | None = None, now: float | None = None
    ) -> str:
        """Why a trade on `venues` could not start now ('' when it could). Takes no permit."""
        decision = self.breaker.check(venues, symbol, now)
        return "" if decision.allowed else decision.reason

    def tradeable(
        self, venues: Iterable[str], symbol: str | None = None, now: float | None = None
    ) -> bool:
        """Read-only preview: would `admit` let a trade on `venues` through now?"""
        return self.breaker.check(venues, symbol, now).allowed

    def admit(
        self, venues: Iterable[str], symbol: str | None = None, now: float | None = None
    ) -> Decision:
        """Take the permit for a trade on `venues` (or say why not: `allowed` False).

        An allowed permit must be ended by `record_trade`, or by `release` if nothing was sent.
        """
        return self.breaker.acquire(venues, symbol, now)

    def send_refusal(self, decision: Decision) -> str:
        """Why the holder of `decision` must not send now ('' when it may); asked right before
        each send, since the awaits after the permit can outlast a kill or a trip."""
        return self.breaker.send_refusal(decision)

    def release(self, decision: Decision) -> None:
        """Give back a permit that sent nothing (a refusal is a no-op)."""
        self.breaker.release(decision)

    def record_slippage(self, venue: str, slippage_bps: float, now: float | None = None) -> None:
        """A fill on `venue` slipped `slippage_bps` from the detected price."""
        self.breaker.record_slippage(venue, slippage_bps, now)

    def record_trade(
        self,
        decision: Decision,
        ok: bool,
        pnl_usd: Decimal,
        failed_venues: Iterable[str] = (),
        now: float | None = None,
    ) -> None:
        """End the permit of a trade that sent something, with its result."""
        self.breaker.record_trade(decision, ok, pnl_usd, failed_venues, now)
