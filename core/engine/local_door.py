"""The door of an engine running in this process: snapshots copied out of the live engine,
commands turned into engine calls. A served door (a later issue) sends the same data over a
socket; the console cannot tell the two apart."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from core.book import OrderBook
from core.bus import EventBus
from core.detect.cycle_scan import CycleOpportunity
from core.detect.opportunity import Opportunity
from core.detect.top_of_book import SpreadRow
from core.door import (
    Approve,
    BookTop,
    BorrowerView,
    ChangeSetting,
    Command,
    CommandResult,
    FeedView,
    Kill,
    LegSummary,
    OpportunityView,
    Reject,
    Resume,
    SetAutoExecute,
    SetTheme,
    SettingField,
    Snapshot,
    SpreadView,
    TradeSummary,
    shown,
)
from core.door_events import DoorFeed
from core.engine.lending import WatchlistRow
from core.events import FeedState
from core.execute.trades import TradeView
from core.settings import Settings, SettingsError
from core.settings_edit import EditableField, SettingChange
from core.trade_stats import TradeStats


class FeedStatusLike(Protocol):
    @property
    def venue(self) -> str: ...
    @property
    def symbol(self) -> str: ...
    @property
    def state(self) -> FeedState: ...
    @property
    def reason(self) -> str: ...
    @property
    def last_update_at(self) -> float | None: ...


class DoorEngine(Protocol):
    """What the door reads from and asks of the engine (core.engine.engine.Engine has it)."""

    settings: Settings
    venues: list[str]
    symbols: list[str]
    books: dict[str, dict[str, OrderBook]]
    bus: EventBus
    clock: Callable[[], float]

    @property
    def lending(self) -> object | None: ...
    @property
    def killed(self) -> bool: ...
    @property
    def auto_execute(self) -> bool: ...
    def spread_rows(self) -> Sequence[SpreadRow]: ...
    def pending_opportunities(self) -> Sequence[Opportunity]: ...
    def feed_status(self) -> Sequence[FeedStatusLike]: ...
    def venue_health(self) -> dict[str, FeedState]: ...
    def breaker_state(self) -> str: ...
    def pnl_today_usd(self) -> Decimal: ...
    def in_flight(self) -> int: ...
    def active_trades(self) -> Sequence[TradeView]: ...
    def finished_trades(self) -> Sequence[TradeView]: ...
    def liquidation_watchlist(self) -> Sequence[WatchlistRow]: ...
    def stats(self) -> dict[str, Any]: ...
    def trade_stats(self) -> TradeStats: ...
    def editable_settings(self) -> list[EditableField]: ...
    async def approve(self, opportunity_id: str) -> str: ...
    def reject(self, opportunity_id: str) -> None: ...
    def set_auto_execute(self, on: bool) -> None: ...
    def kill(self, reason: str = ...) -> None: ...
    def resume(self) -> None: ...
    async def change_setting(self, path: str, raw: Any) -> SettingChange: ...
    async def save_theme(self, name: str) -> Path | None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class LocalDoor:
    stops_engine = True  # the console owns this engine: quitting stops it

    def __init__(self, engine: DoorEngine) -> None:
        self.engine = engine

    # -- reads -----------------------------------------------------------------------------

    def snapshot(self, book_symbols: Sequence[str] = (), depth: int = 10) -> Snapshot:
        engine = self.engine
        settings = engine.settings
        has_watchlist = engine.lending is not None
        trades_active = engine.active_trades()
        figures = engine.trade_stats()  # cached by the engine: no SQL per frame
        return Snapshot(
            at=float(engine.clock()),
            mode=str(settings.mode.value),
            theme=str(settings.ui.theme),
            refresh_hz=float(settings.ui.refresh_hz),
            symbols=tuple(engine.symbols),
            venues=tuple(engine.venues),
            min_profit_bps=float(settings.thresholds.min_profit_bps),
            auto_execute=bool(engine.auto_execute),
            killed=bool(engine.killed),
            breaker=str(engine.breaker_state()),
            pnl_today_usd=Decimal(engine.pnl_today_usd()),
            in_flight=int(engine.in_flight()),
            books=self._books(book_symbols, depth),
            spreads=tuple(spread_view(r) for r in engine.spread_rows()),
            opportunities=tuple(opportunity_view(o) for o in engine.pending_opportunities()),
            active_trades=tuple(trade_summary(t) for t in trades_active),
            finished_trades=tuple(trade_summary(t) for t in engine.finished_trades()),
            has_watchlist=has_watchlist,
            watchlist=(
                tuple(borrower_view(r) for r in engine.liquidation_watchlist())
                if has_watchlist
                else ()
            ),
            feeds=tuple(
                FeedView(f.venue, f.symbol, f.state, f.reason, f.last_update_at or None)
                for f in engine.feed_status()
            ),
            venue_health=tuple(sorted(engine.venue_health().items())),
            stats=tuple(sorted((str(k), str(v)) for k, v in engine.stats().items())),
            route_stats=figures.routes,
            pnl_series=figures.pnl_series,
            bell_on_breaker_trip=bool(settings.alerts.bell_on_breaker_trip),
        )

    def _books(self, symbols: Sequence[str], depth: int) -> tuple[BookTop, ...]:
        out = []
        for symbol in symbols:
            by_venue = self.engine.books.get(symbol, {})
            for venue in self.engine.venues:
                book = by_venue.get(venue)
                if book is not None:
                    out.append(book_top(book, depth))
        return tuple(out)

    def subscribe(self, maxlen: int = 200_000) -> DoorFeed:
        return DoorFeed(self.engine.bus.subscribe(maxlen=maxlen), self.engine.clock)

    def setting_fields(self) -> tuple[SettingField, ...]:
        return tuple(
            SettingField(f.path, f.section, f.name, f.description, shown(f.value), f.type_name)
            for f in self.engine.editable_settings()
        )

    # -- commands --------------------------------------------------------------------------

    async def send(self, command: Command) -> CommandResult:  # noqa: C901 - one case per command
        engine = self.engine
        match command:
            case Approve(opportunity_id=oid):
                if not self._is_pending(oid):
                    return CommandResult(False, f"no pending opportunity {oid}")
                return CommandResult(True, await engine.approve(oid))
            case Reject(opportunity_id=oid):
                if not self._is_pending(oid):
                    return CommandResult(False, f"no pending opportunity {oid}")
                engine.reject(oid)
                return CommandResult(True, f"rejected {oid}")
            case SetAutoExecute(on=on):
                engine.set_auto_execute(on)
                return CommandResult(True, f"auto-execute {'ON' if on else 'off'}")
            case Kill(reason=reason):
                engine.kill(reason)
                return CommandResult(True, "KILL SWITCH engaged: no new trades")
            case Resume():
                engine.resume()
                return CommandResult(True, "trading resumed")
            case ChangeSetting(path=path, raw=raw):
                return await self._change_setting(path, raw)
            case SetTheme(name=name):
                try:
                    written = await engine.save_theme(name)
                except SettingsError as exc:
                    return CommandResult(False, f"theme not saved: {exc}", tuple(exc.problems))
                return CommandResult(True, f"theme {name}", saved_to=_name(written))
        raise ValueError(f"unknown command {command!r}")

    def _is_pending(self, opportunity_id: str) -> bool:
        engine = self.engine
        if any(o.id == opportunity_id for o in engine.pending_opportunities()):
            return True
        return engine.lending is not None and any(
            row.opportunity_id == opportunity_id for row in engine.liquidation_watchlist()
        )

    async def _change_setting(self, path: str, raw: str) -> CommandResult:
        try:
            change = await self.engine.change_setting(path, raw)
        except SettingsError as exc:
            return CommandResult(False, f"{path} not changed", tuple(exc.problems))
        old, new = shown(change.old), shown(change.new)
        return CommandResult(
            True, f"{path}: {old} → {new}", old=old, new=new, saved_to=_name(change.written_to)
        )

    async def settled(self) -> None:
        """Snapshots are taken from the live books: nothing to wait for."""

    async def start(self) -> None:
        await self.engine.start()

    async def stop(self) -> None:
        await self.engine.stop()


def _name(path: Path | None) -> str | None:
    return None if path is None else path.name


# -- copies of core objects --------------------------------------------------------------------


def book_top(book: OrderBook, depth: int) -> BookTop:
    bids, asks = book.top(depth) if book.valid else ([], [])
    received = float(book.received_at or 0.0)
    return BookTop(
        venue=book.venue,
        symbol=book.symbol,
        bids=tuple((float(p), float(a)) for p, a in bids),
        asks=tuple((float(p), float(a)) for p, a in asks),
        received_at=received if received > 0 else None,
        valid=bool(book.valid),
        crossed=bool(book.is_crossed()),
    )


def spread_view(row: SpreadRow) -> SpreadView:
    return SpreadView(
        row.symbol,
        row.buy_venue,
        row.sell_venue,
        row.ask,
        row.bid,
        row.gross_bps,
        row.net_bps,
        bool(row.usable),
    )


def opportunity_view(o: Opportunity) -> OpportunityView:
    return OpportunityView(
        id=o.id,
        symbol=o.symbol,
        buy_venue=o.buy_venue,
        sell_venue=o.sell_venue,
        size=float(o.size),
        buy_vwap=float(o.buy_vwap),
        sell_vwap=float(o.sell_vwap),
        net_bps=float(o.net_bps),
        net_profit_usd=float(o.net_profit_usd),
        expires_at=float(o.expires_at),
        kind=o.kind,
        hops=tuple(
            f"{leg.label}: {leg.amount_in:.8g} {leg.src} -> {leg.amount_out:.8g} {leg.dst}"
            for leg in o.legs
        )
        if isinstance(o, CycleOpportunity)
        else (),
    )


def trade_summary(t: TradeView) -> TradeSummary:
    return TradeSummary(
        id=t.id,
        symbol=t.symbol,
        buy_venue=t.buy_venue,
        sell_venue=t.sell_venue,
        state=t.status,
        legs=tuple(
            LegSummary(
                leg.role,
                leg.venue,
                leg.side,
                leg.amount,
                leg.filled,
                leg.average,
                leg.status,
                leg.symbol,
                leg.submission,
                leg.target_blocks,
                leg.landed_block,
            )
            for leg in t.legs
        ),
        # USD when the executor values it, else the quote currency's PnL.
        realized_pnl=t.realized_pnl_usd if t.realized_pnl_usd is not None else t.realized_pnl,
        started_at=t.started_at,
        finished_at=t.finished_at,
        reason=t.reason,
    )


def borrower_view(row: WatchlistRow) -> BorrowerView:
    flags = tuple(
        word
        for word, on in (
            ("stale", row.stale),
            ("no route", row.no_route),
            ("oracle stale", row.oracle_stale),
        )
        if on
    )
    return BorrowerView(
        user=str(row.user),
        health_factor=float(row.health_factor),
        collateral_usd=float(sum(row.collateral_usd.values())),
        debt_usd=float(sum(row.debt_usd.values())),
        move=row.liquidation_move,
        best=str(row.best),
        net_profit_usd=None if row.net_profit_usd is None else float(row.net_profit_usd),
        liquidatable=bool(row.liquidatable),
        profitable=bool(row.profitable),
        flags=flags,
        opportunity_id=row.opportunity_id,
    )
