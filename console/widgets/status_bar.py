"""Status bar: mode (LIVE in a warning colour), kill switch, breaker state, each venue's feed
health and age, PnL today, auto-execute, and the book update rate."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from console.state import ConsoleState
from console.widgets.order_books import HEALTH_MARK, fmt_age
from core.events import FeedState


class StatusBar(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status--mode",
        "status--live",
        "status--killed",
        "status--good",
        "status--warn",
        "status--bad",
        "status--dim",
        "books--live",
        "books--warn",
        "books--bad",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = Text()

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(name, partial=True)

    def show(self, state: ConsoleState) -> None:
        text = status_text(state, self._style)
        if text.cell_len > self.size.width > 0:  # small terminal: the short form
            text = status_text(state, self._style, compact=True)
        if text.plain != self._text.plain or text.spans != self._text.spans:
            self._text = text
            self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._text = Text()

    def render(self) -> Text:
        return self._text


def status_text(  # noqa: C901 - one flat list of parts, each with its own condition
    state: ConsoleState, style: Callable[[str], Style], *, compact: bool = False
) -> Text:
    """The status line as styled text; `style(name)` maps a component class to a Style.

    `compact` drops the labels and the ages of live feeds, for terminals near 80 columns.
    """
    get = style
    sep = (" │ ", get("status--dim"))
    mode = state.mode.upper()
    parts: list[tuple[str, Style] | str] = [
        (f" {mode} ", get("status--live" if mode == "LIVE" else "status--mode")),
    ]
    if state.link:  # attached to a served engine: say whether the link is up
        up = state.link == "attached"
        parts += [" ", (state.link, get("status--dim" if up else "status--bad"))]
    if state.killed:
        parts += [" ", (" KILLED ", get("status--killed"))]
    breaker_class = {"CLOSED": "status--good", "HALF_OPEN": "status--warn"}.get(
        state.breaker, "status--bad"
    )
    parts += [sep, "" if compact else "breaker ", (state.breaker, get(breaker_class)), sep]
    for i, venue in enumerate(state.venue_lines):
        mark, mark_class = HEALTH_MARK.get(venue.health, ("?", "books--warn"))
        if i:
            parts.append(" " if compact else "  ")
        parts += [venue.venue if compact else f"{venue.venue} ", (mark, get(mark_class))]
        if not compact or venue.health is not FeedState.LIVE:
            parts.append((f" {fmt_age(venue.age_s)}", get("status--dim")))
    pnl = state.pnl_today_usd
    parts += [
        sep,
        "" if compact else "PnL today ",
        (f"{pnl:+,.2f} $", get("status--good" if pnl >= 0 else "status--bad")),
    ]
    parts += [
        sep,
        "auto ",
        (
            "ON" if state.auto_execute else "off",
            get("status--warn" if state.auto_execute else "status--dim"),
        ),
    ]
    if state.in_flight:
        parts += [sep, (f"{state.in_flight} in flight", get("status--warn"))]
    if not compact:
        parts += [sep, (f"{state.book_updates_per_s:,.0f} upd/s", get("status--dim"))]
    text = Text(no_wrap=True, overflow="ellipsis")
    for part in parts:
        if isinstance(part, str):
            text.append(part)
        else:
            text.append(part[0], part[1])
    return text
