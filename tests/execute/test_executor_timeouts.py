"""Leg timeouts and orders that reach the venue late, on sim venues with the market running.

With `SimMarket.run()` stepping in real time, an order sent with `latency_ms` above the leg
timeout makes `create_order` time out on our side while the venue still executes it when its
latency is over, and it only becomes visible to lookups then: the order "lands late".
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from core.execute.legs import LegRunner
from core.execute.trades import TradeView
from core.journal import Journal
from core.records import OrderStatus, TradeStatus
from tests.execute.test_executor_sim import pnl_from_journal
from tests.support.executor import CHEAP, DEAR, SYMBOL, Rig, make_rig

pytestmark = pytest.mark.timeout(30)


@contextlib.asynccontextmanager
async def market_running(rig: Rig) -> AsyncIterator[None]:
    task = asyncio.create_task(rig.market.run())
    try:
        yield
    finally:
        rig.market.stop()
        await task


async def base_held(rig: Rig) -> Decimal:
    """BTC held over both venues (free + used), exact, from the venues' balance answers."""
    total = Decimal(0)
    for name in (CHEAP, DEAR):
        info = (await rig.exchange(name).fetch_balance())["info"]["BTC"]
        total += Decimal(info["free"]) + Decimal(info["used"])
    return total


async def submit_slow(rig: Rig, slow_venue: str, latency_ms: int, size: float) -> TradeView:
    """Submit with `slow_venue` answering after `latency_ms`; later orders are fast again."""
    opp = rig.opportunity(size=size)
    rig.exchange(slow_venue).latency_ms = latency_ms
    sub = await rig.executor.submit(opp)
    assert sub.accepted and sub.trade_id is not None, sub.reason
    await asyncio.sleep(0.05)  # both create_order calls have read the latency by now
    rig.exchange(slow_venue).latency_ms = 20  # the unwind, if any, is answered in time
    view = await rig.executor.wait(sub.trade_id)
    assert view is not None
    return view


async def test_order_landing_after_the_first_lookup_is_counted_and_unwound(
    tmp_path: Path,
) -> None:
    # The sell times out (0.3 s) and is not at the venue yet when first looked up; it lands
    # filled at ~0.8 s. The buy is rejected, so the late sell is a short to buy back.
    rig = make_rig(tmp_path, leg_timeout_s=0.3, unknown_order_grace_s=3.0)
    rig.exchange(CHEAP).reject_next_order("no")
    held_before = await base_held(rig)
    async with market_running(rig):
        trade = await submit_slow(rig, DEAR, 800, 0.02)
    sell = next(leg for leg in trade.legs if leg.role == "sell")
    assert sell.status == "closed" and sell.filled == trade.amount
    assert "send outcome unknown" in sell.error and "found on lookup" in sell.error
    lookups = int(sell.error.rsplit("found on lookup ", 1)[1].split(";")[0])
    assert lookups > 1  # the first lookup did not see it
    unwind = next(leg for leg in trade.legs if leg.role == "unwind")
    assert (unwind.venue, unwind.side, unwind.filled) == (DEAR, "buy", trade.amount)
    assert trade.status == TradeStatus.HEDGED, trade.reason
    assert trade.residual == 0 and trade.unwind_cost > 0
    assert trade.realized_pnl == pnl_from_journal(rig, trade.id)
    assert await base_held(rig) == held_before  # no position left anywhere, tracked or not


async def test_leg_timeout_then_fill_learned_and_imbalance_unwound(tmp_path: Path) -> None:
    # The buy answers after the leg timeout; the sell is rejected. The executor looks the buy
    # up, learns it filled, and sells the position back on the buy venue, cost recorded.
    rig = make_rig(tmp_path, leg_timeout_s=0.25, unknown_order_grace_s=3.0)
    rig.exchange(DEAR).reject_next_order("no")
    held_before = await base_held(rig)
    started = time.monotonic()
    async with market_running(rig):
        trade = await submit_slow(rig, CHEAP, 500, 0.03)
    assert time.monotonic() - started < 5.0
    buy = next(leg for leg in trade.legs if leg.role == "buy")
    assert buy.filled == trade.amount and "send outcome unknown" in buy.error
    unwind = next(leg for leg in trade.legs if leg.role == "unwind")
    assert (unwind.venue, unwind.side, unwind.filled) == (CHEAP, "sell", trade.amount)
    assert trade.status == TradeStatus.HEDGED
    assert trade.unwind_cost > 0 and trade.realized_pnl is not None and trade.realized_pnl < 0
    assert trade.realized_pnl == pnl_from_journal(rig, trade.id)
    assert await base_held(rig) == held_before
    stored = rig.journal.trade(trade.id)
    assert stored is not None and stored.status == TradeStatus.HEDGED
    assert stored.unwind_cost == trade.unwind_cost


async def test_order_that_never_arrives_is_not_found_only_after_the_grace(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path, unknown_order_grace_s=0.4)
    rig.exchange(DEAR).fail_next_order()  # NetworkError before it reaches the venue
    started = time.monotonic()
    trade = await rig.executor.execute(rig.opportunity(size=0.02))
    assert isinstance(trade, TradeView)
    assert time.monotonic() - started >= 0.4
    sell = next(leg for leg in trade.legs if leg.role == "sell")
    assert sell.status == "not_found"
    lookups = int(sell.error.rsplit("not found in ", 1)[1].split(" lookups")[0])
    assert lookups >= 3  # looked again, with backoff, before concluding
    assert trade.status == TradeStatus.HEDGED and trade.residual == 0


async def test_resting_order_is_cancelled_at_the_deadline_with_its_partial_fill(
    tmp_path: Path,
) -> None:
    # A GTC buy at the best ask for more than the best level: part fills, the rest rests.
    # At the leg deadline it is cancelled and fetched: the partial fill is what is recorded.
    rig = make_rig(tmp_path)
    book = rig.market.book(CHEAP, SYMBOL)
    best_price, best_size = book.asks[0]
    journal = Journal(tmp_path / "legs.sqlite3")
    runner = LegRunner(journal, poll_interval_s=0.02)
    record = runner.new_order(
        client_order_id="gtc-1",
        trade_id="t-gtc",
        role="buy",
        venue=CHEAP,
        symbol=SYMBOL,
        side="buy",
        type="limit",
        amount=str(Decimal(str(best_size)) + Decimal("0.5")),
        price=str(best_price),
    )
    outcome = await runner.run(
        rig.exchange(CHEAP), record, timeout_s=0.3, params={"timeInForce": "GTC"}
    )
    assert outcome.order.status is OrderStatus.CANCELED
    assert 0 < outcome.filled < record.amount
    venue_order = await rig.exchange(CHEAP).fetch_order("gtc-1", SYMBOL)
    assert venue_order["status"] == "canceled"
    assert Decimal(venue_order["info"]["filled"]) == outcome.filled
    assert sum(f.amount for f in journal.fills("t-gtc")) == outcome.filled
