"""Snapshot tests at fixed terminal sizes (pytest-textual-snapshot).

Deterministic by construction: the fake engine's books, opportunities and clock are fixed, so
ages and TTLs are the same on every run. Update baselines only after checking the new SVGs by
eye: `pytest tests/console/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input

from console.app import ArbdeskApp
from console.screens.thresholds import field_id
from core.engine.local_door import LocalDoor
from tests.console.fake_engine import FakeEngine


def make_app(tmp_path: Path, theme: str = "arbdesk-dark") -> ArbdeskApp:
    from core.settings import load_settings

    path = tmp_path / "settings.toml"
    path.write_text(f'[ui]\ntheme = "{theme}"\n', encoding="utf-8")
    engine = FakeEngine(settings=load_settings(path))
    return ArbdeskApp(LocalDoor(engine), clock=engine.clock)


class TestMainScreen:
    def test_wide_dark(self, snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        assert snap_compare(make_app(tmp_path), terminal_size=(160, 48))

    def test_small_terminal_tabs(self, snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        assert snap_compare(make_app(tmp_path), terminal_size=(80, 24))

    def test_small_terminal_books_tab(self, snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        assert snap_compare(make_app(tmp_path), press=["1"], terminal_size=(80, 24))

    def test_light_theme_with_trade(self, snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        app = make_app(tmp_path, theme="arbdesk-light")
        assert snap_compare(app, press=["a", "_", "s"], terminal_size=(140, 40))

    def test_contrast_theme_killed(self, snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        app = make_app(tmp_path, theme="arbdesk-contrast")
        assert snap_compare(app, press=["K"], terminal_size=(140, 40))


class TestLiquidations:
    def test_watchlist_pane(self, snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        from tests.console.test_pilot import watch_row

        app = make_app(tmp_path)
        engine = app.door.engine  # type: ignore[attr-defined]
        engine.lending = object()  # type: ignore[attr-defined]
        engine.watchlist = [  # type: ignore[attr-defined]
            watch_row("0x" + "a" * 40, 0.97, "liq-1"),
            watch_row("0x" + "c" * 40, 1.04, None),
            watch_row("0x" + "b" * 40, 1.31, None),
        ]
        assert snap_compare(app, press=["5"], terminal_size=(160, 48))


class TestThresholdsEditor:
    def test_invalid_value_shows_reason(self, snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        async def type_bad_value(pilot: Pilot) -> None:
            await pilot.press("t")
            await pilot.pause()
            for box in pilot.app.screen.query(Input):
                box.cursor_blink = False
            field = pilot.app.screen.query_one(
                f"#{field_id('thresholds.min_profit_bps')} Input", Input
            )
            field.focus()
            field.value = "-4"
            await pilot.press("enter")
            await pilot.pause()

        assert snap_compare(make_app(tmp_path), terminal_size=(120, 36), run_before=type_bad_value)


class TestHelp:
    def test_help_screen(self, snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        assert snap_compare(make_app(tmp_path), press=["question_mark"], terminal_size=(120, 40))


class TestHistory:
    def test_route_figures_and_pnl_chart(self, snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        from tests.console.test_history_stats import planted

        app = make_app(tmp_path)
        app.door.engine.figures = planted(tmp_path)  # type: ignore[attr-defined]
        assert snap_compare(app, press=["h"], terminal_size=(140, 40))
