"""Console flows driven through Textual's Pilot against the real engine on the embedded sim
market (sped up, no devnet): approve, reject, kill / resume, auto-execute and a live threshold
edit, each checked in the engine, on screen and in the journal.

The market is live, so nothing here assumes which opportunity shows up or when: every wait is
a bounded poll on a real condition, and an approval the executor refuses (depth moved since
detection) is retried on the next opportunity, as a trader would.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from console.app import ArbdeskApp
from console.screens.confirm import ConfirmScreen
from console.screens.thresholds import ThresholdsScreen, field_id
from console.screens.trade_history import HistoryScreen
from console.widgets.line_table import LineTable
from console.widgets.status_bar import StatusBar
from core.engine.engine import Engine
from core.engine.local_door import LocalDoor
from core.events import Event, OpportunityExpired, TradeFinished, TradeStarted
from core.journal import Journal
from core.records import TradeStatus
from core.settings import load_settings

pytestmark = pytest.mark.timeout(45)

SIZE = (160, 48)
E = TypeVar("E", bound=Event)
AppPilot = Pilot[int]

# Relative paths resolve next to the file, i.e. under tmp_path.
SETTINGS_TOML = """\
# written by test_pilot_real_engine (this comment must survive the write-back)
[thresholds]
min_profit_bps = 3.0  # keep

[sim]
speed = 5.0

[chain]
enabled = false

[execution]
leg_timeout_s = 2.0

[journal]
path = "journal.sqlite3"

[logging]
path = "arbdesk.log"
"""


@dataclass
class Desk:
    """The app, the engine under it and every event the engine published."""

    app: ArbdeskApp
    engine: Engine
    folder: Path
    events: list[Event] = field(default_factory=list)
    # trade id -> whether the active-trades pane listed it when the engine finished it
    on_screen_when_finished: dict[str, bool] = field(default_factory=dict)

    def record(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, TradeFinished) and self.app.is_running:
            shown = event.trade_id in pane_text(self.app.trades)
            self.on_screen_when_finished[event.trade_id] = shown

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    def gone(self, reason: str) -> list[str]:
        """Ids of opportunities that left the board for `reason` (approved, rejected, ttl)."""
        return [e.opportunity_id for e in self.of(OpportunityExpired) if e.reason == reason]


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS_TOML, encoding="utf-8")
    engine = Engine(load_settings(path))
    live = Desk(ArbdeskApp(LocalDoor(engine)), engine, tmp_path)
    engine.bus.listen(live.record)
    try:
        yield live
    finally:
        await engine.stop()  # idempotent: a test that failed mid-run still stops the market


async def until(pilot: AppPilot, what: Callable[[], object], label: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not what():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {label}")
        await pilot.pause(0.05)


async def approvals_done(app: ArbdeskApp) -> None:
    """Wait for approve workers only (the frame worker never completes)."""
    pending = [w for w in app.workers if w.group == "approve"]
    if pending:  # an empty list would mean "wait for every worker"
        await app.workers.wait_for_complete(pending)


def status_line(app: ArbdeskApp) -> str:
    return app.query_one(StatusBar).render().plain


def pane_text(pane: LineTable[Any]) -> str:
    return "\n".join(pane.render_line(y).text for y in range(pane.size.height))


async def started(pilot: AppPilot, desk: Desk) -> None:
    """The engine is up and the opportunities pane lists (and selects) something."""
    await until(pilot, lambda: desk.engine.executor is not None, "the executor", 15)
    await until(pilot, lambda: desk.app.opportunities.selected_row, "an opportunity", 15)


async def press_approve(pilot: AppPilot, desk: Desk) -> str | None:
    """Press `a` on the selected row; the id the engine took off the board, or None when the
    row had just expired (the pane lags the engine by up to one frame)."""
    app = desk.app
    await until(pilot, lambda: app.opportunities.selected_row, "an opportunity", 15)
    shown = {row.id for row in app.state.opportunities}
    before = len(desk.gone("approved"))
    await pilot.press("a")
    await approvals_done(app)
    if len(desk.gone("approved")) == before:
        return None
    opportunity_id = desk.gone("approved")[-1]
    assert opportunity_id in shown  # the row the trader saw, not some other one
    assert opportunity_id not in {o.id for o in desk.engine.pending_opportunities()}
    return opportunity_id


async def approve_until_accepted(pilot: AppPilot, desk: Desk, tries: int = 6) -> str:
    """Approve until the executor takes one (it may refuse a route whose depth moved since
    detection: that is its job); the trade id."""
    for _ in range(tries):
        opportunity_id = await press_approve(pilot, desk)
        trades = [e for e in desk.of(TradeStarted) if e.opportunity_id == opportunity_id]
        if trades:
            assert len(trades) == 1
            return trades[0].trade_id
    raise AssertionError(f"no approval accepted in {tries} tries")


async def test_approve_runs_a_trade_to_realized_pnl(desk: Desk) -> None:
    app, engine = desk.app, desk.engine
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, desk)
        assert app.focused is app.opportunities
        trade_id = await approve_until_accepted(pilot, desk)
        ids = {t.id for t in engine.active_trades()} | {t.id for t in engine.finished_trades()}
        assert trade_id in ids
        await until(
            pilot,
            lambda: any(e.trade_id == trade_id for e in desk.of(TradeFinished)),
            "the trade to finish",
            15,
        )
        # The approve drew it in the active-trades pane before the engine finished it.
        assert desk.on_screen_when_finished == {trade_id: True}
        view = next(t for t in engine.finished_trades() if t.id == trade_id)
        assert view.status in (TradeStatus.COMPLETED, TradeStatus.HEDGED), view.reason
        assert view.realized_pnl is not None
        # On screen: the trades pane counts it done and the history lists it with its PnL.
        await until(pilot, lambda: "1 done" in str(app.trades.border_title), "the title", 5)
        assert trade_id not in pane_text(app.trades)  # finished trades leave the active pane
        await pilot.press("h")
        await pilot.pause(0.1)
        assert isinstance(app.screen, HistoryScreen)
        history = pane_text(app.screen.query_one("#history", LineTable))
        assert trade_id in history
        assert f"{view.realized_pnl:+,.2f}" in history
        await pilot.press("escape")
        await pilot.pause(0.1)
        await pilot.press("q")  # the console's own quit: stops the engine, flushes the journal
        await until(pilot, lambda: not app.is_running, "the app to quit", 15)
    assert engine.journal is None  # quitting stopped the engine and closed the journal
    with Journal(desk.folder / "journal.sqlite3") as journal:
        record = journal.trade(trade_id)
        assert record is not None
        assert record.status == view.status
        assert record.realized_pnl == view.realized_pnl
        assert {"buy", "sell"} <= {leg.role for leg in record.legs}
        row = journal.opportunity(record.opportunity_id)
        assert row is not None and row["status"] == record.status.value


async def test_reject_removes_and_journals(desk: Desk) -> None:
    app, engine = desk.app, desk.engine
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, desk)
        shown: set[str] = set()
        for _ in range(2):  # a second try only if the row expired under the cursor
            await until(pilot, lambda: app.opportunities.selected_row, "an opportunity", 15)
            shown |= {row.id for row in app.state.opportunities}
            await pilot.press("x")
            if desk.gone("rejected"):
                break
        assert len(desk.gone("rejected")) == 1
        rejected = desk.gone("rejected")[0]
        assert rejected in shown
        assert rejected not in {o.id for o in engine.pending_opportunities()}
        await pilot.pause(0.2)  # a frame or two: the pane follows the engine
        assert rejected not in {row.id for row in app.state.opportunities}
        assert not desk.of(TradeStarted)
        assert engine.journal is not None
        row = engine.journal.opportunity(rejected)
        assert row is not None and row["status"] == "rejected"


async def test_kill_switch_refuses_approval_and_resume_asks(desk: Desk) -> None:
    app, engine = desk.app, desk.engine
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, desk)
        await pilot.press("K")
        await pilot.pause(0.1)
        assert engine.killed and engine.breaker_state() == "OPEN"
        await until(pilot, lambda: "KILLED" in status_line(app), "KILLED on the status bar", 2)
        # An approval while killed is refused: no trade starts, the journal says why.
        # A fresh row each try: two expiring under the cursor in a row is implausible.
        refused = await press_approve(pilot, desk) or await press_approve(pilot, desk)
        assert refused is not None
        assert not desk.of(TradeStarted)
        assert not engine.active_trades() and not engine.finished_trades()
        assert engine.journal is not None
        row = engine.journal.opportunity(refused)
        assert row is not None and row["status"] == "refused"
        # Resuming asks; `n` keeps the switch engaged, `y` resumes.
        await pilot.press("K")
        await pilot.pause(0.1)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause(0.1)
        assert engine.killed
        await pilot.press("K")
        await pilot.pause(0.1)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: not engine.killed, "resume", 2)
        assert engine.breaker_state() == "CLOSED"
        await until(pilot, lambda: "KILLED" not in status_line(app), "KILLED cleared", 2)


async def test_auto_execute_trades_without_approval(desk: Desk) -> None:
    app, engine = desk.app, desk.engine
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, desk)
        assert not engine.auto_execute and not desk.of(TradeStarted)
        await pilot.press("A")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, ConfirmScreen)  # sim mode: no question asked
        assert engine.auto_execute
        await until(pilot, lambda: "auto ON" in status_line(app), "auto ON on the status bar", 2)
        await until(pilot, lambda: desk.of(TradeStarted), "an automatic trade", 15)
        assert not desk.gone("approved")  # nobody pressed approve
        trade_id = desk.of(TradeStarted)[0].trade_id
        assert trade_id in {t.id for t in engine.active_trades() + engine.finished_trades()}
        await until(  # and the console shows it: in flight, or done in the history
            pilot,
            lambda: (
                trade_id in pane_text(app.trades)
                or trade_id in {t.id for t in app.state.finished_trades}
            ),
            "the automatic trade on screen",
            5,
        )
        await pilot.press("A")
        await pilot.pause(0.1)
        assert not engine.auto_execute
    # Session only: the file still says what it said.
    assert "auto_execute" not in (desk.folder / "settings.toml").read_text(encoding="utf-8")


async def _edit(pilot: AppPilot, app: ArbdeskApp, path: str, value: str) -> Static:
    box = app.screen.query_one(f"#{field_id(path)}")
    box.query_one(Input).focus()
    box.query_one(Input).value = value
    await pilot.press("enter")
    await pilot.pause(0.1)
    return box.query_one(".field-result", Static)


async def test_threshold_edit_is_live_and_written_back(desk: Desk) -> None:
    app, engine = desk.app, desk.engine
    toml = desk.folder / "settings.toml"
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, desk)
        await pilot.press("t")
        await pilot.pause(0.1)
        assert isinstance(app.screen, ThresholdsScreen)
        result = await _edit(pilot, app, "thresholds.min_profit_bps", "7.5")
        assert "3.0 → 7.5" in str(result.render())
        assert engine.settings.thresholds.min_profit_bps == 7.5
        assert engine.detector.thresholds.min_profit_bps == 7.5  # the detector reads it live
        text = toml.read_text(encoding="utf-8")
        assert "min_profit_bps = 7.5" in text
        assert "this comment must survive" in text
        # An invalid value: the validator's reason under the field, 7.5 stays in force.
        result = await _edit(pilot, app, "thresholds.min_profit_bps", "-4")
        assert "greater than or equal to 0" in str(result.render())
        assert app.screen.query_one(f"#{field_id('thresholds.min_profit_bps')}").has_class("-error")
        assert engine.settings.thresholds.min_profit_bps == 7.5
        assert "min_profit_bps = 7.5" in toml.read_text(encoding="utf-8")
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert app.spreads.threshold_bps == 7.5  # the running console uses it at once
        assert engine.journal is not None
        changes = [(k, old, new) for k, old, new, _ in engine.journal.settings_changes()]
        assert changes == [("thresholds.min_profit_bps", 3.0, 7.5)]  # the -4 never applied
