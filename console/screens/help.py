"""`?`: every key the console answers to, built from the live bindings so it cannot drift."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

EXTRA_KEYS = (
    ("↑ ↓ / j k", "move in the focused pane"),
    ("tab / shift+tab", "next / previous pane"),
    ("1 2 3 4 5", "books, spreads, opportunities, trades, liquidations (tabs when small)"),
    ("a on liquidations", "approve the selected borrower's liquidation"),
    ("o", "spreads: cycle the sort (net, gross, symbol); or click a column title"),
    ("mouse", "click a row to select it, a pane to focus it; wheel scrolls"),
    ("ctrl+p", "command palette"),
)


def key_table(bindings: list[tuple[str, str]]) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for keys, description in (*bindings, *EXTRA_KEYS):
        table.add_row(keys, description)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "app.pop_screen", "Close"),
    ]

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.bindings = bindings

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Static("arbdesk keys", id="dialog-title")
            yield Static(key_table(self.bindings))
            yield Static("escape closes", classes="dim")
