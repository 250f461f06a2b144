"""Unit tests for the feed helpers: backoff, health transitions, venue creation and checks."""

from __future__ import annotations

import random
from typing import Any

import ccxt
import ccxt.pro
import pytest

from core.events import Event, FeedHealthChanged, FeedMessageDropped, FeedState, VenueProblem
from core.feeds.liveness import Backoff, FeedHealth
from core.feeds.venues import create_exchange, prepare_venue, symbol_problem
from core.settings import FeedSettings, VenueKind, VenueSettings


def test_backoff_is_full_jitter_capped_and_doubling() -> None:
    b = Backoff(0.5, 4.0, healthy_after_s=10.0, rng=random.Random(3))
    caps = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    draws = [b.next_delay() for _ in caps]
    for draw, cap in zip(draws, caps, strict=True):
        assert 0.0 <= draw <= cap
    many = Backoff(1.0, 1.0, 1.0, rng=random.Random(5))
    spread = [many.next_delay() for _ in range(200)]
    assert min(spread) < 0.1 and max(spread) > 0.9  # jitter covers the whole [0, cap]


def test_backoff_resets_only_after_a_healthy_period() -> None:
    b = Backoff(0.5, 30.0, healthy_after_s=10.0, rng=random.Random(1))
    for _ in range(4):
        b.next_delay()
    b.note_healthy(100.0)
    b.note_healthy(105.0)
    assert b.attempts == 4  # one good update after reconnecting is not enough
    b.next_delay()  # a failure restarts the healthy clock
    b.note_healthy(106.0)
    b.note_healthy(115.0)
    assert b.attempts == 5
    b.note_healthy(116.5)
    assert b.attempts == 0


def test_health_publishes_changes_only_and_counts_drops() -> None:
    seen: list[Event] = []
    h = FeedHealth("v", "BTC/USDT", seen.append)
    assert h.set(FeedState.CONNECTING)
    assert not h.set(FeedState.CONNECTING)
    assert h.set(FeedState.LIVE)
    h.drop("bad price 'NaN'")
    h.drop("crossed book")
    states = [e.state for e in seen if isinstance(e, FeedHealthChanged)]
    assert states == [FeedState.CONNECTING, FeedState.LIVE]
    totals = [e.dropped_total for e in seen if isinstance(e, FeedMessageDropped)]
    assert totals == [1, 2]


def test_symbol_problem_names_venue_symbol_and_close_matches() -> None:
    known = ["BTC/USDT", "ETH/USDT", "ETH/BTC"]
    msg = symbol_problem("bin", "BTC/USTD", known)
    assert "'BTC/USTD'" in msg and "'bin'" in msg and "BTC/USDT" in msg
    assert "ETH/BTC" in symbol_problem("bin", "BTC/ETH", known)  # quote and base swapped
    assert "did you mean" not in symbol_problem("bin", "DOGE/EUR", known)
    assert "did you mean" not in symbol_problem("bin", "XRP/USDT", known)  # not merely similar


def test_create_exchange_passes_options_through_unchanged() -> None:
    options: dict[str, Any] = {
        "urls": {"api": {"public": "http://127.0.0.1:9/api/v3"}},
        "options": {"defaultType": "spot"},
    }
    venue = VenueSettings(
        name="b", kind=VenueKind.CCXT, exchange_id="binance", symbols=["BTC/USDT"], options=options
    )
    ex = create_exchange(venue)
    assert isinstance(ex, ccxt.pro.binance)
    assert ex.urls["api"]["public"] == "http://127.0.0.1:9/api/v3"
    assert ex.options["defaultType"] == "spot"
    assert ex.enableRateLimit is True
    assert venue.options == options  # ccxt got a copy
    off = venue.model_copy(update={"options": {**options, "enableRateLimit": False}})
    assert create_exchange(off).enableRateLimit is False


def test_sim_venue_needs_a_simulator() -> None:
    venue = VenueSettings(name="s", kind=VenueKind.SIM, symbols=["BTC/USDT"])
    with pytest.raises(ValueError, match="no simulator"):
        create_exchange(venue)

    class Market:
        def exchange(self, name: str) -> str:
            return f"sim:{name}"

    assert create_exchange(venue, Market()) == "sim:s"


async def test_prepare_venue_retries_until_markets_load() -> None:
    class Flaky:
        calls = 0

        async def load_markets(self) -> dict[str, Any]:
            self.calls += 1
            if self.calls < 3:
                raise ccxt.NetworkError("connection refused")
            return {"BTC/USDT": {}, "ETH/USDT": {}}

    seen: list[Event] = []
    venue = VenueSettings(name="f", symbols=["BTC/USDT", "XRP/USDT"])
    feeds = FeedSettings(backoff_initial_s=0.01, backoff_max_s=0.02)
    flaky = Flaky()
    symbols = await prepare_venue(flaky, venue, publish=seen.append, feeds=feeds)
    assert symbols == ["BTC/USDT"]
    assert flaky.calls == 3
    problems = [e for e in seen if isinstance(e, VenueProblem)]
    assert [p.symbol for p in problems] == [None, None, "XRP/USDT"]
    assert "connection refused" in problems[0].message
