"""The history screen's stats view: the journal's figures per route kind and per venue in a
table and its realized PnL over time in a braille chart, fed from the door's snapshot and
redrawn when the engine's cached figures change."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from console.app import ArbdeskApp
from console.screens.trade_history import HistoryScreen
from console.widgets.pnl_chart import PnlChart, tick_labels
from console.widgets.route_stats import RouteStatsPane
from core.journal import Journal
from core.trade_stats import TradeStats, trade_stats
from tests.console.fake_engine import FakeEngine
from tests.support.planted_trades import T0, plant

SIZE = (160, 48)
BRAILLE = {chr(c) for c in range(0x2801, 0x2900)}  # any dot set, not the blank pattern


def planted(tmp_path: Path) -> TradeStats:
    with Journal(tmp_path / "journal.sqlite3") as journal:
        plant(journal)
        return trade_stats(journal.stats_rows())


def table_text(pane: RouteStatsPane) -> list[str]:
    return [pane.render_line(y).text for y in range(pane.size.height)]


def chart_text(chart: PnlChart) -> str:
    """The border title and the plot."""
    return f"{chart.border_title}\n{chart.render().plain}"  # type: ignore[union-attr]


async def test_the_history_shows_route_figures_and_a_pnl_chart(
    app: ArbdeskApp, engine: FakeEngine, tmp_path: Path
) -> None:
    engine.figures = planted(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("h")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        rows = table_text(screen.query_one(RouteStatsPane))
        assert rows[0].split()[:3] == ["By", "Kind/venue", "Opps"]
        spread = next(r for r in rows if " spread " in r).split()
        assert spread[:8] == ["kind", "spread", "7", "5", "2", "2", "50%", "34,000.75"]
        assert "+9.55" in spread
        simex = next(r for r in rows if " simex " in r).split()
        assert simex[:7] == ["venue", "simex", "7", "5", "2", "3", "40%"]
        chart = chart_text(screen.query_one(PnlChart))
        assert "+18.80 USD" in chart  # the title: the last cumulative PnL
        assert BRAILLE & set(chart)  # the line is drawn
        assert "08:00:10" in chart and "08:01:20" in chart  # UTC ticks: first to last finish


async def test_new_figures_redraw_the_open_history(
    app: ArbdeskApp, engine: FakeEngine, tmp_path: Path
) -> None:
    figures = planted(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("h")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        assert "no finished trades" in chart_text(screen.query_one(PnlChart))
        assert "no trades or opportunities" in "".join(table_text(screen.query_one(RouteStatsPane)))
        engine.figures = replace(
            figures, pnl_series=(*figures.pnl_series, (T0 + 95, Decimal("-4.5")))
        )
        app.frame()
        await pilot.pause()
        chart = chart_text(screen.query_one(PnlChart))
        assert "-4.50" in chart and BRAILLE & set(chart)
        assert screen.routes == list(figures.routes)
        assert any(" liquidation " in r for r in table_text(screen.query_one(RouteStatsPane)))


def test_tick_labels_span_the_series_in_utc() -> None:
    ticks, labels = tick_labels(T0, T0 + 3 * 3600)
    assert ticks == [T0, T0 + 3600, T0 + 7200, T0 + 10800]
    assert labels == ["08:00", "09:00", "10:00", "11:00"]
    _, days = tick_labels(T0, T0 + 3 * 86_400)
    assert days[0] == "11-21 08:00" and days[-1] == "11-24 08:00"
    assert tick_labels(T0, T0 + 90)[1] == ["08:00:00", "08:00:30", "08:01:00", "08:01:30"]
    assert tick_labels(T0, T0) == ([T0], ["08:00:00"])
