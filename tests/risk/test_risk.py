"""Circuit breaker state machine: each cause trips it, recovery through half-open, kill switch."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from core.bus import EventBus
from core.events import BreakerTransitioned, FeedHealthChanged, FeedState, KillSwitchToggled
from core.journal import Journal
from core.risk import GLOBAL, BreakerState, CircuitBreaker, Decision, RiskGate
from core.settings import RiskSettings, ThresholdSettings

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
VENUES = ("a", "b")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def make(tmp_path: Path, **risk: float) -> tuple[CircuitBreaker, Clock, list[object], Journal]:
    clock = Clock()
    bus = EventBus()
    events: list[object] = []
    bus.listen(events.append)
    journal = Journal(tmp_path / "j.sqlite3")
    settings = RiskSettings.model_validate(
        {"max_consecutive_failures": 2, "max_daily_loss_usd": 100.0, "cooldown_s": 30.0, **risk}
    )
    breaker = CircuitBreaker(
        settings, ThresholdSettings(max_slippage_bps=20.0), journal=journal, bus=bus, clock=clock
    )
    return breaker, clock, events, journal


def fail(breaker: CircuitBreaker, failed: tuple[str, ...] = ("b",), pnl: str = "-1") -> Decision:
    permit = breaker.acquire(VENUES)
    assert permit.allowed, permit.reason
    breaker.record_trade(permit, False, Decimal(pnl), failed)
    return permit


def succeed(breaker: CircuitBreaker) -> Decision:
    permit = breaker.acquire(VENUES)
    assert permit.allowed, permit.reason
    breaker.record_trade(permit, True, Decimal("1"))
    return permit


def test_consecutive_failures_trip_and_half_open_recovers(tmp_path: Path) -> None:
    breaker, clock, events, journal = make(tmp_path)
    fail(breaker)
    succeed(breaker)  # a success resets the count
    fail(breaker)
    assert breaker.state() is BreakerState.CLOSED
    fail(breaker)
    assert breaker.state() is BreakerState.OPEN
    assert breaker.state("b") is BreakerState.OPEN  # b's legs failed twice too
    assert breaker.state("a") is BreakerState.CLOSED
    refused = breaker.check(VENUES)
    assert not refused.allowed and "2 failed trades in a row" in refused.reason

    clock.now += 29
    assert not breaker.check(VENUES).allowed
    clock.now += 2
    assert breaker.check(VENUES).allowed  # cooldown elapsed
    assert breaker.state() is BreakerState.HALF_OPEN
    trial = breaker.acquire(VENUES)
    assert trial.allowed and set(trial.trial_scopes) == {GLOBAL, "b"}
    second = breaker.acquire(VENUES)
    assert not second.allowed and "trial trade is still in flight" in second.reason
    breaker.record_trade(trial, True, Decimal("2"))
    assert breaker.state() is BreakerState.CLOSED and breaker.state("b") is BreakerState.CLOSED

    states = [(e.scope, e.to_state) for e in events if isinstance(e, BreakerTransitioned)]
    assert states == [
        (GLOBAL, "open"),
        ("b", "open"),
        (GLOBAL, "half_open"),
        ("b", "half_open"),
        (GLOBAL, "closed"),
        ("b", "closed"),
    ]
    assert [(r.scope, r.to_state) for r in journal.breaker_events()] == states


def test_failed_trial_reopens(tmp_path: Path) -> None:
    breaker, clock, _, _ = make(tmp_path)
    fail(breaker)
    fail(breaker)
    clock.now += 31
    trial = breaker.acquire(VENUES)
    breaker.record_trade(trial, False, Decimal("-1"), ("b",))
    assert breaker.state() is BreakerState.OPEN
    assert breaker.view().scopes[0].cause == "trial_failed"
    clock.now += 31
    assert breaker.check(VENUES).allowed


def test_released_trial_frees_the_slot(tmp_path: Path) -> None:
    breaker, clock, _, _ = make(tmp_path)
    fail(breaker)
    fail(breaker)
    clock.now += 31
    trial = breaker.acquire(VENUES)
    breaker.release(trial)
    assert breaker.acquire(VENUES).allowed


def test_daily_loss_trips_until_the_next_utc_day(tmp_path: Path) -> None:
    breaker, clock, _, journal = make(tmp_path)
    permit = breaker.acquire(VENUES)
    breaker.record_trade(permit, True, Decimal("-60"))
    assert breaker.state() is BreakerState.CLOSED
    permit = breaker.acquire(VENUES)
    breaker.record_trade(permit, True, Decimal("-45"))
    assert breaker.state() is BreakerState.OPEN
    refused = breaker.check(VENUES)
    assert "realized loss today 105.00 USD" in refused.reason and "00:00 UTC" in refused.reason
    clock.now += 3600  # an hour later (cooldown long past) it is still the same day
    assert not breaker.check(VENUES).allowed
    clock.now = T0 - (T0 % 86_400) + 86_400 + 1  # just after midnight UTC
    assert breaker.check(VENUES).allowed
    assert breaker.daily_pnl_usd == 0


def test_daily_loss_survives_a_restart_through_the_journal(tmp_path: Path) -> None:
    from core.records import TradeRecord, TradeStatus

    journal = Journal(tmp_path / "j.sqlite3")
    journal.insert_trade(
        TradeRecord(
            id="t1",
            opportunity_id="o1",
            symbol="BTC/USDT",
            buy_venue="a",
            sell_venue="b",
            amount=Decimal("1"),
            status=TradeStatus.HEDGED,
            started_at=T0 - 10,
            realized_pnl=Decimal("-150"),
            realized_pnl_usd=Decimal("-150"),
            finished_at=T0 - 5,
        )
    )
    breaker = CircuitBreaker(
        RiskSettings(max_daily_loss_usd=100.0),
        ThresholdSettings(),
        journal=journal,
        clock=lambda: T0,
    )
    assert breaker.state() is BreakerState.OPEN
    assert not breaker.check(VENUES).allowed


def test_stale_feed_of_a_venue_in_the_trade(tmp_path: Path) -> None:
    breaker, clock, _, _ = make(tmp_path)
    breaker.on_event(
        FeedHealthChanged(
            venue="a", symbol="BTC/USDT", state=FeedState.STALE, reason="silent 4s", at=T0
        )
    )
    checked = breaker.check(VENUES, "BTC/USDT")
    assert not checked.allowed and "feed a BTC/USDT is stale" in checked.reason
    assert breaker.state("a") is BreakerState.CLOSED  # a question changes nothing
    assert breaker.check(("b", "c"), "BTC/USDT").allowed  # other venues trade on
    assert not breaker.acquire(VENUES, "BTC/USDT").allowed
    assert breaker.state("a") is BreakerState.OPEN  # trying to trade on it trips it

    breaker.feed_health("a", "BTC/USDT", FeedState.LIVE)
    clock.now += 31
    trial = breaker.acquire(VENUES, "BTC/USDT")
    assert trial.allowed and trial.trial_scopes == ("a",)
    breaker.record_trade(trial, True, Decimal("0.5"))
    assert breaker.state("a") is BreakerState.CLOSED


def test_feed_dropping_mid_trade_trips_that_venue(tmp_path: Path) -> None:
    breaker, _, _, _ = make(tmp_path)
    permit = breaker.acquire(VENUES, "BTC/USDT")
    breaker.feed_health("b", "BTC/USDT", FeedState.DOWN, "connection reset")
    assert breaker.state("b") is BreakerState.OPEN
    assert "mid-trade" in breaker.view().scopes[-1].reason
    breaker.record_trade(permit, True, Decimal("1"))
    breaker.feed_health("a", "BTC/USDT", FeedState.DOWN)  # no trade in flight on a now
    assert breaker.state("a") is BreakerState.CLOSED


def test_slippage_beyond_the_limit_trips_the_venue(tmp_path: Path) -> None:
    breaker, _, _, _ = make(tmp_path)
    breaker.record_slippage("a", 19.9)
    assert breaker.state("a") is BreakerState.CLOSED
    breaker.record_slippage("a", 25.0)
    assert breaker.state("a") is BreakerState.OPEN
    refused = breaker.check(VENUES)
    assert "a breaker open (slippage): fill slipped 25.0 bps (limit 20)" in refused.reason


def test_kill_switch_halts_until_resume(tmp_path: Path) -> None:
    breaker, clock, events, journal = make(tmp_path)
    breaker.kill("trader pressed K")
    refused = breaker.check(VENUES)
    assert not refused.allowed and refused.reason == "kill switch on: trader pressed K"
    clock.now += 10 * 86_400  # no cooldown ends a kill
    assert not breaker.acquire(VENUES).allowed
    breaker.resume()
    assert breaker.check(VENUES).allowed
    toggles = [e.active for e in events if isinstance(e, KillSwitchToggled)]
    assert toggles == [True, False]
    assert [r.cause for r in journal.breaker_events()] == ["kill_switch", "resumed"]


def test_risk_gate_reasons(tmp_path: Path) -> None:
    from core.detect.opportunity import Opportunity

    breaker, _, _, _ = make(tmp_path)
    gate = RiskGate(breaker)
    opp = Opportunity(
        "o", "BTC/USDT", "a", "b", 1.0, 100.0, 101.0, 1.0, 0.2, 0.8, 80.0, 0.8, T0, T0 + 5
    )
    assert gate.check(opp, T0).allowed
    expired = gate.check(opp, T0 + 6)
    assert not expired.allowed and "expired 1.0s ago" in expired.reason
    breaker.kill("test")
    assert "kill switch" in gate.check(opp, T0).reason
