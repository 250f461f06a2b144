"""Route statistics pane: the journal's figures per route kind, then per venue (opportunities,
executed, successful, failed, success rate, volume, realized profit, fees, averages)."""

from __future__ import annotations

from collections.abc import Hashable
from decimal import Decimal
from typing import ClassVar

from console.widgets.line_table import Cell, Column, LineTable
from core.door import RouteStats


def money(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def signed(value: Decimal | None) -> Cell:
    if value is None:
        return ("—", "")
    return (f"{value:+,.2f}", "table--good" if value >= 0 else "table--bad")


class RouteStatsPane(LineTable[RouteStats]):
    COLUMNS: ClassVar[tuple[Column, ...]] = (
        Column("group", "By", 5, priority=8),
        Column("key", "Kind/venue", 11, priority=9, flex=True),
        Column("opps", "Opps", 5, "right", priority=6),
        Column("executed", "Exec", 4, "right", priority=8),
        Column("ok", "OK", 4, "right", priority=7),
        Column("failed", "Fail", 4, "right", priority=7),
        Column("rate", "Success", 7, "right", priority=8),
        Column("volume", "Volume $", 11, "right", priority=7),
        Column("profit", "Profit $", 9, "right", priority=9),
        Column("fees", "Fees $", 8, "right", priority=6),
        Column("avg", "Avg $", 8, "right", priority=4),
        Column("exec_s", "Avg s", 5, "right", priority=3),
    )
    EMPTY_TEXT = "no trades or opportunities in the journal"

    def row_key(self, row: RouteStats) -> Hashable:
        return (row.group, row.key)

    def row_cells(self, row: RouteStats) -> tuple[Cell, ...]:
        rate = row.success_rate
        rate_class = "" if rate is None else ("table--good" if rate >= 0.5 else "table--warn")
        return (
            (row.group, "table--dim"),
            (row.key, ""),
            (str(row.opportunities), ""),
            (str(row.executed), ""),
            (str(row.successful), ""),
            (str(row.failed), "table--bad" if row.failed else ""),
            ("—" if rate is None else f"{rate:.0%}", rate_class),
            (money(row.volume_usd), ""),
            signed(row.profit_usd),
            (money(row.fees_usd), ""),
            signed(row.avg_profit_usd),
            ("—" if row.avg_exec_s is None else f"{row.avg_exec_s:.2f}", ""),
        )
