"""The console's store of the latest state, rebuilt once per frame.

Each frame the app drains its door's event feed into `ConsoleState.ingest` (the frame's book
updates arrive folded into one `BooksTouched`, kept as a per-book dirty set and a rate counter;
the rest become log lines or state changes) and then `ConsoleState.pull(snapshot)` takes the
frame's frozen `core.door.Snapshot`. Panes render from this plain data only, never from the
engine, so each pane can be tested with hand-made state.

Nothing here does I/O and nothing here awaits: it all runs on the event loop between frames.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from core.door import (
    BookTop,
    BorrowerView,
    LegSummary,
    OpportunityView,
    RouteStats,
    Snapshot,
    SpreadView,
    TradeSummary,
)
from core.door_events import BooksTouched, OpportunityNotice
from core.events import (
    BreakerTransitioned,
    BundleSettled,
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


SPREAD_FIELDS = tuple(f.name for f in fields(SpreadView))


@dataclass(frozen=True, slots=True)
class SpreadLine(SpreadView):
    """A spread as its pane draws it: the door's row and its recent net bps."""

    history: tuple[float, ...]  # net bps samples, oldest first

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.symbol, self.buy_venue, self.sell_venue)


@dataclass(frozen=True, slots=True)
class OpportunityLine:
    """An opportunity as its pane draws it: the door's row and the seconds it has left."""

    view: OpportunityView
    ttl_s: float  # negative once past expiry, until the engine drops it

    @property
    def id(self) -> str:
        return self.view.id


# The door's own rows, drawn as they come.
LegLine = LegSummary
TradeLine = TradeSummary
LiquidationLine = BorrowerView


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
    theme: str = ""
    refresh_hz: float = 10.0
    symbols: list[str] = field(default_factory=list)
    venues: list[str] = field(default_factory=list)
    selected_symbol: str = ""
    books: list[BookSide] = field(default_factory=list)
    spreads: list[SpreadLine] = field(default_factory=list)
    opportunities: list[OpportunityLine] = field(default_factory=list)
    active_trades: list[TradeLine] = field(default_factory=list)
    finished_trades: list[TradeLine] = field(default_factory=list)
    watchlist: list[LiquidationLine] = field(default_factory=list)
    route_stats: list[RouteStats] = field(default_factory=list)  # per route kind, then venue
    pnl_series: list[tuple[float, Decimal]] = field(default_factory=list)  # cumulative, USD
    has_watchlist: bool = False  # the engine runs a lending feed (else: no pane at all)
    venue_lines: list[VenueLine] = field(default_factory=list)
    breaker: str = "CLOSED"
    link: str = ""  # "" in-process; else the attached engine's link ("attached", "lost …")
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
    breaker_trips: int = 0  # breaker scopes that opened in this frame's events (not by a kill)
    bell_on_breaker_trip: bool = True
    _history: dict[tuple[str, str, str], deque[tuple[float, float]]] = field(default_factory=dict)
    _rate_window: deque[tuple[float, int]] = field(default_factory=deque)

    # -- events ----------------------------------------------------------------------------

    def ingest(self, events: Iterable[Event]) -> None:
        """Fold a frame's worth of bus events in. Book updates only mark books dirty."""
        now = self.clock()
        books = 0
        self.new_log = []
        self.breaker_trips = 0
        for event in events:
            if isinstance(event, BooksTouched):  # the door folds a frame's book updates
                books += event.count
                self.dirty_books.update(event.books)
                continue
            if isinstance(event, FeedMessageDropped):
                self.dropped_messages = event.dropped_total
                continue
            if isinstance(event, KillSwitchToggled):
                self.killed = event.active
            elif isinstance(event, BreakerTransitioned) and event.scope == "global":
                self.breaker = event.to_state
            # The kill switch opens the global scope too: no bell for a key the trader hit.
            if isinstance(event, BreakerTransitioned) and event.to_state == "open":
                if event.cause != "kill_switch":
                    self.breaker_trips += 1
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

    def pull(self, snap: Snapshot) -> None:
        """Take a frame's snapshot: ages and TTLs against the engine's clock (`snap.at`)."""
        self.now = now = snap.at
        self.mode = snap.mode
        self.theme = snap.theme
        self.refresh_hz = snap.refresh_hz
        self.min_profit_bps = snap.min_profit_bps
        self.symbols = list(snap.symbols)
        self.venues = list(snap.venues)
        if self.selected_symbol not in self.symbols:
            self.selected_symbol = self.symbols[0] if self.symbols else ""
        health = dict(snap.venue_health)
        self.books = [
            book_side(book, health.get(book.venue, FeedState.CONNECTING), now)
            for book in snap.books
            if book.symbol == self.selected_symbol
        ]
        self._pull_spreads(snap.spreads, now)
        self.opportunities = [opportunity_line(o, now) for o in snap.opportunities]
        self._pull_health(snap, health, now)
        self.breaker = snap.breaker
        self.link = snap.link
        self.killed = snap.killed
        self.auto_execute = snap.auto_execute
        self.pnl_today_usd = snap.pnl_today_usd
        self.in_flight = snap.in_flight
        self.active_trades = list(snap.active_trades)
        self.finished_trades = list(snap.finished_trades)
        self.has_watchlist = snap.has_watchlist
        self.watchlist = list(snap.watchlist)
        self.route_stats = list(snap.route_stats)
        self.pnl_series = list(snap.pnl_series)
        self.bell_on_breaker_trip = snap.bell_on_breaker_trip
        self.dirty_books.clear()

    def _pull_spreads(self, rows: Iterable[SpreadView], now: float) -> None:
        lines = []
        for row in rows:
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
                    **{f: getattr(row, f) for f in SPREAD_FIELDS},
                    history=tuple(v for _, v in samples),
                )
            )
        self.spreads = lines

    def _pull_health(self, snap: Snapshot, health: dict[str, FeedState], now: float) -> None:
        last: dict[str, float] = {}
        for feed in snap.feeds:
            at = feed.last_update_at or 0.0
            last[feed.venue] = max(last.get(feed.venue, 0.0), at)
        self.venue_lines = [
            VenueLine(
                venue,
                health.get(venue, FeedState.CONNECTING),
                now - last[venue] if last.get(venue) else None,
            )
            for venue in self.venues
        ]

    # -- selection -------------------------------------------------------------------------

    def cycle_symbol(self, step: int = 1) -> str:
        if self.symbols:
            try:
                index = self.symbols.index(self.selected_symbol)
            except ValueError:
                index = -step
            self.selected_symbol = self.symbols[(index + step) % len(self.symbols)]
        return self.selected_symbol


# -- conversions from the snapshot -----------------------------------------------------------


def book_side(book: BookTop, health: FeedState, now: float) -> BookSide:
    return BookSide(
        venue=book.venue,
        bids=book.bids,
        asks=book.asks,
        age_s=None if book.received_at is None else now - book.received_at,
        valid=book.valid,
        crossed=book.crossed,
        health=health,
    )


def opportunity_line(o: OpportunityView, now: float) -> OpportunityLine:
    return OpportunityLine(o, o.expires_at - now)


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
        case OpportunityNotice() as o:
            if o.kind == "liquidation":
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
        case BundleSettled(trade_id=tid, outcome="included", landed_block=block, target_blocks=t):
            tries = f" (target {block_span(t)})" if len(t) > 1 else ""
            return LogLine(at, "INFO", f"trade {tid} bundle landed in block {block}{tries}")
        case BundleSettled(trade_id=tid, target_blocks=t, reason=reason):
            what = f"not included in block {block_span(t)}" if t else "not sent"
            return LogLine(at, "WARNING", f"trade {tid} bundle {what}{_why(reason)}")
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


def block_span(blocks: tuple[int, ...]) -> str:
    """`123` or `123-125`: a relay leg's target blocks."""
    return str(blocks[0]) if len(blocks) == 1 else f"{blocks[0]}-{blocks[-1]}"


def _why(reason: str) -> str:
    return f" ({reason})" if reason else ""
