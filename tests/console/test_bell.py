"""The terminal bell on a breaker trip: ConsoleState counts the frame's trips (any scope, not a
kill), the setting arrives in the snapshot, and the app rings once a frame only when it is on."""

from __future__ import annotations

import pytest

from console.app import ArbdeskApp
from console.state import ConsoleState
from core.door_events import door_events
from core.engine.local_door import LocalDoor
from core.events import BreakerTransitioned, Event
from tests.console.fake_engine import T0, Clock, FakeEngine

SIZE = (160, 48)


def opened(scope: str, cause: str = "consecutive_failures") -> BreakerTransitioned:
    return BreakerTransitioned(scope, "closed", "open", cause, "3 failed trades", at=T0)


def ingest(state: ConsoleState, *events: Event) -> None:
    state.ingest(door_events(list(events), T0))  # through the door, as the app receives them


def test_trips_of_any_scope_are_counted_for_the_frame_only() -> None:
    state = ConsoleState(clock=Clock())
    ingest(state, opened("global"), opened("simex"))
    assert state.breaker_trips == 2
    ingest(state)  # the next frame, nothing new
    assert state.breaker_trips == 0


def test_other_transitions_and_the_kill_switch_ring_nothing() -> None:
    state = ConsoleState(clock=Clock())
    ingest(
        state,
        BreakerTransitioned("simex", "open", "half_open", "cooldown_elapsed", "", at=T0),
        BreakerTransitioned("simex", "half_open", "closed", "trial_succeeded", "", at=T0),
        opened("global", cause="kill_switch"),
    )
    assert state.breaker_trips == 0


def test_the_setting_comes_with_the_snapshot() -> None:
    engine = FakeEngine()
    state = ConsoleState(clock=engine.clock)
    state.pull(LocalDoor(engine).snapshot())
    assert state.bell_on_breaker_trip is True
    engine.settings.alerts.bell_on_breaker_trip = False
    state.pull(LocalDoor(engine).snapshot())
    assert state.bell_on_breaker_trip is False


async def _frames(app: ArbdeskApp, pilot, count: int) -> None:  # type: ignore[no-untyped-def]
    seen = app.frames
    for _ in range(100):
        await pilot.pause(0.02)
        if app.frames >= seen + count:
            return
    raise AssertionError("no frames drawn")


@pytest.mark.parametrize("bell_on", [True, False])
async def test_a_breaker_trip_rings_the_bell_when_the_setting_is_on(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch, bell_on: bool
) -> None:
    engine.settings.alerts.bell_on_breaker_trip = bell_on
    app = ArbdeskApp(LocalDoor(engine), clock=engine.clock)
    rings: list[None] = []
    monkeypatch.setattr(app, "bell", lambda: rings.append(None))
    async with app.run_test(size=SIZE) as pilot:
        await _frames(app, pilot, 2)
        assert rings == []
        engine.bus.publish(opened("global"))
        engine.bus.publish(opened("simex"))  # one frame, two scopes: one ring
        await _frames(app, pilot, 2)
        assert rings == ([None] if bell_on else [])
