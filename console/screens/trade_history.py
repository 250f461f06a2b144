"""`h`: finished trades (filled, unwound, failed) with their legs and realized PnL, above them
the journal's figures per route kind and per venue and its realized PnL over time."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Static

from console.state import TradeLine
from console.widgets.pnl_chart import PnlChart
from console.widgets.route_stats import RouteStatsPane
from console.widgets.trades import TradesPane
from core.door import RouteStats


class HistoryScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,h", "app.pop_screen", "Back"),
    ]

    def __init__(
        self,
        trades: list[TradeLine],
        routes: Sequence[RouteStats] = (),
        pnl_series: Sequence[tuple[float, Decimal]] = (),
    ) -> None:
        super().__init__()
        self.trades = trades
        self.routes = list(routes)
        self.pnl_series = list(pnl_series)

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="history-title")
        with Horizontal(id="history-figures"):
            stats = RouteStatsPane(id="route-stats", classes="pane")
            stats.border_title = "Journal, all runs · per route kind, then per venue"
            yield stats
            yield PnlChart(id="pnl-chart", classes="pane")
        yield TradesPane(id="history")
        yield Footer()

    def _title(self) -> str:
        total = sum((t.realized_pnl for t in self.trades if t.realized_pnl is not None), start=0)
        return (
            f" Trade history — {len(self.trades)} finished this session, realized PnL {total:+,.2f}"
        )

    def on_mount(self) -> None:
        self.query_one(RouteStatsPane).set_rows(self.routes)
        self.query_one(PnlChart).set_series(self.pnl_series)
        pane = self.query_one(TradesPane)
        pane.set_trades(list(reversed(self.trades)))  # newest first
        pane.focus()

    def update(
        self,
        trades: list[TradeLine],
        routes: Sequence[RouteStats],
        pnl_series: Sequence[tuple[float, Decimal]],
    ) -> None:
        if trades != self.trades:
            self.trades = trades
            self.query_one(TradesPane).set_trades(list(reversed(trades)))
            self.query_one("#history-title", Static).update(self._title())
        if list(routes) != self.routes:
            self.routes = list(routes)
            self.query_one(RouteStatsPane).set_rows(self.routes)
        self.query_one(PnlChart).set_series(pnl_series)
