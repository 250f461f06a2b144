"""The console's store of the latest state, rebuilt once per frame.

Each frame the app drains its one bus subscription into `ConsoleState.ingest` (high-rate
`BookUpdated` events are merged into a per-book dirty set and a rate counter; the rest become
log lines or state changes) and then `ConsoleState.pull(engine)` reads the engine's cheap
snapshot methods. Panes render from this plain data only, never from the engine, so each pane
can be tested with hand-made state.

Nothing here does I/O and nothing here awaits: it all runs on the event loop between frames.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from core.events import (
    BookUpdated,
    BreakerTransitioned,
    EngineMessage,
    Event,
    FeedHealthChanged,
    FeedMessageDropped,
    FeedState,
    KillSwitchToggled,
    LegFailed,
    LegFilled,
    LegSent,
    OpportunityExpired,
    OpportunityFound,
    TradeFinished,
    TradeRefused,
    TradeStarted,
    TradeUnwinding,
    TradeUpdated,
    VenueProblem,
)

BOOK_DEPTH = 10
SPARK_WINDOW_S = 180.0  # sparkline covers the last three minutes
SPARK_SAMPLE_S = 2.0  # one point per two seconds: 90 points, more than any column shows
LOG_LINES = 2_000


class EngineLike(Protocol):
    """What the console reads from and asks of the engine (core.engine.Engine satisfies it)."""

    settings: Any
    venues: list[str]
    symbols: list[str]
    books: dict[str, dict[str, Any]]
    bus: Any

    def spread_rows(self) -> Sequence[Any]: ...
    def pending_opportunities(self) -> Sequence[Any]: ...
    def feed_status(self) -> Sequence[Any]: ...
    def venue_health(self) -> dict[str, FeedState]: ...


# -- plain rows the panes draw --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BookSide:
    """One venue's view of the selected symbol."""

    venue: str
    bids: tuple[tuple[float, float], ...]
    asks: tuple[tuple[float, float], ...]
    age_s: float | None  # None: never updated
    valid: bool
    crossed: bool
    health: FeedState

    @property
    def spread_bps(self) -> float | None:
        if not self.bids or not self.asks:
            return None
        bid, ask = self.bids[0][0], self.asks[0][0]
        mid = (bid + ask) / 2
        return (ask - bid) / mid * 1e4 if mid > 0 else None


@dataclass(frozen=True, slots=True)
class SpreadLine:
    symbol: str
    buy_venue: str
    sell_venue: str
    ask: float | None
    bid: float | None
    gross_bps: float | None
    net_bps: float | None
    usable: bool
    history: tuple[float, ...]  # net bps samples, oldest first

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.symbol, self.buy_venue, self.sell_venue)


@dataclass(frozen=True, slots=True)
class OpportunityLine:
    id: str
    symbol: str
    buy_venue: str
    sell_venue: str
    size: float
    buy_vwap: float
    sell_vwap: float
    net_bps: float
    net_profit_usd: float
    ttl_s: float  # seconds left (negative once past expiry, until the engine drops it)


@dataclass(frozen=True, slots=True)
class LegLine:
    role: str
    venue: str
    side: str
    amount: Decimal
    filled: Decimal
    average: Decimal | None
    status: str


@dataclass(frozen=True, slots=True)
class TradeLine:
    id: str
    symbol: str
    buy_venue: str
    sell_venue: str
    state: str
    legs: tuple[LegLine, ...]
    realized_pnl: Decimal | None
    started_at: float
    finished_at: float | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class LiquidationLine:
    """One borrower on the Aave watchlist."""

    user: str
    health_factor: float
    collateral_usd: float
    debt_usd: float
    move: tuple[str, float] | None  # (symbol, fractional price move that brings HF to 1)
    best: str
    net_profit_usd: float | None
    liquidatable: bool
    profitable: bool
    flags: tuple[str, ...]  # stale, no route, oracle stale
    opportunity_id: str | None


@dataclass(frozen=True, slots=True)
class VenueLine:
    venue: str
    health: FeedState
    age_s: float | None


@dataclass(frozen=True, slots=True)
class LogLine:
    at: float
    level: str
    text: str


@dataclass
class ConsoleState:
    """Latest state for every pane. Mutated only by `ingest` and `pull`, once per frame."""

    clock: Callable[[], float]
    now: float = 0.0
    mode: str = "sim"
    symbols: list[str] = field(default_factory=list)
    venues: list[str] = field(default_factory=list)
    selected_symbol: str = ""
    books: list[BookSide] = field(default_factory=list)
    spreads: list[SpreadLine] = field(default_factory=list)
    opportunities: list[OpportunityLine] = field(default_factory=list)
    active_trades: list[TradeLine] = field(default_factory=list)
    finished_trades: list[TradeLine] = field(default_factory=list)
    watchlist: list[LiquidationLine] = field(default_factory=list)
    has_watchlist: bool = False  # the engine runs a lending feed (else: no pane at all)
    venue_lines: list[VenueLine] = field(default_factory=list)
    breaker: str = "CLOSED"
    killed: bool = False
    auto_execute: bool = False
    pnl_today_usd: Decimal = Decimal(0)
    in_flight: int = 0
    min_profit_bps: float = 0.0
    book_updates_per_s: float = 0.0
    dropped_messages: int = 0
    log: deque[LogLine] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    new_log: list[LogLine] = field(default_factory=list)
    dirty_books: set[tuple[str, str]] = field(default_factory=set)
    _history: dict[tuple[str, str, str], deque[tuple[float, float]]] = field(default_factory=dict)
    _rate_window: deque[tuple[float, int]] = field(default_factory=deque)

    # -- events ----------------------------------------------------------------------------

    def ingest(self, events: Iterable[Event]) -> None:
        """Fold a frame's worth of bus events in. Book updates only mark books dirty."""
        now = self.clock()
        books = 0
        self.new_log = []
        for event in events:
            if type(event) is BookUpdated:  # the hot path: thousands per frame under a burst
                books += 1
                self.dirty_books.add((event.symbol, event.venue))
                continue
            if isinstance(event, FeedMessageDropped):
                self.dropped_messages = event.dropped_total
                continue
            if isinstance(event, KillSwitchToggled):
                self.killed = event.active
            elif isinstance(event, BreakerTransitioned) and event.scope == "global":
                self.breaker = event.to_state
            line = describe(event)
            if line is not None:
                self.log.append(line)
                self.new_log.append(line)
        self._count_rate(now, books)

    def _count_rate(self, now: float, count: int) -> None:
        window = self._rate_window
        window.append((now, count))
        while window and now - window[0][0] > 2.0:
            window.popleft()
        span = now - window[0][0] if len(window) > 1 else 0.0
        total = sum(c for _, c in list(window)[1:])
        self.book_updates_per_s = total / span if span > 0 else 0.0

    # -- snapshots -------------------------------------------------------------------------

    def pull(self, engine: EngineLike) -> None:
        """Read the engine's snapshot methods (all cheap, none awaits)."""
        self.now = now = self.clock()
        settings = engine.settings
        self.mode = str(getattr(settings.mode, "value", settings.mode))
        self.min_profit_bps = float(settings.thresholds.min_profit_bps)
        self.symbols = list(engine.symbols)
        self.venues = list(engine.venues)
        if self.selected_symbol not in self.symbols:
            self.selected_symbol = self.symbols[0] if self.symbols else ""
        self._pull_books(engine, now)
        self._pull_spreads(engine, now)
        self.opportunities = [opportunity_line(o, now) for o in engine.pending_opportunities()]
        self._pull_health(engine, now)
        self._pull_risk(engine)
        self._pull_trades(engine)
        self._pull_watchlist(engine)
        self.dirty_books.clear()

    def _pull_books(self, engine: EngineLike, now: float) -> None:
        health = engine.venue_health()
        by_venue = engine.books.get(self.selected_symbol, {})
        sides = []
        for venue in self.venues:
            book = by_venue.get(venue)
            if book is None:
                continue
            bids, asks = book.top(BOOK_DEPTH) if book.valid else ([], [])
            received = float(book.received_at or 0.0)
            sides.append(
                BookSide(
                    venue=venue,
                    bids=tuple(bids),
                    asks=tuple(asks),
                    age_s=now - received if received > 0 else None,
                    valid=bool(book.valid),
                    crossed=bool(book.is_crossed()),
                    health=health.get(venue, FeedState.CONNECTING),
                )
            )
        self.books = sides

    def _pull_spreads(self, engine: EngineLike, now: float) -> None:
        lines = []
        for row in engine.spread_rows():
            key = (row.symbol, row.buy_venue, row.sell_venue)
            samples = self._history.get(key)
            if samples is None:
                samples = self._history[key] = deque()
            if row.net_bps is not None and row.usable:
                if not samples or now - samples[-1][0] >= SPARK_SAMPLE_S:
                    samples.append((now, float(row.net_bps)))
            while samples and now - samples[0][0] > SPARK_WINDOW_S:
                samples.popleft()
            lines.append(
                SpreadLine(
                    symbol=row.symbol,
                    buy_venue=row.buy_venue,
                    sell_venue=row.sell_venue,
                    ask=row.ask,
                    bid=row.bid,
                    gross_bps=row.gross_bps,
                    net_bps=row.net_bps,
                    usable=bool(row.usable),
                    history=tuple(v for _, v in samples),
                )
            )
        self.spreads = lines

    def _pull_health(self, engine: EngineLike, now: float) -> None:
        health = engine.venue_health()
        last: dict[str, float] = {}
        for status in engine.feed_status():
            at = float(status.last_update_at or 0.0)
            last[status.venue] = max(last.get(status.venue, 0.0), at)
        self.venue_lines = [
            VenueLine(
                venue,
                health.get(venue, FeedState.CONNECTING),
                now - last[venue] if last.get(venue) else None,
            )
            for venue in self.venues
        ]

    def _pull_risk(self, engine: EngineLike) -> None:
        # The risk / execution side of the engine is optional so the console also runs on a
        # detection-only engine (and on test fakes that model only part of it).
        breaker = getattr(engine, "breaker_state", None)
        if callable(breaker):
            self.breaker = str(breaker())
        if hasattr(engine, "killed"):
            self.killed = bool(engine.killed)
        if hasattr(engine, "auto_execute"):
            self.auto_execute = bool(engine.auto_execute)
        else:
            self.auto_execute = bool(engine.settings.execution.auto_execute)
        pnl = getattr(engine, "pnl_today_usd", None)
        if callable(pnl):
            self.pnl_today_usd = Decimal(pnl())
        in_flight = getattr(engine, "in_flight", None)
        if callable(in_flight):
            self.in_flight = int(in_flight())

    def _pull_trades(self, engine: EngineLike) -> None:
        active = getattr(engine, "active_trades", None)
        finished = getattr(engine, "finished_trades", None)
        if callable(active):
            self.active_trades = [trade_line(t) for t in active()]
        if callable(finished):
            self.finished_trades = [trade_line(t) for t in finished()]
        if not callable(getattr(engine, "in_flight", None)):
            self.in_flight = len(self.active_trades)

    def _pull_watchlist(self, engine: EngineLike) -> None:
        rows = getattr(engine, "liquidation_watchlist", None)
        if getattr(engine, "lending", None) is None or not callable(rows):
            self.has_watchlist, self.watchlist = False, []
            return
        self.has_watchlist = True
        self.watchlist = [liquidation_line(r) for r in rows()]

    # -- selection -------------------------------------------------------------------------

    def cycle_symbol(self, step: int = 1) -> str:
        if self.symbols:
            try:
                index = self.symbols.index(self.selected_symbol)
            except ValueError:
                index = -step
            self.selected_symbol = self.symbols[(index + step) % len(self.symbols)]
        return self.selected_symbol


# -- conversions from core objects ----------------------------------------------------------


def opportunity_line(opportunity: Any, now: float) -> OpportunityLine:
    return OpportunityLine(
        id=opportunity.id,
        symbol=opportunity.symbol,
        buy_venue=opportunity.buy_venue,
        sell_venue=opportunity.sell_venue,
        size=float(opportunity.size),
        buy_vwap=float(opportunity.buy_vwap),
        sell_vwap=float(opportunity.sell_vwap),
        net_bps=float(opportunity.net_bps),
        net_profit_usd=float(opportunity.net_profit_usd),
        ttl_s=float(opportunity.expires_at) - now,
    )


def liquidation_line(row: Any) -> LiquidationLine:
    flags = tuple(
        word
        for word, on in (
            ("stale", row.stale),
            ("no route", row.no_route),
            ("oracle stale", row.oracle_stale),
        )
        if on
    )
    return LiquidationLine(
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


def _num(value: Any) -> str:
    """A journal-exact number shortened for a log line: 10 significant digits, no trailing
    zeros (the journal and `arbdesk history` keep every digit)."""
    try:
        number = Decimal(str(value))
    except (ArithmeticError, ValueError):
        return str(value)
    if not number.is_finite():
        return str(value)
    text = f"{number:.10g}"
    if "e" in text or "E" in text:
        return text
    return text.rstrip("0").rstrip(".") if "." in text else text


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def trade_line(trade: Any) -> TradeLine:
    """A trade record from core/execute as plain data (attribute names per its TradeView)."""
    opportunity = getattr(trade, "opportunity", None)

    def pick(name: str, default: Any = "") -> Any:
        value = getattr(trade, name, None)
        if value is None and opportunity is not None:
            value = getattr(opportunity, name, None)
        return default if value is None else value

    legs = tuple(
        LegLine(
            role=str(getattr(leg, "role", "")),
            venue=str(getattr(leg, "venue", "")),
            side=str(getattr(leg, "side", "")),
            amount=_dec(getattr(leg, "amount", 0)) or Decimal(0),
            filled=_dec(getattr(leg, "filled", 0)) or Decimal(0),
            average=_dec(getattr(leg, "average", None)),
            status=str(getattr(leg, "status", "")),
        )
        for leg in getattr(trade, "legs", ()) or ()
    )
    state = pick("state", None) or pick("status", "?")
    return TradeLine(
        id=str(pick("id")),
        symbol=str(pick("symbol")),
        buy_venue=str(pick("buy_venue")),
        sell_venue=str(pick("sell_venue")),
        state=str(getattr(state, "value", state)),
        legs=legs,
        # USD when the executor values it, else the quote currency's PnL.
        realized_pnl=_dec(
            getattr(trade, "realized_pnl_usd", None) or getattr(trade, "realized_pnl", None)
        ),
        started_at=float(pick("started_at", 0.0)),
        finished_at=(
            float(trade.finished_at) if getattr(trade, "finished_at", None) is not None else None
        ),
        reason=str(pick("reason", "")),
    )


def describe(event: Event) -> LogLine | None:  # noqa: C901 - one small case per event type
    """The log-pane line for an event, or None for events not worth a line."""
    at = event.at
    match event:
        case EngineMessage(level=level, text=text):
            return LogLine(at, level.upper(), text)
        case FeedHealthChanged(venue=venue, symbol=symbol, state=state, reason=reason):
            level = "INFO" if state in (FeedState.LIVE, FeedState.CONNECTING) else "WARNING"
            return LogLine(at, level, f"feed {venue} {symbol}: {state}{_why(reason)}")
        case VenueProblem(venue=venue, message=message, symbol=symbol):
            return LogLine(at, "ERROR", f"{venue}{' ' + symbol if symbol else ''}: {message}")
        case OpportunityFound(opportunity=o) if not getattr(event, "refreshed", False):
            if getattr(o, "kind", "spread") == "liquidation":
                return LogLine(
                    at,
                    "INFO",
                    f"liquidation {o.user} HF {o.health_factor:.4f}"
                    f" ${float(o.net_profit_usd):,.2f}",
                )
            return LogLine(
                at,
                "INFO",
                f"opportunity {o.symbol} buy {o.buy_venue} sell {o.sell_venue} "
                f"{o.net_bps:.1f} bps ${o.net_profit_usd:,.2f}",
            )
        case OpportunityExpired(opportunity_id=oid, reason=reason) if reason != "ttl":
            return LogLine(at, "INFO", f"opportunity {oid} {reason}")
        case TradeRefused(opportunity_id=oid, reason=reason):
            return LogLine(at, "WARNING", f"refused {oid}: {reason}")
        case TradeStarted(trade_id=tid, symbol=symbol, buy_venue=b, sell_venue=s, amount=amt):
            return LogLine(
                at, "INFO", f"trade {tid} started: {symbol} {_num(amt)} buy {b} sell {s}"
            )
        case LegSent(trade_id=tid, role=role, venue=venue, side=side, amount=amt, price=price):
            where = f" @ {_num(price)}" if price is not None else ""
            return LogLine(at, "INFO", f"trade {tid} {role} {side} {_num(amt)} on {venue}{where}")
        case LegFilled(trade_id=tid, role=role, venue=venue, filled=filled, average=avg):
            return LogLine(
                at, "INFO", f"trade {tid} {role} filled {_num(filled)} @ {_num(avg)} on {venue}"
            )
        case LegFailed(trade_id=tid, role=role, venue=venue, reason=reason):
            return LogLine(at, "ERROR", f"trade {tid} {role} failed on {venue}: {reason}")
        case TradeUnwinding(trade_id=tid, venue=venue, side=side, amount=amt, reason=reason):
            return LogLine(
                at, "WARNING", f"trade {tid} unwinding {side} {_num(amt)} on {venue}: {reason}"
            )
        case TradeFinished(trade_id=tid, status=status, realized_pnl=pnl, reason=reason):
            level = "INFO" if pnl >= 0 else "WARNING"
            return LogLine(at, level, f"trade {tid} {status}: pnl {pnl:+.2f}{_why(reason)}")
        case BreakerTransitioned(scope=scope, from_state=a, to_state=b, reason=reason):
            level = "WARNING" if b.upper() != "CLOSED" else "INFO"
            return LogLine(at, level, f"breaker {scope}: {a} -> {b}{_why(reason)}")
        case KillSwitchToggled(active=active, reason=reason):
            word = "ENGAGED" if active else "released"
            return LogLine(at, "WARNING" if active else "INFO", f"kill switch {word}{_why(reason)}")
        case TradeUpdated():
            return None
    return None


def _why(reason: str) -> str:
    return f" ({reason})" if reason else ""
