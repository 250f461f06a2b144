"""Trade statistics per route kind and per venue, over every run the journal holds: the
figures the executor counts for one run (opportunities, executed, successful, failed, volume,
profit, fees, average profit per trade, average execution time, success rate), plus the
realized PnL over time. Pure: `core.journal.Journal.stats_rows` reads the rows, `trade_stats`
sums them.

Outcomes, from a trade's status (`core.records.TradeStatus`):
- executed: every journaled trade but one withdrawn before it sent anything (status failed and
  no order journaled: refused between its permit and its first send; the executor's own
  counter gives those back too);
- successful: completed (every leg filled in full);
- failed: finished any other way (failed, hedged, needs_attention);
- executed, neither successful nor failed: still in flight (sending, unwinding).
A liquidation has no trade row: its attempt is its opportunity row, executed once sent
(liquidated, reverted, unknown: no receipt in time), successful when liquidated.

Venues: a trade or an opportunity counts once for each venue it buys or sells on (once when
both are the same venue, as a cycle within one exchange).

Money is USD. A trade's volume and fees are journaled in its quote currency (a cycle's: its
start currency) and valued here at the USD per quote unit its opportunity was priced at, the
rate its realized PnL USD was computed with (`core.execute.ledger.usd_per_quote`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from core.money import D
from core.records import TradeStatus

ZERO = Decimal(0)
SERIES_POINTS = 400
"""Most points of the PnL series a snapshot carries: more than a terminal chart can draw, few
enough to send every frame over a socket."""

LIQUIDATION_SENT = {
    "liquidated": TradeStatus.COMPLETED,
    "reverted": TradeStatus.FAILED,
    "unknown": TradeStatus.NEEDS_ATTENTION,  # no receipt in time: it may still land
    "not_included": TradeStatus.FAILED,  # a relay bundle no block took: nothing paid
}
"""A sent liquidation's journal status (`core.execute.liquidate`) as a trade status."""


@dataclass(frozen=True, slots=True)
class TradeRow:
    """One journaled trade (or sent liquidation) as the statistics read it."""

    kind: str  # the opportunity's route kind: spread, cycle, liquidation
    buy_venue: str
    sell_venue: str
    status: TradeStatus
    sent: bool  # at least one order was journaled (a liquidation: its transaction was sent)
    realized_pnl_usd: Decimal | None
    fees: Decimal  # quote units
    volume: Decimal  # quote units
    usd_per_quote: Decimal
    started_at: float | None  # None: not journaled (liquidations)
    finished_at: float | None

    @property
    def executed(self) -> bool:
        return self.sent or self.status is not TradeStatus.FAILED

    @property
    def finished(self) -> bool:
        return self.executed and not self.status.in_flight


@dataclass(frozen=True, slots=True)
class StatsRows:
    """What the journal holds for the statistics (`Journal.stats_rows`)."""

    trades: tuple[TradeRow, ...]
    opportunities_by_kind: tuple[tuple[str, int], ...]
    opportunities_by_venue: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class RouteStats:
    """One route kind's (`group` "kind") or one venue's (`group` "venue") figures."""

    group: str
    key: str
    opportunities: int  # journaled (a liquidation's: attempted or refused)
    executed: int
    successful: int
    failed: int
    volume_usd: Decimal
    profit_usd: Decimal  # realized, of finished trades
    fees_usd: Decimal
    avg_profit_usd: Decimal | None  # per finished trade; None: none finished
    avg_exec_s: float | None  # start to finish; None: no finished trade has both times
    success_rate: float | None  # successful / finished; None: none finished


@dataclass(frozen=True, slots=True)
class TradeStats:
    """The figures the engine caches for its door and /metrics."""

    routes: tuple[RouteStats, ...] = ()
    pnl_series: tuple[tuple[float, Decimal], ...] = ()
    """(finish time, cumulative realized PnL USD), oldest first."""


def usd_per_quote(net_profit: str | None, net_profit_usd: str | None) -> Decimal:
    """USD of one quote unit from an opportunity's journaled profit figures (JSON number
    text), as `core.execute.ledger.usd_per_quote` has it; 1 without them."""
    profit = D(net_profit)
    return D(net_profit_usd) / profit if profit else Decimal(1)


def venues_of(buy_venue: str, sell_venue: str) -> tuple[str, ...]:
    """The venues a route counts for: each once, none unnamed."""
    return tuple(v for v in dict.fromkeys((buy_venue, sell_venue)) if v)


class _Sums:
    def __init__(self) -> None:
        self.executed = self.successful = self.failed = 0
        self.volume = self.profit = self.fees = ZERO
        self.exec_s = 0.0
        self.timed = 0

    def add(self, row: TradeRow) -> None:
        if not row.executed:
            return
        self.executed += 1
        self.volume += row.volume * row.usd_per_quote
        self.fees += row.fees * row.usd_per_quote
        if not row.finished:
            return
        if row.status is TradeStatus.COMPLETED:
            self.successful += 1
        else:
            self.failed += 1
        if row.realized_pnl_usd is not None:
            self.profit += row.realized_pnl_usd
        if row.started_at is not None and row.finished_at is not None:
            self.exec_s += row.finished_at - row.started_at
            self.timed += 1

    def stats(self, group: str, key: str, opportunities: int) -> RouteStats:
        finished = self.successful + self.failed
        return RouteStats(
            group=group,
            key=key,
            opportunities=opportunities,
            executed=self.executed,
            successful=self.successful,
            failed=self.failed,
            volume_usd=self.volume,
            profit_usd=self.profit,
            fees_usd=self.fees,
            avg_profit_usd=self.profit / finished if finished else None,
            avg_exec_s=self.exec_s / self.timed if self.timed else None,
            success_rate=self.successful / finished if finished else None,
        )


def route_stats(rows: StatsRows) -> tuple[RouteStats, ...]:
    """Every route kind (sorted), then every venue (sorted), that has an opportunity or a
    trade."""
    by_kind: dict[str, _Sums] = defaultdict(_Sums)
    by_venue: dict[str, _Sums] = defaultdict(_Sums)
    for row in rows.trades:
        by_kind[row.kind].add(row)
        for venue in venues_of(row.buy_venue, row.sell_venue):
            by_venue[venue].add(row)
    out = []
    for group, sums, counts in (
        ("kind", by_kind, dict(rows.opportunities_by_kind)),
        ("venue", by_venue, dict(rows.opportunities_by_venue)),
    ):
        for key in sorted(sums.keys() | counts.keys()):
            out.append(sums.get(key, _Sums()).stats(group, key, counts.get(key, 0)))
    return tuple(out)


def pnl_series(
    trades: Iterable[TradeRow], max_points: int = SERIES_POINTS
) -> tuple[tuple[float, Decimal], ...]:
    """Cumulative realized PnL USD at each finished trade's finish time; past `max_points`,
    the last point of each of `max_points` equal stretches of time (so the curve keeps its
    end value and its shape, and the snapshot stays small)."""
    done = sorted(
        (row.finished_at, row.realized_pnl_usd)
        for row in trades
        if row.finished and row.finished_at is not None and row.realized_pnl_usd is not None
    )
    points: list[tuple[float, Decimal]] = []
    total = ZERO
    for at, pnl in done:
        total += pnl
        points.append((at, total))
    if len(points) <= max_points:
        return tuple(points)
    first, last = points[0][0], points[-1][0]
    if last <= first:  # all at one instant: its last total is the whole curve
        return (points[-1],)
    width = (last - first) / max_points
    kept: dict[int, tuple[float, Decimal]] = {}
    for point in points:  # later points overwrite: each stretch keeps its last
        kept[min(int((point[0] - first) / width), max_points - 1)] = point
    return tuple(kept[k] for k in sorted(kept))


def trade_stats(rows: StatsRows, max_points: int = SERIES_POINTS) -> TradeStats:
    return TradeStats(route_stats(rows), pnl_series(rows.trades, max_points))
