"""The arbdesk console: a Textual app over a running engine (built by console.cli_commands.run).

The console talks to the engine only through its door (core.door.EngineDoor): one event
subscription, one frozen snapshot per frame, typed commands. The engine runs in the app's own
asyncio loop (started in a worker on mount, stopped on quit). A frame worker drains the events
into `ConsoleState` at `ui.refresh_hz`, takes the frame's snapshot and hands plain data to the
panes, so a burst of book updates costs one merge per frame instead of one redraw per event.
Commands are awaited in workers or async actions; nothing here does network or file I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.theme import Theme
from textual.widget import Widget
from textual.widgets import Footer, Input
from textual.worker import Worker, WorkerState

from console.screens.confirm import ConfirmScreen, TypedConfirmScreen
from console.screens.help import HelpScreen
from console.screens.palette import ArbdeskCommands
from console.screens.thresholds import ThresholdsScreen
from console.screens.trade_history import HistoryScreen
from console.state import BOOK_DEPTH, ConsoleState
from console.themes import DEFAULT_THEME, load_themes, next_theme
from console.widgets.liquidations import LiquidationsPane
from console.widgets.log_pane import LogPane
from console.widgets.opportunities import OpportunitiesPane
from console.widgets.order_books import OrderBooksPane
from console.widgets.pane_tabs import PANES, PaneTabs
from console.widgets.spreads import SpreadsPane
from console.widgets.status_bar import StatusBar
from console.widgets.trades import TradesPane
from core.door import Approve, Command, EngineDoor, Kill, Reject, Resume, SetAutoExecute, SetTheme

# Below either size the panes become tabs (one at a time, keys 1-4 or a click on the strip).
NARROW_WIDTH = 120
SHORT_HEIGHT = 34
# Quitting while the engine is still starting waits this long for the start to finish.
START_WAIT_S = 60.0
# Actions that act on the main screen only (not while a modal or the history is open).
MAIN_SCREEN_ACTIONS = {
    "approve",
    "reject",
    "toggle_auto",
    "kill",
    "thresholds",
    "filter",
    "cycle_symbol",
    "toggle_log",
    "history",
    "show_pane",
}


class ArbdeskApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "arbdesk"
    COMMANDS = App.COMMANDS | {ArbdeskCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a,enter", "approve", "Approve", tooltip="approve the selected opportunity"),
        Binding("x", "reject", "Reject", tooltip="reject the selected opportunity"),
        Binding("A", "toggle_auto", "Auto", tooltip="auto-execute on/off (asks in live mode)"),
        Binding("K", "kill", "Kill", tooltip="kill switch: halt now; again to resume (asks)"),
        Binding("t", "thresholds", "Thresholds", tooltip="edit thresholds and limits live"),
        Binding("slash", "filter", "Filter", key_display="/", tooltip="filter rows by text"),
        Binding("s", "cycle_symbol", "Symbol", tooltip="order books: next symbol"),
        Binding("T", "cycle_theme", "Theme", tooltip="next theme (saved to settings.toml)"),
        Binding("l", "toggle_log", "Log", tooltip="show / hide the engine log"),
        Binding("h", "history", "History", tooltip="finished trades"),
        Binding("question_mark", "help", "Keys", key_display="?", tooltip="this screen"),
        Binding("q", "quit", "Quit", tooltip="quit (asks when trades are in flight)"),
        Binding("1", "show_pane('books')", "Books", show=False),
        Binding("2", "show_pane('spreads')", "Spreads", show=False),
        Binding("3", "show_pane('opportunities')", "Opportunities", show=False),
        Binding("4", "show_pane('trades')", "Trades", show=False),
        Binding("5", "show_pane('liquidations')", "Liquidations", show=False),
    ]

    def __init__(
        self,
        door: EngineDoor,
        *,
        clock: Callable[[], float] = time.time,
        start_engine: bool = True,
        live_confirmed: bool = False,
        seconds: float | None = None,
        themes_folder: Path | None = None,
    ) -> None:
        super().__init__()
        self.door = door
        self.state = ConsoleState(clock=clock)
        self._subscription = door.subscribe(maxlen=200_000)
        first = door.snapshot()
        self.state.selected_symbol = first.symbols[0] if first.symbols else ""
        self._saved_theme = first.theme
        self._start = start_engine
        self._live_confirmed = live_confirmed
        self._seconds = seconds
        self._engine_running = False
        self._engine_started = asyncio.Event()
        self._stopping = False
        self.frames = 0
        self.frame_ms: deque[float] = deque(maxlen=600)
        self.active_pane = "opportunities"
        self._narrow: bool | None = None
        self._titles: dict[str, str] = {}
        self._laid_out_for: tuple[str, ...] = ()
        themes, problems = load_themes(themes_folder)
        for theme in themes:
            self.register_theme(theme)
        self.theme_names = [t.name for t in themes]
        self.theme_problems = problems
        wanted = first.theme
        if wanted in self.theme_names:
            self.theme = wanted
        elif DEFAULT_THEME in self.theme_names:
            self.theme = DEFAULT_THEME

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield PaneTabs(id="tabs")
        with Vertical(id="main"):
            yield OrderBooksPane(id="books", classes="pane")
            with Horizontal(id="middle"):
                yield SpreadsPane(id="spreads", classes="pane")
                with Vertical(id="right"):
                    yield OpportunitiesPane(id="opportunities", classes="pane")
                    yield TradesPane(id="trades", classes="pane")
                    yield LiquidationsPane(id="liquidations", classes="pane")
        log = LogPane(id="log")
        log.border_title = "Engine log (l hides)"
        yield log
        yield Input(
            placeholder="filter: symbol, venue or id — enter keeps, esc clears", id="filter"
        )
        yield Footer()

    @property
    def books(self) -> OrderBooksPane:
        return self.query_one("#books", OrderBooksPane)

    @property
    def spreads(self) -> SpreadsPane:
        return self.query_one("#spreads", SpreadsPane)

    @property
    def opportunities(self) -> OpportunitiesPane:
        return self.query_one("#opportunities", OpportunitiesPane)

    @property
    def trades(self) -> TradesPane:
        return self.query_one("#trades", TradesPane)

    @property
    def liquidations(self) -> LiquidationsPane:
        return self.query_one("#liquidations", LiquidationsPane)

    def available_panes(self) -> tuple[str, ...]:
        """The liquidation watchlist exists only when the engine runs a lending feed."""
        return tuple(k for k, _ in PANES if k != "liquidations" or self.state.has_watchlist)

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        for problem in self.theme_problems:
            self.notify(f"theme {problem.path.name} skipped: {problem.reason}", severity="warning")
        self.opportunities.focus()
        self._relayout()
        self.frame()
        if str(self.state.mode).lower() == "live" and self._start and not self._live_confirmed:
            what = "start the engine" if self.door.stops_engine else "attach to the engine"
            self.push_screen(
                TypedConfirmScreen(
                    "LIVE MODE",
                    "Mode is LIVE: approved trades send real orders with real money.\n"
                    f"Type LIVE and press enter to {what}; escape quits.",
                    "LIVE",
                ),
                self._live_answer,
            )
        elif self._start:
            self._start_engine()
        self._frame_loop()
        if self._seconds is not None:
            self.set_timer(self._seconds, self._exit_in_order)
        if not self.is_headless:
            self._stop_on_signals()

    def _stop_on_signals(self) -> None:
        """A dropped SSH session (SIGHUP) or a SIGTERM stops the engine the orderly way:
        no new trades, legs in flight finished or unwound, journal flushed, then exit."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGHUP, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._exit_in_order)

    def _live_answer(self, yes: bool | None) -> None:
        if yes:
            self._start_engine()
        else:
            self.exit(2, return_code=2, message="live mode not confirmed; nothing was started")

    def _exit_in_order(self) -> None:
        self.run_worker(self._stop_and_exit(), group="shutdown", exclusive=True)

    def on_resize(self) -> None:
        self._relayout()

    def _relayout(self) -> None:
        """Wide: every pane on screen. Narrow or short: one pane at a time, as tabs."""
        narrow = self.size.width < NARROW_WIDTH or self.size.height < SHORT_HEIGHT
        self._narrow = narrow
        available = self.available_panes()
        self._laid_out_for = available
        if self.active_pane not in available:
            self.active_pane = "opportunities"
        active = self.active_pane
        self.screen_stack[0].set_class(narrow, "-narrow")
        self.query_one(PaneTabs).display = narrow
        self.query_one(Footer).compact = narrow  # every key label fits in 80 columns
        for key, _ in PANES:
            pane = self.query_one(f"#{key}")
            pane.display = key in available and (not narrow or key == active)
        right = {"opportunities", "trades", "liquidations"}
        self.query_one("#middle").display = not narrow or active in right | {"spreads"}
        self.query_one("#right").display = not narrow or active in right

    # -- frames ----------------------------------------------------------------------------

    @work(group="frames", exclusive=True, exit_on_error=False)
    async def _frame_loop(self) -> None:
        """Draw at refresh_hz; the next frame is scheduled only after this one ends."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            self.frame()
            next_at += 1.0 / self.state.refresh_hz
            now = loop.time()
            if next_at < now:  # fell behind: skip the missed frames rather than bunch them
                next_at = now
            await asyncio.sleep(next_at - now)

    def frame(self) -> None:
        """Drain the events, take the frame's snapshot, hand plain data to each pane."""
        started = time.perf_counter()
        state = self.state
        state.ingest(self._subscription.drain())
        state.pull(self.door.snapshot((state.selected_symbol,), BOOK_DEPTH))
        if state.breaker_trips and state.bell_on_breaker_trip:
            self.bell()  # one ring a frame, however many scopes opened in it
        self._draw()
        self.frames += 1
        self.frame_ms.append((time.perf_counter() - started) * 1000)

    def _draw(self) -> None:
        state = self.state
        self.books.set_books(state.selected_symbol, state.books)
        spreads = self.spreads
        spreads.set_threshold(state.min_profit_bps)
        spreads.set_rows(state.spreads)
        self.opportunities.set_rows(state.opportunities)
        self.trades.set_trades(state.active_trades)
        if state.has_watchlist:
            self.liquidations.set_rows(state.watchlist)
        if self.available_panes() != self._laid_out_for:
            self._relayout()
        self.query_one(StatusBar).show(state)
        if state.new_log:
            self.query_one(LogPane).add_lines(state.new_log)
        self._set_titles()
        if self._narrow:
            counts = {
                "opportunities": len(state.opportunities),
                "trades": len(state.active_trades),
                "liquidations": sum(1 for r in state.watchlist if r.opportunity_id),
            }
            self.query_one(PaneTabs).show(self.active_pane, counts, self.available_panes())
        if isinstance(self.screen, HistoryScreen):
            self.screen.update(state.finished_trades, state.route_stats, state.pnl_series)

    def _set_titles(self) -> None:
        state = self.state
        self._title(self.books, f"Order books · {state.selected_symbol}  (s: next symbol)")
        self._title(
            self.spreads,
            f"Spreads · {len(state.spreads)} pairs · sorted by {self.spreads.sort} (o)",
        )
        self._title(self.opportunities, f"Opportunities · {len(state.opportunities)}")
        if state.has_watchlist:
            ready = sum(1 for r in state.watchlist if r.opportunity_id)
            self._title(
                self.liquidations,
                f"Liquidation watchlist · {len(state.watchlist)} borrowers · {ready} liquidatable",
            )
        done = len(state.finished_trades)
        self._title(self.trades, f"Active trades · {len(state.active_trades)}  (h: {done} done)")

    def _title(self, widget: Widget, title: str) -> None:
        if widget.id is not None and self._titles.get(widget.id) != title:
            self._titles[widget.id] = title
            widget.border_title = title

    # -- engine lifecycle -------------------------------------------------------------------

    @work(group="engine", exclusive=True, exit_on_error=False)
    async def _start_engine(self) -> None:
        self._engine_running = True  # from here on, quitting must stop it (even mid-start)
        self._engine_started.clear()
        try:
            await self.door.start()
        finally:
            self._engine_started.set()

    async def _stop_and_exit(self, code: int = 0) -> None:
        if self._stopping:
            return
        self._stopping = True
        if self._engine_running:
            # An attached console only detaches: the served engine keeps trading.
            stopping = "stopping the engine…" if self.door.stops_engine else "detaching…"
            self.notify(stopping, timeout=30)
            try:
                # A start in progress (devnet deploy, market loading) is let finish first, so
                # everything it launched is known to the engine and stopped with it.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._engine_started.wait(), START_WAIT_S)
                await self.door.stop()
            finally:
                self._engine_running = False
        self._subscription.close()
        self.exit(code, return_code=code)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        # One place for every worker failure (Harlequin's pattern): tell the trader, keep going.
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self.notify(
                f"{event.worker.name or event.worker.group}: {error}",
                title="error",
                severity="error",
                timeout=10,
            )

    # -- actions ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MAIN_SCREEN_ACTIONS and self.screen is not self.screen_stack[0]:
            return False
        return True

    def action_approve(self) -> None:
        if self.focused is self.liquidations:
            borrower = self.liquidations.selected_row
            if borrower is None or borrower.opportunity_id is None:
                self.notify("no liquidation available for this borrower", severity="warning")
                return
            self._approve(borrower.opportunity_id, f"liquidation of {borrower.user}")
            return
        row = self.opportunities.selected_row
        if row is None:
            self.notify("no opportunity selected", severity="warning")
            return
        o = row.view
        if o.kind == "cycle":
            self._approve(o.id, f"cycle {o.symbol} on {o.buy_venue}: " + "; ".join(o.hops))
            return
        self._approve(o.id, f"{o.symbol} buy {o.buy_venue} sell {o.sell_venue}")

    # Not exclusive: cancelling an approve that is placing orders would leave legs unknown;
    # the engine's risk gate limits trades in flight instead.
    @work(group="approve", exit_on_error=False)
    async def _approve(self, opportunity_id: str, label: str) -> None:
        self.log.info(f"approving {label}")
        result = await self.door.send(Approve(opportunity_id))
        self.notify(result.message, title="approve", timeout=6)
        self.frame()

    async def action_reject(self) -> None:
        row = self.opportunities.selected_row
        if row is None:
            self.notify("no opportunity selected", severity="warning")
            return
        o = row.view
        await self._send(Reject(o.id))
        self.notify(f"rejected {o.symbol} buy {o.buy_venue} sell {o.sell_venue}", timeout=3)
        self.frame()

    def action_toggle_auto(self) -> None:
        turn_on = not self.state.auto_execute
        if turn_on and self.state.mode.lower() == "live":
            self.push_screen(
                ConfirmScreen(
                    "Auto-execute in LIVE mode",
                    "Every opportunity that passes the risk gate will be traded with real "
                    "money, without asking.",
                    "Turn on",
                    danger=True,
                ),
                self._auto_answer,
            )
            return
        self._set_auto(turn_on)

    def _auto_answer(self, yes: bool | None) -> None:
        if yes:
            self._set_auto(True)

    @work(group="auto", exit_on_error=False)
    async def _set_auto(self, on: bool) -> None:
        if not await self._send(SetAutoExecute(on)):
            return
        self.notify(
            f"auto-execute {'ON' if on else 'off'}", severity="warning" if on else "information"
        )
        self.frame()

    async def action_kill(self) -> None:
        if not self.state.killed:
            if not await self._send(Kill()):
                return
            self.notify("KILL SWITCH engaged: no new trades", severity="error", timeout=6)
            self.frame()
            return
        self.push_screen(
            ConfirmScreen(
                "Resume trading?",
                "The kill switch is engaged. Resuming lets the engine take new trades again.",
                "Resume",
                danger=True,
            ),
            self._resume_answer,
        )

    async def _resume_answer(self, yes: bool | None) -> None:
        if yes:
            if not await self._send(Resume()):
                return
            self.notify("trading resumed", timeout=4)
            self.frame()

    def action_thresholds(self) -> None:
        self.push_screen(ThresholdsScreen(self.door))

    def action_history(self) -> None:
        state = self.state
        self.push_screen(
            HistoryScreen(list(state.finished_trades), state.route_stats, state.pnl_series)
        )

    def action_help(self) -> None:
        keys = []
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.show:
                shown = binding.key_display or binding.key.replace(",", " / ")
                keys.append((shown, binding.tooltip or binding.description))
        keys.append(("ctrl+q", "quit (same as q)"))
        self.push_screen(HelpScreen(keys))

    def action_cycle_symbol(self) -> None:
        self.state.cycle_symbol()
        self.frame()  # draw now: a key press shows within one frame, not at the next tick
        self._draw_when_settled()

    @work(group="view", exclusive=True, exit_on_error=False)
    async def _draw_when_settled(self) -> None:
        # An attached console gets the new symbol's books with the engine's next frame: draw
        # as soon as it lands rather than at the next tick.
        await self.door.settled()
        self.frame()

    def action_toggle_log(self) -> None:
        log = self.query_one(LogPane)
        log.display = not log.display

    def action_show_pane(self, key: str) -> None:
        if key not in self.available_panes():
            return
        self.active_pane = key
        self._relayout()
        self.query_one(f"#{key}").focus()
        self.frame()

    @on(PaneTabs.Chosen)
    def _tab_chosen(self, event: PaneTabs.Chosen) -> None:
        self.action_show_pane(event.pane)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if event.widget.id in {k for k, _ in PANES}:
            self.active_pane = event.widget.id

    # -- filter ----------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        for pane in (self.spreads, self.opportunities, self.trades, self.liquidations):
            pane.set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        box = self.query_one("#filter", Input)
        box.display = bool(box.value)
        self.query_one(f"#{self.active_pane}").focus()

    def on_key(self, event: events.Key) -> None:
        box = self.query_one("#filter", Input)
        if event.key == "escape" and box.has_focus:
            box.value = ""
            box.display = False
            self.query_one(f"#{self.active_pane}").focus()
            event.stop()

    # -- themes ----------------------------------------------------------------------------

    def action_cycle_theme(self) -> None:
        self.theme = next_theme(self.theme_names, self.theme)

    def _theme_changed(self, theme: Theme) -> None:
        # Persist every theme change, from `T` or from the command palette; the engine writes
        # settings.toml in a thread, so this handler returns at once.
        if theme.name == self._saved_theme:
            return
        self._saved_theme = theme.name
        self._save_theme(theme.name)

    @work(group="theme", exclusive=True, exit_on_error=False)
    async def _save_theme(self, name: str) -> None:
        result = await self.door.send(SetTheme(name))
        if result.ok:
            self.notify(result.message, timeout=2)
        else:
            self.notify(result.message, severity="warning")

    async def _send(self, command: Command) -> bool:
        """Send a command; a refusal is shown to the trader. True when it was applied."""
        result = await self.door.send(command)
        if not result.ok:
            self.notify(result.message, severity="error", timeout=6)
        return result.ok

    # -- quit ------------------------------------------------------------------------------

    async def action_quit(self) -> None:
        in_flight = self.state.in_flight
        if in_flight and self.door.stops_engine:
            self.push_screen(
                ConfirmScreen(
                    "Quit?",
                    f"{in_flight} trade(s) in flight. The engine finishes or unwinds them "
                    "before it stops.",
                    "Quit",
                ),
                self._quit_answer,
            )
            return
        await self._stop_and_exit()

    async def _quit_answer(self, yes: bool | None) -> None:
        if yes:
            await self._stop_and_exit()


def run_console(
    door: EngineDoor,
    *,
    seconds: float | None = None,
    live_confirmed: bool = False,
) -> int:
    """Run the console over the door of a built, not-yet-started engine (the console starts
    it in its own loop) until the trader quits; returns the process exit code."""
    app = ArbdeskApp(door, seconds=seconds, live_confirmed=live_confirmed)
    result = app.run()
    return int(result) if isinstance(result, int) else int(app.return_code or 0)
