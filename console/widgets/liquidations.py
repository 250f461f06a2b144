"""Liquidation watchlist pane: Aave borrowers by health factor, lowest first — collateral and
debt in USD, the price move that would make each liquidatable, the best liquidation now and
its net profit. Liquidatable and profitable rows are hot; stale / no-route / stale-oracle rows
are dimmed or flagged. Renders plain `WatchlistRow` data (core.lending.service)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar

from console.widgets.line_table import Cell, Column, LineTable
from core.lending.service import WatchlistRow


def fmt_usd_map(values: dict[str, float]) -> str:
    return " ".join(f"{s} {_compact(v)}" for s, v in sorted(values.items(), key=lambda kv: -kv[1]))


def _compact(value: float) -> str:
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"${value / size:.1f}{unit}"
    return f"${value:.0f}"


def fmt_hf(hf: float) -> str:
    return "∞" if hf == float("inf") else f"{hf:.3f}"


def fmt_move(move: tuple[str, float] | None) -> str:
    if move is None:
        return "–"
    symbol, fraction = move
    return f"{symbol} {fraction * 100:+.1f}%"


def flags(row: WatchlistRow) -> str:
    out = []
    if row.stale:
        out.append("stale")
    if row.oracle_stale:
        out.append("oracle")
    if row.no_route:
        out.append("no route")
    return ",".join(out)


class LiquidationsPane(LineTable[WatchlistRow]):
    COLUMNS: ClassVar[tuple[Column, ...]] = (
        Column("user", "Borrower", 12, priority=8),
        Column("hf", "HF", 6, "right", priority=9),
        Column("collateral", "Collateral", 18, priority=6),
        Column("debt", "Debt", 16, priority=6),
        Column("move", "Liq. move", 11, "right", priority=7),
        Column("profit", "Net $", 9, "right", priority=9),
        Column("flags", "Flags", 9, priority=5),
        Column("best", "Best liquidation now", 20, priority=4, flex=True),
    )
    EMPTY_TEXT = "no borrowers near liquidation"

    def row_key(self, row: WatchlistRow) -> Hashable:
        return row.user

    def row_cells(self, row: WatchlistRow) -> tuple[Cell, ...]:
        hf_class = (
            "table--bad"
            if row.liquidatable
            else ("table--warn" if row.health_factor < 1.05 else "")
        )
        profit = "–" if row.net_profit_usd is None else f"{row.net_profit_usd:,.2f}"
        profit_class = ""
        if row.net_profit_usd is not None:
            profit_class = "table--good" if row.profitable else "table--dim"
        return (
            (f"{row.user[:6]}…{row.user[-4:]}", ""),
            (fmt_hf(row.health_factor), hf_class),
            (fmt_usd_map(row.collateral_usd), ""),
            (fmt_usd_map(row.debt_usd), ""),
            (fmt_move(row.liquidation_move), ""),
            (profit, profit_class),
            (flags(row), "table--warn" if flags(row) else ""),
            (row.best, "table--dim"),
        )

    def row_style(self, row: WatchlistRow) -> str:
        if row.stale:
            return "table--dim"
        if row.opportunity_id is not None:
            return "table--hot"
        return ""

    def row_text(self, row: WatchlistRow) -> str:
        return f"{row.user} {' '.join(row.collateral_usd)} {' '.join(row.debt_usd)}".lower()

    def sort_rows(self, rows: list[WatchlistRow]) -> list[WatchlistRow]:
        return sorted(rows, key=lambda r: (r.health_factor, r.user))

    def selected_opportunity_id(self) -> str | None:
        """The opportunity behind the cursor row, for the approve key."""
        row = self.selected_row
        return row.opportunity_id if row is not None else None
