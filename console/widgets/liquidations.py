"""Liquidation watchlist pane: Aave borrowers by health factor, how far a price must move to
make each liquidatable, and the best liquidation now with its net profit. Shown only when the
engine runs a lending feed."""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar

from console.state import LiquidationLine
from console.widgets.line_table import Cell, Column, LineTable

HF_WARN = 1.1


def short_address(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}" if len(address) > 12 else address


class LiquidationsPane(LineTable[LiquidationLine]):
    COLUMNS: ClassVar[tuple[Column, ...]] = (
        Column("user", "Borrower", 11, priority=9),
        Column("hf", "HF", 6, "right", priority=9),
        Column("collateral", "Collat $", 10, "right", priority=5),
        Column("debt", "Debt $", 10, "right", priority=5),
        Column("move", "To HF 1", 12, "right", priority=6),
        Column("best", "Best liquidation", 16, priority=4, flex=True),
        Column("net", "Net $", 9, "right", priority=8),
        Column("flags", "Notes", 12, priority=3),
    )
    EMPTY_TEXT = "no borrower under the watch threshold"

    def row_key(self, row: LiquidationLine) -> Hashable:
        return row.user

    def row_cells(self, row: LiquidationLine) -> tuple[Cell, ...]:
        hf_class = (
            "table--bad"
            if row.health_factor < 1
            else ("table--warn" if row.health_factor < HF_WARN else "")
        )
        move = "" if row.move is None else f"{row.move[0]} {row.move[1] * 100:+.1f}%"
        net = "—" if row.net_profit_usd is None else f"{row.net_profit_usd:,.2f}"
        net_class = "table--good" if row.profitable else ""
        return (
            (short_address(row.user), ""),
            (f"{row.health_factor:.3f}", hf_class),
            (f"{row.collateral_usd:,.0f}", ""),
            (f"{row.debt_usd:,.0f}", ""),
            (move, ""),
            (row.best or "—", "" if row.best else "table--dim"),
            (net, net_class),
            (", ".join(row.flags), "table--warn" if row.flags else ""),
        )

    def row_style(self, row: LiquidationLine) -> str:
        if row.liquidatable and row.profitable and row.opportunity_id:
            return "table--hot"
        return ""

    def row_text(self, row: LiquidationLine) -> str:
        return f"{row.user} {row.best}".lower()

    def sort_rows(self, rows: list[LiquidationLine]) -> list[LiquidationLine]:
        return sorted(rows, key=lambda r: (r.health_factor, r.user))
