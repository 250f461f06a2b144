"""Console flows driven through Textual's Pilot against the fake engine."""

from __future__ import annotations

from decimal import Decimal

from textual.widgets import Input, Static

from console.app import ArbdeskApp
from console.screens.confirm import ConfirmScreen, TypedConfirmScreen
from console.screens.thresholds import ThresholdsScreen, field_id
from console.screens.trade_history import HistoryScreen
from console.widgets.status_bar import StatusBar
from core.engine.lending import WatchlistRow
from core.engine.local_door import LocalDoor
from core.settings import Mode
from tests.console.fake_engine import FakeEngine

SIZE = (160, 48)


def status_line(app: ArbdeskApp) -> str:
    return app.query_one(StatusBar).render().plain


async def approvals_done(app: ArbdeskApp) -> None:
    """Wait for approve workers only (the frame worker never completes)."""
    pending = [w for w in app.workers if w.group == "approve"]
    if pending:  # an empty list would mean "wait for every worker"
        await app.workers.wait_for_complete(pending)


async def test_engine_started_and_panes_filled(app: ArbdeskApp, engine: FakeEngine) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert engine.started
        assert app.opportunities.row_count == 2
        assert app.spreads.row_count == 3 * 6  # 3 symbols x 6 ordered venue pairs
        assert [side.venue for side in app.books.sides] == ["simex", "simbit", "simkra"]
        assert app.focused is app.opportunities


async def test_approve_sends_selected_opportunity(app: ArbdeskApp, engine: FakeEngine) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("j")  # second row: the ETH/USDT opportunity
        assert app.opportunities.selected_key == "op2"
        await pilot.press("a")
        await approvals_done(app)
        await pilot.pause()
        assert engine.approved == ["op2"]
        assert app.opportunities.row_count == 1
        assert app.trades.row_count == 3  # the trade and its two legs
        assert app.state.in_flight == 1


async def test_enter_approves_too(app: ArbdeskApp, engine: FakeEngine) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await approvals_done(app)
        assert engine.approved == ["op1"]


async def test_reject_removes_opportunity(app: ArbdeskApp, engine: FakeEngine) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("x")
        await pilot.pause()
        assert "op1" not in engine.opportunities
        assert engine.approved == []
        assert [r.id for r in app.state.opportunities] == ["op2"]
        assert any("rejected" in line.text for line in app.state.log)


async def test_kill_switch_halts_at_once_and_resume_asks(
    app: ArbdeskApp, engine: FakeEngine
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("K")
        await pilot.pause()
        assert engine.killed  # no confirmation to halt
        assert app.state.killed
        assert "KILLED" in status_line(app)
        await pilot.press("K")  # resuming asks first
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert engine.killed
        await pilot.press("K")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert not engine.killed


async def test_auto_execute_toggles_without_asking_in_sim(
    app: ArbdeskApp, engine: FakeEngine
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("A")
        await pilot.pause()
        assert engine.auto_execute
        assert "auto ON" in status_line(app)
        await pilot.press("A")
        await pilot.pause()
        assert not engine.auto_execute


async def test_auto_execute_asks_in_live_mode(engine: FakeEngine) -> None:
    app = ArbdeskApp(LocalDoor(engine), clock=engine.clock, live_confirmed=True)
    object.__setattr__(engine.settings, "mode", Mode.LIVE)  # skip the venue-kind validator
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("A")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert not engine.auto_execute
        await pilot.press("y")
        await pilot.pause()
        assert engine.auto_execute


async def test_live_mode_asks_before_starting(engine: FakeEngine) -> None:
    object.__setattr__(engine.settings, "mode", Mode.LIVE)
    app = ArbdeskApp(LocalDoor(engine), clock=engine.clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, TypedConfirmScreen)
        assert not engine.started
        await pilot.press("escape")
        await pilot.pause()
    assert not engine.started
    assert app.return_code == 2


async def test_live_mode_starts_only_when_live_is_typed(engine: FakeEngine) -> None:
    object.__setattr__(engine.settings, "mode", Mode.LIVE)
    app = ArbdeskApp(LocalDoor(engine), clock=engine.clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("y", "enter")  # a reflex yes is not enough
        await pilot.pause()
        assert isinstance(app.screen, TypedConfirmScreen)
        assert "not LIVE" in str(app.screen.query_one("#dialog-error", Static).render())
        assert not engine.started
        await pilot.press("L", "I", "V", "E", "enter")
        for _ in range(50):
            await pilot.pause(0.02)
            if engine.started:
                break
        assert engine.started


async def _edit(pilot, app: ArbdeskApp, path: str, value: str) -> Static:  # type: ignore[no-untyped-def]
    box = app.screen.query_one(f"#{field_id(path)}")
    field = box.query_one(Input)
    field.focus()
    field.value = value
    await pilot.press("enter")
    await pilot.pause()
    return box.query_one(".field-result", Static)


async def test_threshold_edit_valid_applies_and_saves(app: ArbdeskApp, engine: FakeEngine) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, ThresholdsScreen)
        result = await _edit(pilot, app, "thresholds.min_profit_bps", "7.5")
        assert engine.settings.thresholds.min_profit_bps == 7.5
        assert "3.0 → 7.5" in str(result.render())
        text = engine.settings.toml_path.read_text()  # type: ignore[union-attr]
        assert "min_profit_bps = 7.5" in text
        assert "this comment must survive" in text
        await pilot.press("escape")
        await pilot.pause()
        assert app.spreads.threshold_bps == 7.5  # the running console uses it at once


async def test_threshold_edit_invalid_keeps_old_value(app: ArbdeskApp, engine: FakeEngine) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        result = await _edit(pilot, app, "thresholds.min_profit_bps", "-4")
        assert engine.settings.thresholds.min_profit_bps == 3.0
        shown = str(result.render())
        assert "thresholds.min_profit_bps = '-4'" in shown
        assert "greater than or equal to 0" in shown
        assert app.screen.query_one(f"#{field_id('thresholds.min_profit_bps')}").has_class("-error")
        assert "min_profit_bps = 3.0" in engine.settings.toml_path.read_text()  # type: ignore[union-attr]


async def test_theme_cycles_and_persists(app: ArbdeskApp, engine: FakeEngine) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "arbdesk-dark"
        await pilot.press("T")
        await pilot.pause()
        assert app.theme == "arbdesk-light"
        assert engine.theme_saved == "arbdesk-light"
        await pilot.press("T")
        await pilot.pause()
        assert app.theme == "arbdesk-contrast"


async def test_symbol_cycles_on_s(app: ArbdeskApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.books.symbol == "BTC/USDT"
        await pilot.press("s")
        assert app.books.symbol == "ETH/USDT"


async def test_filter_narrows_rows(app: ArbdeskApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("slash", *"eth/btc")
        await pilot.pause()
        assert app.spreads.row_count == 6
        assert app.opportunities.row_count == 0
        await pilot.press("escape")
        await pilot.pause()
        assert app.spreads.row_count == 18
        assert app.focused is app.opportunities


async def test_quit_asks_when_trades_in_flight(app: ArbdeskApp, engine: FakeEngine) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await approvals_done(app)
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert not engine.stopped
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
    assert engine.stopped


async def test_quit_without_trades_stops_engine(app: ArbdeskApp, engine: FakeEngine) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
    assert engine.stopped


async def test_history_shows_finished_trades(app: ArbdeskApp, engine: FakeEngine) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await approvals_done(app)
        engine.finish("t1", "5.25")
        app.frame()
        assert app.trades.row_count == 0
        await pilot.press("h")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)
        assert app.screen.trades[0].realized_pnl == Decimal("5.25")
        await pilot.press("a")  # main-screen keys do nothing here
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HistoryScreen)


async def test_small_terminal_shows_tabs(app: ArbdeskApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.query_one("#tabs").display
        assert app.opportunities.display and not app.spreads.display
        await pilot.press("2")
        await pilot.pause()
        assert app.spreads.display and not app.opportunities.display
        assert app.focused is app.spreads


async def test_click_selects_row(app: ArbdeskApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.click("#opportunities", offset=(3, 3))  # border 1 + header 1 -> row 2
        await pilot.pause()
        assert app.opportunities.selected_key == "op2"


async def test_command_palette_runs_actions(app: ArbdeskApp, engine: FakeEngine) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"kill switch")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert engine.killed


def watch_row(user: str, hf: float, opportunity_id: str | None) -> WatchlistRow:
    return WatchlistRow(
        user=user,
        health_factor=hf,
        collateral_usd={"WETH": 30_000.0},
        debt_usd={"USDC": 25_000.0},
        liquidation_move=("WETH", -0.031) if hf >= 1 else None,
        best="repay 12,500 USDC for WETH on uniswap_v3_500" if opportunity_id else "",
        net_profit_usd=84.5 if opportunity_id else None,
        liquidatable=hf < 1,
        profitable=opportunity_id is not None,
        stale=False,
        no_route=False,
        oracle_stale=False,
        opportunity_id=opportunity_id,
        block=120,
    )


async def test_no_watchlist_pane_without_lending(app: ArbdeskApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not app.liquidations.display
        await pilot.press("5")
        assert app.focused is app.opportunities


async def test_liquidation_watchlist_and_approve(app: ArbdeskApp, engine: FakeEngine) -> None:
    engine.lending = object()
    engine.watchlist = [
        watch_row("0x" + "b" * 40, 1.2, None),
        watch_row("0x" + "a" * 40, 0.97, "liq-1"),
    ]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.liquidations.display
        assert app.liquidations.row_count == 2
        await pilot.press("5")
        assert app.focused is app.liquidations
        assert app.liquidations.selected_row.health_factor == 0.97  # type: ignore[union-attr]
        await pilot.press("a")
        await approvals_done(app)
        assert engine.approved == ["liq-1"]


async def test_threshold_typed_keys_reach_the_field(app: ArbdeskApp, engine: FakeEngine) -> None:
    # Keystrokes as a trader types them: the focused first field's text is selected, so typing
    # replaces it; End then Backspace edits the value in place.
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        first = app.screen.query(Input).first()
        assert first.name == "thresholds.min_profit_bps"
        await pilot.press("8", "enter")
        await pilot.pause(0.1)
        assert engine.settings.thresholds.min_profit_bps == 8.0
        assert first.value == "8.0"
        await pilot.press("end", "backspace", "backspace", "5", "enter")
        await pilot.pause(0.1)
        assert engine.settings.thresholds.min_profit_bps == 85.0
