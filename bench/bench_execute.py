"""Execution overhead: approval (`executor.submit`) to both legs handed to their venues.

The venues answer at once (no latency), so the figure is our own work: re-check against the
books, precision rounding, minimums, balance check, breaker permit, journaling the trade and
both orders (SQLite WAL commits) and scheduling the two sends. Also prints the cost of one
journal order insert (a WAL commit, synchronous=NORMAL) on its own.

Prints figures only. Run: `.venv/bin/python bench/bench_execute.py [n]`.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.book import OrderBook
from core.detect.opportunity import Opportunity
from core.execute.executor import Executor
from core.journal import Journal
from core.records import OrderRecord, OrderStatus
from core.risk import CircuitBreaker
from core.settings import ExecutionSettings, RiskSettings, ThresholdSettings

SYMBOL = "BTC/USDT"


class InstantVenue:
    """ccxt-shaped venue whose orders fill in full at once; records when each send arrived."""

    def __init__(self, name: str) -> None:
        self.id = name
        self.fees = {"trading": {"taker": 0.001}}
        self.sent_at: dict[str, int] = {}
        self._market = {
            "symbol": SYMBOL,
            "base": "BTC",
            "quote": "USDT",
            "taker": 0.001,
            "precision": {"amount": 0.00001, "price": 0.01},
            "limits": {"amount": {"min": 0.00001}, "cost": {"min": 5.0}},
        }

    def market(self, symbol: str) -> dict[str, Any]:
        return self._market

    def amount_to_precision(self, symbol: str, amount: Any) -> str:
        return str(Decimal(str(amount)).quantize(Decimal("0.00001"), rounding="ROUND_DOWN"))

    def price_to_precision(self, symbol: str, price: Any) -> str:
        return str(Decimal(str(price)).quantize(Decimal("0.01")))

    async def fetch_balance(self, params: Any = None) -> dict[str, Any]:
        return {"free": {"USDT": 1e9, "BTC": 1e6}}

    async def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: Any = None,
    ) -> dict[str, Any]:
        cid = (params or {})["clientOrderId"]
        self.sent_at[cid] = time.perf_counter_ns()
        px = price or 100.0
        return {
            "id": cid,
            "clientOrderId": cid,
            "status": "closed",
            "amount": amount,
            "filled": amount,
            "average": px,
            "cost": amount * px,
            "fee": {"cost": amount * px * 0.001, "currency": "USDT"},
        }

    async def fetch_order(
        self, id: str, symbol: str | None = None, params: Any = None
    ) -> dict[str, Any]:
        raise AssertionError("not needed: orders are final at once")

    async def cancel_order(self, id: str, symbol: str | None = None, params: Any = None) -> Any:
        return None


def make_books() -> dict[str, dict[str, OrderBook]]:
    now = time.time()
    cheap, dear = OrderBook("a", SYMBOL), OrderBook("b", SYMBOL)
    cheap.apply_snapshot(
        [(99_900.0 - i, 1.0) for i in range(50)],
        [(100_000.0 + i, 1.0) for i in range(50)],
        received_at=now,
    )
    dear.apply_snapshot(
        [(100_400.0 - i, 1.0) for i in range(50)],
        [(100_500.0 + i, 1.0) for i in range(50)],
        received_at=now,
    )
    return {SYMBOL: {"a": cheap, "b": dear}}


def opportunity(i: int) -> Opportunity:
    now = time.time()
    return Opportunity(
        f"o{i}",
        SYMBOL,
        "a",
        "b",
        0.1,
        100_000.0,
        100_400.0,
        40.0,
        20.0,
        20.0,
        20.0,
        20.0,
        now,
        now + 60,
    )


async def run(n: int, folder: Path) -> None:
    journal = Journal(folder / "bench.sqlite3")
    venues = {"a": InstantVenue("a"), "b": InstantVenue("b")}
    books = make_books()
    thresholds = ThresholdSettings(min_profit_bps=1.0, min_profit_usd=0.0)
    risk = RiskSettings(
        max_concurrent_trades=100, max_daily_loss_usd=1e12, max_consecutive_failures=1000
    )
    breaker = CircuitBreaker(risk, thresholds, journal=journal)
    executor = Executor(
        ExecutionSettings(),
        risk,
        thresholds,
        exchanges=venues,
        books=books,
        journal=journal,
        breaker=breaker,
    )
    overhead: list[float] = []
    for i in range(n):
        for book in books[SYMBOL].values():
            book.received_at = time.time()
        start = time.perf_counter_ns()
        sub = await executor.submit(opportunity(i))
        assert sub.accepted, sub.reason
        await executor.wait(sub.trade_id or "")
        ids = [f"arb-{sub.trade_id}-b", f"arb-{sub.trade_id}-s"]
        last_sent = max(venues["a"].sent_at.get(ids[0], 0), venues["b"].sent_at.get(ids[1], 0))
        overhead.append((last_sent - start) / 1000.0)
    report("approval -> both legs sent (us)", overhead[n // 10 :])  # skip warm-up

    commits: list[float] = []
    for i in range(n):
        record = OrderRecord(
            f"bench-{i}",
            "t",
            "buy",
            "a",
            SYMBOL,
            "buy",
            "limit",
            Decimal("0.1"),
            Decimal("100"),
            OrderStatus.PENDING,
            0.0,
            0.0,
        )
        start = time.perf_counter_ns()
        journal.insert_order(record)
        commits.append((time.perf_counter_ns() - start) / 1000.0)
    report("journal order insert, WAL commit (us)", commits)
    stats = executor.stats()
    print(f"trades: {stats.executed} executed, {stats.successful} successful")


def report(label: str, samples: list[float]) -> None:
    samples = sorted(samples)
    p50 = statistics.median(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(
        f"{label:40s} n={len(samples):5d}  p50={p50:8.1f}  p99={p99:8.1f}  max={samples[-1]:8.1f}"
    )


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 2000
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(n, Path(folder)))


if __name__ == "__main__":
    main()
