"""The one-line tab strip shown on small terminals, where the panes become tabs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

PANES = (
    ("books", "Books"),
    ("spreads", "Spreads"),
    ("opportunities", "Opportunities"),
    ("trades", "Trades"),
    ("liquidations", "Liquidations"),
)


class PaneTabs(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"tabs--active", "tabs--key"}

    @dataclass
    class Chosen(Message):
        pane: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.active = "opportunities"
        self.counts: dict[str, int] = {}
        self.available: tuple[str, ...] = tuple(key for key, _ in PANES)
        self._spans: list[tuple[int, int, str]] = []

    def show(self, active: str, counts: dict[str, int], available: tuple[str, ...]) -> None:
        if (active, counts, available) != (self.active, self.counts, self.available):
            self.active, self.counts, self.available = active, dict(counts), available
            self.refresh()

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        self._spans = []
        for n, (key, title) in enumerate(PANES, start=1):
            if key not in self.available:
                continue
            start = len(text)
            text.append(f" {n}", self.get_component_rich_style("tabs--key", partial=True))
            count = self.counts.get(key)
            label = f" {title}{f' ({count})' if count else ''} "
            style = self.get_component_rich_style("tabs--active", partial=True)
            text.append(label, style if key == self.active else "")
            self._spans.append((start, len(text), key))
        return text

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.post_message(self.Chosen(key))
                return
