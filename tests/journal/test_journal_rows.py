"""Row mapping derived from the records: every field has its column, and values round-trip."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from core.journal import Journal
from core.journal_rows import RowMapper, fees_from_text, fees_text
from core.records import FillRecord, OrderRecord, OrderStatus, TradeRecord


@pytest.mark.parametrize(
    ("record", "table", "exclude"),
    [(TradeRecord, "trades", ("legs",)), (OrderRecord, "orders", ()), (FillRecord, "fills", ())],
)
def test_every_record_field_is_a_column(
    tmp_path: Path, record: type, table: str, exclude: tuple[str, ...]
) -> None:
    Journal(tmp_path / "j.sqlite3").close()
    with sqlite3.connect(tmp_path / "j.sqlite3") as db:
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
    assert set(RowMapper(record, table, exclude).columns) <= columns


def test_order_row_round_trip_keeps_exact_decimals_and_enums() -> None:
    mapper = RowMapper(OrderRecord, "orders")
    order = OrderRecord(
        "c1", "t1", "buy", "binance", "ETH/USDT", "buy", "limit", Decimal("0.1"),
        None, OrderStatus.OPEN, 1.0, 2.0, filled=Decimal("0.0999999999999999999"),
        other_fees=(("BNB", Decimal("0.00001")), ("USDT", Decimal("1E-8"))),
    )  # fmt: skip
    row = mapper.row(order)
    assert row[mapper.columns.index("price")] is None
    assert row[mapper.columns.index("status")] == "open"
    assert row[mapper.columns.index("filled")] == "0.0999999999999999999"
    assert mapper.record_of(row) == order


def test_fee_pairs_text_round_trip() -> None:
    pairs = (("BNB", Decimal("0.5")), ("USDT", Decimal("-0.0001")))
    assert fees_text(pairs) == "BNB:0.5,USDT:-0.0001"
    assert fees_from_text(fees_text(pairs)) == pairs
    assert fees_from_text("") == ()
