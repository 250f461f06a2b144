"""The event bus: publish order is delivery order, even for events published by listeners."""

from __future__ import annotations

from core.bus import EventBus
from core.events import EngineMessage, Event


def _msg(text: str) -> EngineMessage:
    return EngineMessage("INFO", text, at=0.0)


def test_an_event_published_by_a_listener_arrives_after_its_cause() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    seen: list[str] = []

    def react(event: Event) -> None:
        assert isinstance(event, EngineMessage)
        seen.append(event.text)
        if event.text == "feed stale":
            bus.publish(_msg("breaker open"))

    bus.listen(react)
    bus.publish(_msg("feed stale"))
    assert [e.text for e in sub.drain()] == ["feed stale", "breaker open"]  # type: ignore[attr-defined]
    assert seen == ["feed stale", "breaker open"]


def test_a_failing_listener_does_not_wedge_the_bus() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    calls = {"n": 0}

    def flaky(event: Event) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")

    bus.listen(flaky)
    try:
        bus.publish(_msg("first"))
    except RuntimeError:
        pass
    bus.publish(_msg("second"))
    assert [e.text for e in sub.drain()] == ["first", "second"]  # type: ignore[attr-defined]


def test_a_full_subscription_drops_the_oldest_and_counts() -> None:
    bus = EventBus()
    sub = bus.subscribe(maxlen=2)
    for text in ("a", "b", "c"):
        bus.publish(_msg(text))
    assert [e.text for e in sub.drain()] == ["b", "c"]  # type: ignore[attr-defined]
    assert sub.dropped == 1
