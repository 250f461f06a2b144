"""The SQLite journal: round trips, WAL, queries for history and reconciliation, rendering."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from core.detect.opportunity import Opportunity
from core.history_export import parse_since, render_history_csv, render_history_json
from core.journal import SCHEMA_VERSION, Journal
from core.records import (
    BreakerEventRecord,
    FillRecord,
    OrderRecord,
    OrderStatus,
    TradeRecord,
    TradeStatus,
)

T0 = 1_700_000_000.0


def order(cid: str, trade: str = "t1", status: OrderStatus = OrderStatus.PENDING) -> OrderRecord:
    return OrderRecord(
        client_order_id=cid,
        trade_id=trade,
        role="buy",
        venue="simex",
        symbol="BTC/USDT",
        side="buy",
        type="limit",
        amount=Decimal("0.12345678"),
        price=Decimal("43210.01"),
        status=status,
        created_at=T0,
        updated_at=T0,
    )


def trade(
    tid: str = "t1", started: float = T0, status: TradeStatus = TradeStatus.SENDING
) -> TradeRecord:
    return TradeRecord(
        id=tid,
        opportunity_id="o1",
        symbol="BTC/USDT",
        buy_venue="simex",
        sell_venue="simbit",
        amount=Decimal("0.12345678"),
        status=status,
        started_at=started,
    )


def test_wal_mode_schema_version_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    with Journal(path) as journal:
        assert journal.schema_version == SCHEMA_VERSION
        journal.insert_trade(trade())
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.execute("UPDATE schema_version SET version = 99")
    raw.commit()
    raw.close()
    with pytest.raises(RuntimeError, match="schema version 99"):
        Journal(path)


def test_order_fill_trade_round_trip_is_exact(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    journal.insert_trade(trade())
    journal.insert_order(order("c1"))
    assert journal.order("c1") == order("c1")  # committed before any send
    assert [o.client_order_id for o in journal.open_orders()] == ["c1"]
    done = replace(
        order("c1"),
        status=OrderStatus.CLOSED,
        venue_order_id="v9",
        filled=Decimal("0.12345678"),
        average=Decimal("43200.005"),
        cost=Decimal("5333.3333333339"),
        fee=Decimal("0.0000000000000001"),
        fee_currency="USDT",
        updated_at=T0 + 1,
    )
    fill = FillRecord(
        "c1",
        "t1",
        "simex",
        "BTC/USDT",
        "buy",
        Decimal("0.12345678"),
        Decimal("43200.005"),
        Decimal("5333.3333333339"),
        Decimal("0.0000000000000001"),
        "USDT",
        T0 + 1,
    )
    journal.update_order(done, [fill])
    assert journal.order("c1") == done
    assert journal.fills("t1") == [fill]
    assert journal.open_orders() == []
    pnl = Decimal("-0.000000000000000000123")
    journal.update_trade(
        "t1", TradeStatus.COMPLETED, "ok", realized_pnl=pnl, fees=Decimal("1.5"), finished_at=T0 + 2
    )
    stored = journal.trade("t1")
    assert stored is not None
    assert stored.realized_pnl == pnl and stored.fees == Decimal("1.5")
    assert stored.legs == (done,)
    assert journal.in_flight_trades() == []


def test_update_order_is_atomic(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    journal.insert_order(order("c1"))
    bad_fill = FillRecord(
        "c1",
        "t1",
        "simex",
        "BTC/USDT",
        "buy",
        Decimal(1),
        Decimal(1),
        Decimal(1),
        Decimal(0),
        None,
        None,  # type: ignore[arg-type]
    )
    with pytest.raises(sqlite3.IntegrityError):
        journal.update_order(replace(order("c1"), status=OrderStatus.CLOSED), [bad_fill])
    assert journal.order("c1") == order("c1")  # the order update was rolled back too


def test_in_flight_and_since_queries(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    journal.insert_trade(trade("old", T0 - 86_400, TradeStatus.COMPLETED))
    journal.insert_trade(trade("live", T0, TradeStatus.SENDING))
    journal.insert_trade(trade("unw", T0 + 1, TradeStatus.UNWINDING))
    assert [t.id for t in journal.in_flight_trades()] == ["live", "unw"]
    since = parse_since("2023-11-14")
    assert [t.id for t in journal.trades(since=since)] == ["live", "unw"]
    assert parse_since("2023-11-14T22:13:20+00:00") == T0


def test_opportunities_settings_and_breaker_rows(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    opp = Opportunity(
        "o1", "BTC/USDT", "a", "b", 0.5, 100.0, 101.0, 0.5, 0.1, 0.4, 80.0, 0.4, T0, T0 + 5
    )
    journal.record_opportunity(opp, "found", at=T0)
    journal.record_opportunity(opp, "refused", "kill switch on", at=T0 + 1)
    stored = journal.opportunity("o1")
    assert stored is not None
    assert (stored["status"], stored["reason"]) == ("refused", "kill switch on")
    assert stored["data"]["buy_vwap"] == 100.0
    journal.record_setting_change("thresholds.min_profit_bps", 3.0, 5.0, T0)
    assert journal.settings_changes() == [("thresholds.min_profit_bps", 3.0, 5.0, T0)]
    event = BreakerEventRecord("global", "closed", "open", "kill_switch", "K", T0)
    journal.record_breaker_event(event)
    assert journal.breaker_events() == [event]


def test_history_rendering(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    journal.insert_trade(trade())
    journal.insert_order(order("c1"))
    journal.insert_order(replace(order("c2"), role="sell", side="sell", venue="simbit"))
    journal.update_trade(
        "t1", TradeStatus.COMPLETED, realized_pnl=Decimal("1.23456789"), finished_at=T0 + 1
    )
    trades = journal.trades()
    doc = json.loads(render_history_json(trades))
    assert doc[0]["realized_pnl"] == "1.23456789"
    assert [leg["role"] for leg in doc[0]["legs"]] == ["buy", "sell"]
    assert doc[0]["started_at"] == "2023-11-14T22:13:20+00:00"
    rows = list(csv.DictReader(io.StringIO(render_history_csv(trades))))
    assert (
        len(rows) == 2
        and rows[1]["leg_venue"] == "simbit"
        and rows[0]["realized_pnl"] == "1.23456789"
    )


def test_on_chain_submission_fields_round_trip_and_a_version_3_journal_gains_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    Journal(path).close()
    raw = sqlite3.connect(path)
    for column in ("submission", "target_blocks", "landed_block"):
        raw.execute(f"ALTER TABLE orders DROP COLUMN {column}")
    raw.execute("UPDATE schema_version SET version = 3")
    raw.commit()
    raw.close()
    with Journal(path) as journal:
        assert journal.schema_version == SCHEMA_VERSION
        leg = replace(
            order("c1", status=OrderStatus.OPEN),
            venue_order_id="0x" + "ab" * 32,
            submission="relay",
            target_blocks=(101, 102, 103),
        )
        journal.insert_order(leg)
        assert journal.order("c1") == leg
        missed = replace(leg, status=OrderStatus.NOT_INCLUDED)
        journal.update_order(missed)
        assert journal.order("c1") == missed and journal.open_orders() == []
        landed = replace(leg, status=OrderStatus.CLOSED, landed_block=103)
        journal.update_order(landed)
        assert journal.order("c1") == landed
