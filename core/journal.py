"""The SQLite journal: opportunities, orders, fills, trades, settings changes, breaker events.

Durability choice: WAL mode with ``synchronous=NORMAL``. Every commit is appended to the WAL
file before ``commit()`` returns, so a crash of *the process* (SIGKILL, an exception, an SSH
session dropping) loses nothing that was committed. What NORMAL gives up against FULL is the
fsync on each commit: a power cut or kernel panic may lose the last few transactions (the WAL is
fsynced at checkpoints). Trading from a box that loses power mid-trade is a case where the venue
is the source of truth anyway, and restart reconciliation queries it; in exchange a commit costs
tens of microseconds instead of a disk flush (see bench/bench_execute.py for the figure).
Automatic WAL checkpoints are off (each one fsyncs, which put a 4 ms p99 on the order path);
the executor calls `checkpoint()` when no trade is in flight and `flush()` on shutdown.

Writes are synchronous on the event loop, not sent to a writer thread: a WAL commit without
fsync is far cheaper than a thread hop plus a future, and an order row must be committed before
its order is sent, which a fire-and-forget queue could not promise without waiting anyway.

Money columns (amounts, prices, costs, fees, PnL) are ``Decimal`` stored as TEXT so that they
round-trip exactly; times are epoch seconds (REAL).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass, replace
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.journal_rows import RowMapper
from core.records import (
    BreakerEventRecord,
    FillRecord,
    OrderRecord,
    OrderStatus,
    TradeRecord,
    TradeStatus,
)
from core.trade_stats import LIQUIDATION_SENT, StatsRows, TradeRow, usd_per_quote, venues_of

SCHEMA_VERSION = 4
"""2: orders.other_fees (fees in a second currency), added to a version 1 journal on open.
3: opportunities.kind (the route kind the trade statistics group by), added to an older
journal on open and filled in from each row's data."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS opportunities (
    id TEXT PRIMARY KEY,
    symbol TEXT NOT NULL,
    buy_venue TEXT NOT NULL,
    sell_venue TEXT NOT NULL,
    data TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    detected_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    kind TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS trades (
    id TEXT PRIMARY KEY,
    opportunity_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    buy_venue TEXT NOT NULL,
    sell_venue TEXT NOT NULL,
    amount TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    realized_pnl TEXT,
    realized_pnl_usd TEXT,
    fees TEXT NOT NULL DEFAULT '0',
    volume TEXT NOT NULL DEFAULT '0',
    unwind_cost TEXT NOT NULL DEFAULT '0',
    residual TEXT NOT NULL DEFAULT '0',
    started_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS trades_status ON trades(status);
CREATE INDEX IF NOT EXISTS trades_started ON trades(started_at);
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY,
    trade_id TEXT NOT NULL,
    role TEXT NOT NULL,
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    type TEXT NOT NULL,
    amount TEXT NOT NULL,
    price TEXT,
    status TEXT NOT NULL,
    venue_order_id TEXT,
    filled TEXT NOT NULL DEFAULT '0',
    average TEXT,
    cost TEXT NOT NULL DEFAULT '0',
    fee TEXT NOT NULL DEFAULT '0',
    fee_currency TEXT,
    error TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    other_fees TEXT NOT NULL DEFAULT '',
    submission TEXT NOT NULL DEFAULT '',
    target_blocks TEXT NOT NULL DEFAULT '',
    landed_block INTEGER
);
CREATE INDEX IF NOT EXISTS orders_trade ON orders(trade_id);
CREATE INDEX IF NOT EXISTS orders_status ON orders(status);
CREATE TABLE IF NOT EXISTS fills (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_order_id TEXT NOT NULL,
    trade_id TEXT NOT NULL,
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    amount TEXT NOT NULL,
    price TEXT NOT NULL,
    cost TEXT NOT NULL,
    fee TEXT NOT NULL,
    fee_currency TEXT,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS fills_trade ON fills(trade_id);
CREATE TABLE IF NOT EXISTS settings_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    old TEXT,
    new TEXT,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS breaker_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scope TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    cause TEXT NOT NULL,
    reason TEXT NOT NULL,
    at REAL NOT NULL
);
"""


def _json_default(value: object) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, StrEnum):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class Journal:
    """One SQLite file; use from one thread (the event loop's)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: each single statement is its own durable transaction; multi-statement
        # writes use `_tx()`.
        self._db = sqlite3.connect(str(path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        # No automatic checkpoints: a checkpoint fsyncs, and the commit that triggers it would
        # pay milliseconds on the order path. `checkpoint()` runs when the executor is idle.
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._commits_since_checkpoint = 0
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._migrate()

    def _migrate(self) -> None:
        with self._tx():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            row = self._db.execute("SELECT version FROM schema_version").fetchone()
            if row is None:
                self._db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
            elif row[0] > SCHEMA_VERSION:
                raise RuntimeError(
                    f"journal {self.path} has schema version {row[0]}, newer than this "
                    f"arbdesk's {SCHEMA_VERSION}; upgrade arbdesk or use another journal path"
                )
            columns = {r[1] for r in self._db.execute("PRAGMA table_info(orders)")}
            if "other_fees" not in columns:  # a version 1 journal
                self._db.execute(
                    "ALTER TABLE orders ADD COLUMN other_fees TEXT NOT NULL DEFAULT ''"
                )
            if "submission" not in columns:  # a version 1 to 3 journal: on-chain submission
                for column in (
                    "submission TEXT NOT NULL DEFAULT ''",
                    "target_blocks TEXT NOT NULL DEFAULT ''",
                    "landed_block INTEGER",
                ):
                    self._db.execute(f"ALTER TABLE orders ADD COLUMN {column}")
            columns = {r[1] for r in self._db.execute("PRAGMA table_info(opportunities)")}
            if "kind" not in columns:  # a version 1 or 2 journal
                self._db.execute(
                    "ALTER TABLE opportunities ADD COLUMN kind TEXT NOT NULL DEFAULT ''"
                )
                self._db.execute(f"UPDATE opportunities SET kind = {_KIND_OF_DATA}")  # noqa: S608
            self._db.execute(
                "UPDATE schema_version SET version=? WHERE version<?",
                (SCHEMA_VERSION, SCHEMA_VERSION),
            )

    @property
    def schema_version(self) -> int:
        row = self._db.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0])

    @contextmanager
    def _tx(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def ping(self) -> None:
        """Raise unless the database answers a read (health checks)."""
        self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()

    def checkpoint(self, min_commits: int = 200) -> bool:
        """Copy the WAL into the main file if enough was written since the last time."""
        if self._commits_since_checkpoint < min_commits:
            return False
        self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self._commits_since_checkpoint = 0
        return True

    def flush(self) -> None:
        """Checkpoint the WAL into the main file (used on shutdown)."""
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._commits_since_checkpoint = 0

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- opportunities ---------------------------------------------------------------------

    def record_opportunity(
        self, opportunity: Any, status: str, reason: str = "", at: float = 0.0
    ) -> None:
        """Insert or update an opportunity (any dataclass with id/symbol/venues/detected_at)."""
        data = json.dumps(opportunity, default=_json_default, sort_keys=True)
        self._db.execute(
            "INSERT INTO opportunities (id, symbol, buy_venue, sell_venue, data, status, reason,"
            " detected_at, updated_at, kind) VALUES (?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(id) DO UPDATE SET status=excluded.status, reason=excluded.reason,"
            " updated_at=excluded.updated_at",
            (
                opportunity.id,
                opportunity.symbol,
                opportunity.buy_venue,
                opportunity.sell_venue,
                data,
                status,
                reason,
                float(opportunity.detected_at),
                at or float(opportunity.detected_at),
                str(getattr(opportunity, "kind", "spread")),  # most kinds: a class attribute
            ),
        )

    def opportunity(self, opportunity_id: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT data, status, reason FROM opportunities WHERE id=?", (opportunity_id,)
        ).fetchone()
        if row is None:
            return None
        return {"data": json.loads(row[0]), "status": row[1], "reason": row[2]}

    # -- trades ----------------------------------------------------------------------------

    def insert_trade(self, trade: TradeRecord) -> None:
        self._commits_since_checkpoint += 1
        self._db.execute(_TRADES.insert, _TRADES.row(trade))

    def update_trade(
        self,
        trade_id: str,
        status: TradeStatus,
        reason: str = "",
        *,
        realized_pnl: Decimal | None = None,
        realized_pnl_usd: Decimal | None = None,
        fees: Decimal | None = None,
        volume: Decimal | None = None,
        unwind_cost: Decimal | None = None,
        residual: Decimal | None = None,
        finished_at: float | None = None,
    ) -> None:
        sets = ["status=?", "reason=?"]
        values: list[Any] = [str(status), reason]
        for column, value in (
            ("realized_pnl", realized_pnl),
            ("realized_pnl_usd", realized_pnl_usd),
            ("fees", fees),
            ("volume", volume),
            ("unwind_cost", unwind_cost),
            ("residual", residual),
        ):
            if value is not None:
                sets.append(f"{column}=?")
                values.append(str(value))
        if finished_at is not None:
            sets.append("finished_at=?")
            values.append(finished_at)
        values.append(trade_id)
        self._db.execute(f"UPDATE trades SET {', '.join(sets)} WHERE id=?", values)  # noqa: S608

    def trade(self, trade_id: str) -> TradeRecord | None:
        row = self._db.execute(f"{_TRADES.select} WHERE id=?", (trade_id,)).fetchone()  # noqa: S608
        if row is None:
            return None
        return self._with_legs([_TRADES.record_of(row)])[0]

    def trades(
        self, since: float | None = None, status: Iterable[str] | None = None
    ) -> list[TradeRecord]:
        """Trades (oldest first) started at or after `since`, each with its orders as legs."""
        where: list[str] = []
        params: list[Any] = []
        if since is not None:
            where.append("started_at >= ?")
            params.append(since)
        if status is not None:
            wanted = [str(s) for s in status]
            where.append(f"status IN ({','.join('?' * len(wanted))})")
            params.extend(wanted)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._db.execute(
            f"{_TRADES.select}{clause} ORDER BY started_at, id",  # noqa: S608
            params,
        ).fetchall()
        return self._with_legs([_TRADES.record_of(r) for r in rows])

    def realized_pnl_usd_since(self, since: float) -> Decimal:
        """Sum of realized PnL in USD of trades finished at or after `since` (daily loss)."""
        rows = self._db.execute(
            "SELECT realized_pnl_usd FROM trades WHERE finished_at >= ? AND realized_pnl_usd"
            " IS NOT NULL",
            (since,),
        )
        return sum((Decimal(r[0]) for r in rows), Decimal(0))

    def stats_rows(self, since: float | None = None) -> StatsRows:
        """What `core.trade_stats` sums: trades (started at or after `since`) with their
        route kind, sent liquidations, and opportunity counts by kind and by venue."""
        return _stats_rows(self._db, since)

    def in_flight_trades(self) -> list[TradeRecord]:
        """Trades the journal last saw sending or unwinding (restart reconciliation)."""
        return self.trades(status=[TradeStatus.SENDING, TradeStatus.UNWINDING])

    def _with_legs(self, trades: list[TradeRecord]) -> list[TradeRecord]:
        if not trades:
            return trades
        ids = [t.id for t in trades]
        legs: dict[str, list[OrderRecord]] = {i: [] for i in ids}
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            rows = self._db.execute(
                f"{_ORDERS.select} WHERE trade_id IN ({','.join('?' * len(chunk))})"  # noqa: S608
                " ORDER BY created_at, client_order_id",
                chunk,
            ).fetchall()
            for row in rows:
                order = _ORDERS.record_of(row)
                legs[order.trade_id].append(order)
        return [replace(t, legs=tuple(legs[t.id])) for t in trades]

    # -- orders and fills ------------------------------------------------------------------

    def insert_order(self, order: OrderRecord) -> None:
        """Journal an order before it is sent; committed (in the WAL) when this returns."""
        self._commits_since_checkpoint += 1
        self._db.execute(_ORDERS.insert, _ORDERS.row(order))

    def update_order(self, order: OrderRecord, fills: Iterable[FillRecord] = ()) -> None:
        """Store an order's latest state and any new fills, atomically."""
        self._commits_since_checkpoint += 1
        with self._tx():
            self._db.execute(_ORDER_UPDATE, _ORDERS.row(order, _ORDER_UPDATE_COLUMNS))
            for fill in fills:
                self._db.execute(_FILLS.insert, _FILLS.row(fill))

    def order(self, client_order_id: str) -> OrderRecord | None:
        row = self._db.execute(
            f"{_ORDERS.select} WHERE client_order_id=?",  # noqa: S608
            (client_order_id,),
        ).fetchone()
        return None if row is None else _ORDERS.record_of(row)

    def open_orders(self) -> list[OrderRecord]:
        """Orders not known to be final: pending (maybe sent), open, or unknown."""
        rows = self._db.execute(
            f"{_ORDERS.select} WHERE status IN (?,?,?) ORDER BY created_at",  # noqa: S608
            (str(OrderStatus.PENDING), str(OrderStatus.OPEN), str(OrderStatus.UNKNOWN)),
        ).fetchall()
        return [_ORDERS.record_of(r) for r in rows]

    def fills(self, trade_id: str | None = None) -> list[FillRecord]:
        rows = (
            self._db.execute(f"{_FILLS.select} WHERE trade_id=? ORDER BY id", (trade_id,))
            if trade_id is not None
            else self._db.execute(f"{_FILLS.select} ORDER BY id")
        )
        return [_FILLS.record_of(r) for r in rows]

    # -- settings and breaker --------------------------------------------------------------

    def record_setting_change(self, key: str, old: object, new: object, at: float) -> None:
        self._db.execute(
            "INSERT INTO settings_changes (key, old, new, at) VALUES (?,?,?,?)",
            (key, json.dumps(old, default=str), json.dumps(new, default=str), at),
        )

    def settings_changes(self) -> list[tuple[str, Any, Any, float]]:
        rows = self._db.execute("SELECT key, old, new, at FROM settings_changes ORDER BY id")
        return [(k, json.loads(o), json.loads(n), at) for k, o, n, at in rows]

    def record_breaker_event(self, event: BreakerEventRecord) -> None:
        self._db.execute(
            "INSERT INTO breaker_events (scope, from_state, to_state, cause, reason, at)"
            " VALUES (?,?,?,?,?,?)",
            (event.scope, event.from_state, event.to_state, event.cause, event.reason, event.at),
        )

    def breaker_events(self) -> list[BreakerEventRecord]:
        rows = self._db.execute(
            "SELECT scope, from_state, to_state, cause, reason, at FROM breaker_events ORDER BY id"
        )
        return [BreakerEventRecord(*r) for r in rows]


_TRADES = RowMapper(TradeRecord, "trades", exclude=("legs",))
_ORDERS = RowMapper(OrderRecord, "orders")
_FILLS = RowMapper(FillRecord, "fills")
# What an order's later states change (the rest is fixed when it is journaled), key last.
_ORDER_UPDATE_COLUMNS = (
    "status",
    "venue_order_id",
    "filled",
    "average",
    "cost",
    "fee",
    "fee_currency",
    "error",
    "updated_at",
    "other_fees",
    "submission",
    "target_blocks",
    "landed_block",
    "client_order_id",
)
_ORDER_UPDATE = (
    f"UPDATE orders SET {', '.join(f'{c}=?' for c in _ORDER_UPDATE_COLUMNS[:-1])}"  # noqa: S608
    " WHERE client_order_id=?"
)


def read_stats_rows(path: str | Path, since: float | None = None) -> StatsRows:
    """`Journal.stats_rows` on a read-only connection of its own, so any thread may call it
    (a `Journal` is tied to the thread that opened it); in WAL mode it reads alongside the
    engine's writes without blocking them."""
    db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        db.execute("PRAGMA busy_timeout=5000")
        return _stats_rows(db, since)
    finally:
        db.close()


# The kind of a row journaled before the kind column: a liquidation's data names it, a cycle
# has a start currency, anything else was a spread.
_KIND_OF_DATA = (
    "coalesce(data ->> '$.kind', CASE WHEN data -> '$.start' IS NULL THEN 'spread'"
    " ELSE 'cycle' END)"
)
# `->` gives a JSON number's own text: Decimal of it is exactly the ledger's D(float).
_STATS_TRADES = (
    "SELECT coalesce(o.kind, 'unknown'), t.buy_venue, t.sell_venue, t.status,"
    " EXISTS (SELECT 1 FROM orders WHERE orders.trade_id = t.id),"
    " t.realized_pnl_usd, t.realized_pnl, t.fees, t.volume, o.data -> '$.net_profit',"
    " o.data -> '$.net_profit_usd', t.started_at, t.finished_at"
    " FROM trades t LEFT JOIN opportunities o ON o.id = t.opportunity_id"
    " WHERE t.started_at >= ?"
)
_STATS_LIQUIDATIONS = (
    "SELECT buy_venue, sell_venue, status, data ->> '$.realized_pnl_usd', updated_at"  # noqa: S608
    f" FROM opportunities WHERE kind = 'liquidation'"
    f" AND status IN ({','.join('?' * len(LIQUIDATION_SENT))}) AND detected_at >= ?"
)
# Grouped by route as well, so one scan gives both the kind and the venue counts.
_STATS_OPPORTUNITIES = (
    "SELECT kind, buy_venue, sell_venue, count(*) FROM opportunities"
    " WHERE detected_at >= ? GROUP BY 1, 2, 3"
)


def _stats_rows(db: sqlite3.Connection, since: float | None) -> StatsRows:
    start = float("-inf") if since is None else since
    trades = [_trade_row(*row) for row in db.execute(_STATS_TRADES, (start,))]
    sent = tuple(LIQUIDATION_SENT)
    trades += [
        TradeRow(
            kind="liquidation",
            buy_venue=buy,
            sell_venue=sell,
            status=LIQUIDATION_SENT[status],
            sent=True,
            realized_pnl_usd=None if pnl_usd is None else Decimal(pnl_usd),
            fees=Decimal(0),  # its one cost, the gas, is in its realized PnL already
            volume=Decimal(0),
            usd_per_quote=Decimal(1),
            started_at=None,
            finished_at=at,
        )
        for buy, sell, status, pnl_usd, at in db.execute(_STATS_LIQUIDATIONS, (*sent, start))
    ]
    by_kind: Counter[str] = Counter()
    by_venue: Counter[str] = Counter()
    for kind, buy, sell, count in db.execute(_STATS_OPPORTUNITIES, (start,)):
        by_kind[kind] += count
        for venue in venues_of(buy, sell):
            by_venue[venue] += count
    return StatsRows(tuple(trades), tuple(sorted(by_kind.items())), tuple(sorted(by_venue.items())))


def _trade_row(
    kind: str,
    buy: str,
    sell: str,
    status: str,
    sent: int,
    pnl_usd: str | None,
    pnl: str | None,
    fees: str,
    volume: str,
    net: str | None,
    net_usd: str | None,
    started: float,
    finished: float | None,
) -> TradeRow:
    # The trade's own PnL ratio is the rate it was valued at when it ran; its opportunity's
    # row may since hold a later detection of the same route (a cycle seen from another
    # start currency refreshes the same board entry), so that is only the fallback.
    if pnl_usd is not None and pnl is not None and Decimal(pnl):
        rate = Decimal(pnl_usd) / Decimal(pnl)
    else:
        rate = usd_per_quote(net, net_usd)
    return TradeRow(
        kind=kind,
        buy_venue=buy,
        sell_venue=sell,
        status=TradeStatus(status),
        sent=bool(sent),
        realized_pnl_usd=None if pnl_usd is None else Decimal(pnl_usd),
        fees=Decimal(fees),
        volume=Decimal(volume),
        usd_per_quote=rate,
        started_at=started,
        finished_at=finished,
    )
