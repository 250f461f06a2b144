"""The one door between the engine and a console: a frozen per-frame snapshot out, typed
commands in, the bus's immutable events alongside.

Everything here is plain data (str, int, float, bool, Decimal, None, tuples and these frozen
dataclasses), so the same door can later be served over a socket: `to_wire` / `from_wire` turn
any of it into JSON-ready values and back, and a test holds the round trip. Nothing here knows
the engine; `core.engine.local_door.LocalDoor` builds snapshots from a running engine.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from core.events import Event, FeedState
from core.trade_stats import RouteStats

Level = tuple[float, float]  # (price, amount)


# -- the snapshot ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BookTop:
    """The top of one venue's book for one symbol, copied (the live book stays in the core)."""

    venue: str
    symbol: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    received_at: float | None  # None: never updated
    valid: bool
    crossed: bool


@dataclass(frozen=True, slots=True)
class SpreadView:
    symbol: str
    buy_venue: str
    sell_venue: str
    ask: float | None
    bid: float | None
    gross_bps: float | None
    net_bps: float | None
    usable: bool


@dataclass(frozen=True, slots=True)
class OpportunityView:
    id: str
    symbol: str
    buy_venue: str
    sell_venue: str
    size: float
    buy_vwap: float
    sell_vwap: float
    net_bps: float
    net_profit_usd: float
    expires_at: float
    kind: str = "spread"  # "cycle": symbol is the path, size / the vwaps are start amounts
    hops: tuple[str, ...] = ()  # a cycle's hops, "buy BTC/USDT@simex: 25000 USDT -> 0.26 BTC"


@dataclass(frozen=True, slots=True)
class LegSummary:
    role: str
    venue: str
    side: str
    amount: Decimal
    filled: Decimal
    average: Decimal | None
    status: str
    symbol: str = ""
    """The market the leg traded (a cycle's hops each trade their own)."""
    submission: str = ""  # on-chain legs: "public" or "relay"
    target_blocks: tuple[int, ...] = ()  # a relay leg's target blocks so far
    landed_block: int | None = None  # the block its transaction is in, from the receipt


@dataclass(frozen=True, slots=True)
class TradeSummary:
    id: str
    symbol: str
    buy_venue: str
    sell_venue: str
    state: str
    legs: tuple[LegSummary, ...]
    realized_pnl: Decimal | None  # USD where the executor values it, else quote currency
    started_at: float
    finished_at: float | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class BorrowerView:
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
class FeedView:
    venue: str
    symbol: str
    state: FeedState
    reason: str
    last_update_at: float | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One frame of the engine, taken between two event-loop steps (so it is consistent)."""

    at: float  # the engine's clock: ages and TTLs are measured against it, not the viewer's
    mode: str
    theme: str
    refresh_hz: float
    symbols: tuple[str, ...]
    venues: tuple[str, ...]
    min_profit_bps: float
    auto_execute: bool
    killed: bool
    breaker: str
    pnl_today_usd: Decimal
    in_flight: int
    books: tuple[BookTop, ...]  # the symbols asked for, every venue that has the book
    spreads: tuple[SpreadView, ...]
    opportunities: tuple[OpportunityView, ...]
    active_trades: tuple[TradeSummary, ...]
    finished_trades: tuple[TradeSummary, ...]
    has_watchlist: bool  # the engine runs a lending feed
    watchlist: tuple[BorrowerView, ...]
    feeds: tuple[FeedView, ...]
    venue_health: tuple[tuple[str, FeedState], ...]  # worst feed state per venue
    stats: tuple[tuple[str, str], ...]  # counters, as text so any number survives the wire
    link: str = ""  # how the console reaches the engine: "" in-process, else the attach state
    route_stats: tuple[RouteStats, ...] = ()  # the journal's, per route kind then per venue
    pnl_series: tuple[tuple[float, Decimal], ...] = ()  # (finish time, cumulative PnL USD)
    bell_on_breaker_trip: bool = True  # alerts.bell_on_breaker_trip: the console rings on a trip


# -- settings the console edits ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SettingField:
    path: str  # "thresholds.min_profit_bps"
    section: str
    name: str
    description: str
    value: str  # as typed in settings.toml ("true", "3.0")
    type_name: str


# -- commands ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Approve:
    opportunity_id: str  # a spread opportunity or a liquidatable borrower's


@dataclass(frozen=True, slots=True)
class Reject:
    opportunity_id: str


@dataclass(frozen=True, slots=True)
class SetAutoExecute:
    on: bool


@dataclass(frozen=True, slots=True)
class Kill:
    reason: str = "kill switch pressed"


@dataclass(frozen=True, slots=True)
class Resume:
    """Release the kill switch: the engine takes new trades again."""


@dataclass(frozen=True, slots=True)
class ChangeSetting:
    path: str
    raw: str  # validated by the settings model; a bad value changes nothing


@dataclass(frozen=True, slots=True)
class SetTheme:
    name: str


Command = Approve | Reject | SetAutoExecute | Kill | Resume | ChangeSetting | SetTheme
COMMANDS: tuple[type, ...] = typing.get_args(Command)


@dataclass(frozen=True, slots=True)
class CommandResult:
    ok: bool
    message: str  # one line for the trader
    problems: tuple[str, ...] = ()  # why a setting was refused, one reason per line
    old: str = ""  # a changed setting's value before and after
    new: str = ""
    saved_to: str | None = None  # the file a setting or theme was written to


class EventFeed(Protocol):
    """One subscription to the engine's events (bounded; never blocks the engine)."""

    def drain(self) -> list[Event]: ...
    def close(self) -> None: ...


class EngineDoor(Protocol):
    """All a console may read from or ask of an engine."""

    stops_engine: bool  # True: the engine lives and dies with this console; False: attached

    def snapshot(self, book_symbols: Sequence[str] = (), depth: int = 10) -> Snapshot: ...
    def subscribe(self, maxlen: int = 200_000) -> EventFeed: ...
    def setting_fields(self) -> tuple[SettingField, ...]: ...
    async def send(self, command: Command) -> CommandResult: ...
    async def settled(self) -> None:
        """Wait until snapshots show the books last asked for (a served engine needs a frame)."""
        ...

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


def shown(value: Any) -> str:
    """A setting's value as the trader types it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- the wire form -----------------------------------------------------------------------------

_WIRE_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        Snapshot,
        SettingField,
        CommandResult,
        *COMMANDS,
    )
}


def to_wire(value: Any) -> Any:
    """JSON-ready form: dataclasses as dicts (tagged with `type` at the top), Decimals as
    strings (every digit kept), enums as their value, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        body = {name: to_wire(getattr(value, name)) for name in _field_names(type(value))}
        return {"type": type(value).__name__, **body}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple | list):
        return [to_wire(v) for v in value]
    return value


# A snapshot frame walks hundreds of dataclasses: look each class's fields up once.
@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


@functools.cache
def _field_hints(cls: type) -> tuple[tuple[str, Any], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))


def from_wire(data: Any) -> Any:
    """The inverse of `to_wire` for the door's top-level types; raises ValueError on anything
    that does not fit (a socket peer's bad message must not become a half-built object)."""
    if not isinstance(data, dict) or data.get("type") not in _WIRE_TYPES:
        raise ValueError(f"not a door message: {str(data)[:80]}")
    return _decode(_WIRE_TYPES[data["type"]], data)


def _decode(hint: Any, value: Any) -> Any:  # noqa: C901 - one small case per kind of type
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is not type(None):
                return _decode(option, value)
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, list):
            raise ValueError(f"expected a list for {hint}, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v) for v in value)
        if len(args) != len(value):
            raise ValueError(f"expected {len(args)} items for {hint}, got {value!r}")
        return tuple(_decode(a, v) for a, v in zip(args, value, strict=True))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ValueError(f"expected an object for {hint.__name__}, got {value!r}")
        kwargs = {}
        for name, field_hint in _field_hints(hint):
            if name in value:
                kwargs[name] = _decode(field_hint, value[name])
        try:
            return hint(**kwargs)
        except TypeError as exc:
            raise ValueError(f"{hint.__name__}: {exc}") from exc
    if hint is Decimal:
        return Decimal(str(value))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint in (str, int, bool) and type(value) is hint:
        return value
    if hint is Any:
        return value
    raise ValueError(f"expected {getattr(hint, '__name__', hint)}, got {value!r}")


def decode_as(cls: type, data: Any) -> Any:
    """`data` (the wire form) as an instance of `cls`, or ValueError: a peer's bad message
    (a wrong type, a missing field, a number that is not one) never half-builds an object."""
    try:
        return _decode(cls, data)
    except (ArithmeticError, TypeError, KeyError) as exc:
        raise ValueError(f"{getattr(cls, '__name__', cls)}: {exc}") from exc
