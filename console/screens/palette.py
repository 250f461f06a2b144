"""Command palette (ctrl+p) entries for every console action."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from console.app import ArbdeskApp

COMMANDS = (
    ("Approve selected opportunity", "approve", "send it to the executor"),
    ("Reject selected opportunity", "reject", "drop it"),
    ("Toggle auto-execute", "toggle_auto", "trade every opportunity that passes the risk gate"),
    ("Kill switch", "kill", "halt trading now (again: resume, after confirmation)"),
    ("Edit thresholds", "thresholds", "live-edit thresholds and breaker limits"),
    ("Next symbol", "cycle_symbol", "order books: show the next symbol"),
    ("Cycle theme", "cycle_theme", "next arbdesk theme (saved to settings.toml)"),
    ("Toggle log pane", "toggle_log", "show or hide engine events"),
    ("Trade history", "history", "finished trades"),
    ("Filter", "filter", "filter spreads, opportunities and trades"),
    ("Keys", "help", "every key"),
)


class ArbdeskCommands(Provider):
    async def discover(self) -> Hits:
        for title, action, help_text in COMMANDS:
            yield DiscoveryHit(title, partial(self._run, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, action, help_text in COMMANDS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(title), partial(self._run, action), help=help_text
                )

    async def _run(self, action: str) -> None:
        app = cast("ArbdeskApp", self.app)
        await app.run_action(action)
