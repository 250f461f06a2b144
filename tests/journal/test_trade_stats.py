"""Trade statistics per route kind and per venue from a real journal: exact Decimal sums on
planted trades of every outcome (tests/support/planted_trades.py works them out), the
read-only reader a worker thread uses, `--since`, the PnL series and its thinning, and the
kind column an older journal gains."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import astuple
from decimal import Decimal
from pathlib import Path

import pytest

from core.journal import Journal, read_stats_rows
from core.records import TradeStatus
from core.trade_stats import RouteStats, TradeRow, pnl_series, route_stats, trade_stats
from tests.support.planted_trades import T0, plant

D = Decimal
# (group, key, opportunities, executed, successful, failed, volume, profit, fees, avg profit,
#  avg seconds, success rate), from the trades listed in tests/support/planted_trades.py
EXPECTED = [
    ("kind", "cycle", 1, 1, 0, 1, D(0), D(0), D(0), D(0), 0.1, 0.0),
    ("kind", "liquidation", 3, 2, 1, 1, D(0), D("9.25"), D(0), D("4.625"), None, 0.5),
    # t1 + t2 + t3 at 65,000 USD/BTC; t6 (aborted) adds no PnL, t7 is in flight, t5 withdrawn
    ("kind", "spread", 7, 5, 2, 2, D("34000.75"), D("9.55"), D("3.40"), D("2.3875"), 0.7375, 0.5),
    ("venue", "aave-v3", 3, 2, 1, 1, D(0), D("9.25"), D(0), D("4.625"), None, 0.5),
    ("venue", "simbit", 4, 3, 1, 1, D("21000.75"), D("3.15"), D("2.10"), D("1.575"), 0.875, 0.5),
    # the cycle (buy and sell venue both simex) counts once
    ("venue", "simex", 7, 5, 2, 3, D("34000.75"), D("9.55"), D("3.40"), D("1.91"), 0.61, 0.4),
    ("venue", "simkra", 4, 3, 1, 1, D("13000"), D("6.40"), D("1.30"), D("3.20"), 0.6, 0.5),
    ("venue", "uniswap-v2", 2, 2, 1, 1, D(0), D("9.25"), D(0), D("4.625"), None, 0.5),
]


def check(routes: tuple[RouteStats, ...], expected: list[tuple[object, ...]]) -> None:
    assert [(r.group, r.key) for r in routes] == [e[:2] for e in expected]
    for route, want in zip(routes, expected, strict=True):
        got = astuple(route)
        assert got[:10] == want[:10], route.key  # counts and money: exact
        assert got[10] == (None if want[10] is None else pytest.approx(want[10])), route.key
        assert got[11] == want[11], route.key


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    journal = Journal(tmp_path / "journal.sqlite3")
    plant(journal)
    return journal


def test_figures_per_kind_and_venue_are_exact(journal: Journal) -> None:
    check(route_stats(journal.stats_rows()), EXPECTED)


def test_the_pnl_series_is_cumulative_by_finish_time(journal: Journal) -> None:
    series = trade_stats(journal.stats_rows()).pnl_series
    assert series == (
        (T0 + 10.5, D("3.90")),
        (T0 + 21.25, D("3.15")),
        (T0 + 30.2, D("9.55")),
        (T0 + 40.1, D("9.55")),  # the failed cycle: PnL 0
        (T0 + 70, D("22.05")),  # the liquidations, at their journal time
        (T0 + 80, D("18.80")),
    )


def test_the_read_only_reader_gives_the_same_rows_from_another_thread(
    journal: Journal,
) -> None:
    got: list[object] = []
    worker = threading.Thread(target=lambda: got.append(read_stats_rows(journal.path)))
    worker.start()
    worker.join()
    assert got == [journal.stats_rows()]
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        raw = sqlite3.connect(f"{journal.path.resolve().as_uri()}?mode=ro", uri=True)
        raw.execute("DELETE FROM trades")


def test_since_keeps_later_trades_and_opportunities(journal: Journal) -> None:
    routes = {(r.group, r.key): r for r in route_stats(journal.stats_rows(since=T0 + 25))}
    spread = routes[("kind", "spread")]
    # o3, o5..o8 detected at or after T0 + 25; trades t3, t6, t7 (t5 withdrawn)
    assert (spread.opportunities, spread.executed, spread.successful, spread.failed) == (
        5,
        3,
        1,
        1,
    )
    assert spread.profit_usd == D("6.40")
    assert ("venue", "simbit") in routes and routes[("venue", "simbit")].executed == 1


def test_an_empty_journal_has_no_figures(tmp_path: Path) -> None:
    with Journal(tmp_path / "empty.sqlite3") as journal:
        stats = trade_stats(journal.stats_rows())
    assert stats.routes == () and stats.pnl_series == ()


def test_a_long_series_is_thinned_to_its_last_point_per_stretch() -> None:
    rows = [
        TradeRow("spread", "a", "b", TradeStatus.COMPLETED, True, D(1), D(0), D(0), D(1),
                 float(i), float(i))
        for i in range(1000)
    ]  # fmt: skip
    full = pnl_series(rows, max_points=1000)
    thin = pnl_series(rows, max_points=100)
    assert len(full) == 1000 and full[-1] == (999.0, D(1000))
    assert 90 <= len(thin) <= 100
    assert thin[-1] == full[-1]  # the end value survives
    assert set(thin) <= set(full) and list(thin) == sorted(thin)


def test_an_older_journal_gains_the_kind_column_filled_from_its_data(
    journal: Journal,
) -> None:
    path = journal.path
    before = journal.stats_rows()
    journal.close()
    raw = sqlite3.connect(path)
    raw.execute("ALTER TABLE opportunities DROP COLUMN kind")
    raw.execute("UPDATE schema_version SET version = 2")
    raw.commit()
    raw.close()
    with Journal(path) as reopened:
        assert reopened.stats_rows() == before
