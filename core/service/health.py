"""What GET /health answers: each feed's state and age, the breakers, the journal and the chain
RPC, and whether all of it is fit to trade on (HTTP 200) or not (503).

Unhealthy: a feed stale or down for longer than `service.stale_feed_health_s` (a venue that
blips for a second is not a page), the kill switch on, the global breaker open, the journal not
answering, or the pool feed's RPC down. A venue breaker that is open is reported but is not
unhealthy by itself: the engine keeps trading the other venues.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.events import FeedState

_BAD = (FeedState.STALE, FeedState.DOWN)


@dataclass(frozen=True, slots=True)
class Health:
    healthy: bool
    problems: tuple[str, ...]
    body: dict[str, Any]


def health_report(engine: Any, now: float) -> Health:
    """`engine` is a core.engine.engine.Engine (Any: this module sits below it)."""
    limit = engine.settings.service.stale_feed_health_s
    problems: list[str] = []
    feeds = []
    for f in engine.feed_status():
        age = None if not f.last_update_at else max(0.0, now - f.last_update_at)
        feeds.append(
            {
                "venue": f.venue,
                "symbol": f.symbol,
                "state": str(f.state),
                "age_s": None if age is None else round(age, 3),
                "reason": f.reason,
            }
        )
        if f.state in _BAD and (age is None or age > limit):
            problems.append(f"feed {f.venue} {f.symbol} {f.state}: {f.reason}")
    breaker: dict[str, Any] = {"killed": False, "scopes": []}
    view = engine.breaker_view()
    if view is not None:
        breaker = {
            "killed": view.killed,
            "kill_reason": view.kill_reason,
            "daily_pnl_usd": str(view.daily_pnl_usd),
            "scopes": [
                {
                    "name": s.name,
                    "state": str(s.state),
                    "cause": s.cause,
                    "reason": s.reason,
                    "consecutive_failures": s.consecutive_failures,
                }
                for s in view.scopes
            ],
        }
        if view.killed:
            problems.append(f"kill switch on: {view.kill_reason}")
        for scope in view.scopes:
            if scope.name == "global" and str(scope.state) == "open":
                problems.append(f"global breaker open: {scope.reason}")
    journal = _journal(engine)
    if journal["state"] == "error":
        problems.append(f"journal: {journal['error']}")
    chain = _chain(engine, now)
    if chain["state"] == "down":
        problems.append(f"chain RPC down: {chain.get('reason', '')}")
    body = {
        "healthy": not problems,
        "problems": problems,
        "mode": str(engine.settings.mode),
        "feeds": feeds,
        "breaker": breaker,
        "journal": journal,
        "chain": chain,
    }
    return Health(not problems, tuple(problems), body)


def _journal(engine: Any) -> dict[str, Any]:
    journal = engine.journal
    if journal is None:
        return {"state": "off"}
    try:
        journal.ping()
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        return {"state": "error", "error": f"{type(exc).__name__}: {exc}"}
    return {"state": "ok", "path": str(journal.path)}


def _chain(engine: Any, now: float) -> dict[str, Any]:
    onchain = getattr(engine, "onchain", None)
    feed = getattr(onchain, "feed", None) if onchain is not None else None
    if feed is None:
        return {"state": "off"}
    state = str(feed.state.value)
    out: dict[str, Any] = {"state": "down" if feed.state is FeedState.DOWN else state}
    out["head"] = feed.head
    out["reason"] = feed.reason
    return out
