"""`h`: finished trades (filled, unwound, failed) with their legs and realized PnL."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static

from console.state import TradeLine
from console.widgets.trades import TradesPane


class HistoryScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,h", "app.pop_screen", "Back"),
    ]

    def __init__(self, trades: list[TradeLine]) -> None:
        super().__init__()
        self.trades = trades

    def compose(self) -> ComposeResult:
        total = sum((t.realized_pnl for t in self.trades if t.realized_pnl is not None), start=0)
        yield Static(
            f" Trade history — {len(self.trades)} finished, realized PnL {total:+,.2f}",
            id="history-title",
        )
        yield TradesPane(id="history")
        yield Footer()

    def on_mount(self) -> None:
        pane = self.query_one(TradesPane)
        pane.set_trades(list(reversed(self.trades)))  # newest first
        pane.focus()

    def update(self, trades: list[TradeLine]) -> None:
        if trades != self.trades:
            self.trades = trades
            self.query_one(TradesPane).set_trades(list(reversed(trades)))
