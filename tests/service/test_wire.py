"""The attach protocol on plain data: every door event survives a frame to the digit, bus
events become door events (book updates folded, opportunities as notices, trade views and
refreshes dropped), and server frames that do not fit are errors, not half-built objects."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from core.detect.opportunity import Opportunity
from core.door_events import BooksTouched, OpportunityNotice, door_events
from core.engine.local_door import LocalDoor
from core.events import (
    BookUpdated,
    BreakerTransitioned,
    FeedHealthChanged,
    FeedState,
    LegFilled,
    OpportunityFound,
    TradeFinished,
    TradeUpdated,
)
from core.service import wire
from tests.console.fake_engine import T0, FakeEngine

OPPORTUNITY = Opportunity(
    "op1", "BTC/USDT", "simex", "simbit", 0.5, 100.0, 101.0, 0.5, 0.1, 0.4, 40.0, 0.4, T0, T0 + 5
)


def test_bus_events_become_door_events() -> None:
    books = [
        BookUpdated("simex", "BTC/USDT", 1.0, 2.0, None, T0, at=T0),
        BookUpdated("simbit", "BTC/USDT", 1.0, 2.0, None, T0, at=T0),
        BookUpdated("simex", "BTC/USDT", 1.0, 2.0, None, T0, at=T0),
    ]
    found = OpportunityFound(OPPORTUNITY, False, at=T0)
    refreshed = OpportunityFound(OPPORTUNITY, True, at=T0)
    trip = BreakerTransitioned("simex", "CLOSED", "OPEN", "stale", "feed", at=T0)
    out = door_events([*books, found, refreshed, TradeUpdated(object(), at=T0), trip], T0 + 1)
    notice, kept, touched = out
    assert notice == OpportunityNotice(
        "op1", "spread", "BTC/USDT", "simex", "simbit", 40.0, 0.4, at=T0
    )
    assert kept is trip
    assert touched == BooksTouched(3, (("BTC/USDT", "simex"), ("BTC/USDT", "simbit")), at=T0 + 1)
    assert door_events([], T0) == []


def test_a_frame_keeps_every_event_and_digit() -> None:
    events = [
        BooksTouched(2, (("ETH/USDT", "simex"),), at=T0),
        OpportunityNotice(
            "l1", "liquidation", "WETH/USDC", "aave", "uni", 0, 12.5, "0xab", 0.97, at=T0
        ),
        FeedHealthChanged("simex", "ETH/USDT", FeedState.RESYNCING, "sequence gap", at=T0),
        LegFilled(
            "t1",
            "buy",
            "simex",
            "c1",
            Decimal("0.123456789012345678"),
            Decimal("3400.000000000000000001"),
            Decimal("0.0001"),
            "closed",
            at=T0,
        ),
        TradeFinished("t1", "completed", Decimal("-0.000000000000000001"), Decimal(0), at=T0),
    ]
    snapshot = LocalDoor(FakeEngine()).snapshot(("BTC/USDT",))
    frame = wire.parse_server_frame(wire.snapshot_frame(snapshot, events))
    assert isinstance(frame, wire.Frame)
    assert frame.snapshot == snapshot
    assert list(frame.events) == events


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        ({"v": 2, "kind": "frame"}, "protocol 2"),
        ({"v": 1, "kind": "launch"}, "unknown frame kind"),
        ({"v": 1, "kind": "frame", "snapshot": {}, "events": []}, "bad frame"),
        ({"v": 1, "kind": "result", "id": 1, "result": {"ok": "yes"}}, "bad result"),
        ({"v": 1, "kind": "frame", "events": [{"type": "Boom"}]}, "bad frame"),
    ],
)
def test_server_frames_that_do_not_fit_are_wire_errors(frame: object, why: str) -> None:
    with pytest.raises(wire.WireError, match=why):
        wire.parse_server_frame(json.dumps(frame))


def test_a_command_frame_round_trips() -> None:
    text = wire.encode(
        "command", id=4, command={"type": "ChangeSetting", "path": "a.b", "raw": "1.5"}
    )
    request = wire.parse_client_frame(text)
    assert isinstance(request, wire.CommandRequest) and request.id == 4
    assert request.command.raw == "1.5"  # type: ignore[union-attr]
    view = wire.parse_client_frame(wire.encode("view", symbols=["BTC/USDT"], depth=5))
    assert view == wire.ViewRequest(("BTC/USDT",), 5)
    with pytest.raises(wire.WireError, match="depth"):
        wire.parse_client_frame(wire.encode("view", symbols=[], depth=500))
