"""The executor against the simulated venues: happy path, partial fill, rejection, refusals."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import pytest

from core.events import LegSent, TradeFinished, TradeRefused, TradeStarted, TradeUnwinding
from core.execute.trades import Submission, TradeView
from core.records import TradeStatus
from core.settings import RiskSettings
from tests.support.executor import CHEAP, DEAR, SYMBOL, Rig, make_rig


def pnl_from_journal(rig: Rig, trade_id: str) -> Decimal:
    """Independent recomputation: sell fills - buy fills - fees (all quote-denominated here)."""
    total = Decimal(0)
    for fill in rig.journal.fills(trade_id):
        assert fill.fee_currency == "USDT"
        total += fill.cost if fill.side == "sell" else -fill.cost
        total -= fill.fee
    return total


async def run(rig: Rig, opp: Any) -> TradeView:
    result = await rig.executor.execute(opp)
    assert isinstance(result, TradeView), result
    return result


async def test_both_legs_fill_and_pnl_is_fills_minus_fees(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    opp = rig.opportunity(size=0.05)
    assert opp.net_profit > 0
    trade = await run(rig, opp)
    assert trade.status == TradeStatus.COMPLETED, trade.reason
    assert {leg.role for leg in trade.legs} == {"buy", "sell"}
    assert all(leg.filled == trade.amount for leg in trade.legs)
    assert trade.realized_pnl == pnl_from_journal(rig, trade.id)
    assert trade.residual == 0
    stored = rig.journal.trade(trade.id)
    assert stored is not None
    assert stored.status == TradeStatus.COMPLETED
    assert stored.realized_pnl == trade.realized_pnl
    # the orders carried our client ids to the venue
    for leg in trade.legs:
        venue_order = await rig.exchange(leg.venue).fetch_order(leg.client_order_id, SYMBOL)
        assert venue_order["clientOrderId"] == leg.client_order_id
        assert Decimal(venue_order["info"]["filled"]) == leg.filled
    kinds = [type(e) for e in rig.events]
    assert kinds.index(TradeStarted) < kinds.index(LegSent) < kinds.index(TradeFinished)
    stats = rig.executor.stats()
    assert (stats.executed, stats.successful, stats.failed) == (1, 1, 0)
    assert stats.profit == trade.realized_pnl


async def test_partial_fill_is_unwound_and_costed(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    opp = rig.opportunity(size=0.05)
    sell_venue = rig.exchange(DEAR)
    real_create = sell_venue.create_order

    async def thin_then_create(*args: Any, **kwargs: Any) -> dict[str, Any]:
        # Liquidity vanishes from the bids just before our sell executes: only 0.02 is left
        # within its limit (scheduled first, so it runs before the order at the same time).
        book = rig.market.book(DEAR, SYMBOL)

        def thin() -> None:
            best = book.bids[0][0]
            book.bids[:] = [[best, 0.02], [round(best * 0.9, 2), 10.0]]

        rig.market.schedule(rig.market.now_ms + sell_venue.latency_ms, thin)
        return await real_create(*args, **kwargs)

    sell_venue.create_order = thin_then_create
    trade = await run(rig, opp)
    sell_leg = next(leg for leg in trade.legs if leg.role == "sell")
    buy_leg = next(leg for leg in trade.legs if leg.role == "buy")
    unwind = next(leg for leg in trade.legs if leg.role == "unwind")
    assert 0 < sell_leg.filled < trade.amount
    assert buy_leg.filled == trade.amount
    assert unwind.venue == CHEAP and unwind.side == "sell" and unwind.type == "market"
    assert unwind.filled == buy_leg.filled - sell_leg.filled
    assert trade.status == TradeStatus.HEDGED, trade.reason
    assert trade.residual == 0
    assert trade.unwind_cost > 0  # sold back below what it was bought for, plus a fee
    assert trade.realized_pnl == pnl_from_journal(rig, trade.id)
    assert any(isinstance(e, TradeUnwinding) for e in rig.events)


async def test_rejected_leg_unwinds_the_other(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.exchange(DEAR).reject_next_order("venue says no")
    trade = await run(rig, rig.opportunity(size=0.03))
    sell_leg = next(leg for leg in trade.legs if leg.role == "sell")
    assert sell_leg.status == "rejected" and sell_leg.filled == 0
    unwind = next(leg for leg in trade.legs if leg.role == "unwind")
    assert unwind.filled == trade.amount
    assert trade.status == TradeStatus.HEDGED
    assert trade.realized_pnl is not None and trade.realized_pnl < 0
    assert trade.realized_pnl == pnl_from_journal(rig, trade.id)
    assert rig.executor.stats().failed == 1


async def test_insufficient_funds_raised_by_venue_is_a_rejection(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.exchange(CHEAP).fail_next_order(ccxt.InsufficientFunds)
    trade = await run(rig, rig.opportunity(size=0.02))
    buy_leg = next(leg for leg in trade.legs if leg.role == "buy")
    assert buy_leg.status == "rejected" and "InsufficientFunds" in buy_leg.error
    assert trade.status == TradeStatus.HEDGED  # the sell filled and was bought back


async def test_lost_send_is_looked_up_by_client_id(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.exchange(DEAR).fail_next_order(ccxt.NetworkError)  # never reached the venue
    trade = await run(rig, rig.opportunity(size=0.02))
    sell_leg = next(leg for leg in trade.legs if leg.role == "sell")
    assert sell_leg.status == "not_found"
    assert "send outcome unknown" in sell_leg.error
    assert trade.status == TradeStatus.HEDGED


async def test_refusals_carry_reasons(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    expired = rig.opportunity(size=0.02, ttl_s=-1.0)
    sub = await rig.executor.submit(expired)
    assert isinstance(sub, Submission) and not sub.accepted and "expired" in sub.reason

    rig.exchange(CHEAP).set_balance("USDT", "10")
    sub = await rig.executor.submit(rig.opportunity(size=0.02))
    assert not sub.accepted and "simex" in sub.reason and "USDT free" in sub.reason
    rig.exchange(CHEAP).set_balance("USDT", "250000")

    rig.exchange(DEAR).set_balance("BTC", "0")
    sub = await rig.executor.submit(rig.opportunity(size=0.02))
    assert not sub.accepted and "BTC free" in sub.reason
    rig.exchange(DEAR).set_balance("BTC", "3")

    rig.market.dislocate(CHEAP, SYMBOL, 0.0, hold_s=600.0)
    rig.market.step()
    rig.market.step()
    opp = rig.opportunity(size=0.02)  # no edge left
    rig.refresh_books()
    sub = await rig.executor.submit(opp)
    assert not sub.accepted and "profitable" in sub.reason

    refused = [e for e in rig.events if isinstance(e, TradeRefused)]
    assert len(refused) == 4 and all(e.reason for e in refused)
    stored = rig.journal.opportunity(expired.id)
    assert stored is not None and stored["status"] == "refused"


async def test_stale_book_is_refused(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    opp = rig.opportunity(size=0.02)
    rig.books[SYMBOL][DEAR].received_at -= 60
    sub = await rig.executor.submit(opp)
    assert not sub.accepted and "not usable" in sub.reason


async def test_resizes_down_to_current_depth(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    opp = rig.opportunity(size=0.05)
    # Thin the cheap venue's asks in our books: only part of the size is there now.
    book = rig.books[SYMBOL][CHEAP]
    best = book.top(1)[1][0][0]
    far = round(best * 1.01, 2)  # 100 bps away: beyond the 30 bps slippage limit
    book.apply_snapshot(book.top(100)[0], [(best, 0.01), (far, 5.0)], received_at=book.received_at)
    trade = await run(rig, opp)
    assert trade.amount == Decimal("0.01")
    assert "resized" in trade.reason


async def test_kill_switch_refuses_new_orders(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    rig.breaker.kill("trader pressed K")
    sub = await rig.executor.submit(rig.opportunity(size=0.02))
    assert not sub.accepted and "kill switch" in sub.reason
    assert rig.journal.trades() == []
    rig.breaker.resume()
    trade = await run(rig, rig.opportunity(size=0.02))
    assert trade.status == TradeStatus.COMPLETED


async def test_max_concurrent_trades(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, risk=RiskSettings(max_concurrent_trades=1))
    rig.market.settings.latency_ms = 200
    for name in (CHEAP, DEAR):
        rig.exchange(name).latency_ms = 200
    first = await rig.executor.submit(rig.opportunity(size=0.02))
    assert first.accepted
    # The same route is refused as in flight; capacity is checked too.
    second = await rig.executor.submit(rig.opportunity(size=0.02))
    assert not second.accepted and "in flight" in second.reason
    assert first.trade_id is not None
    await rig.executor.wait(first.trade_id)


async def test_drain_stops_new_trades_and_flushes(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    sub = await rig.executor.submit(rig.opportunity(size=0.02))
    assert sub.accepted
    left = await rig.executor.drain(timeout_s=5)
    assert left == []
    assert rig.journal.in_flight_trades() == []
    refused = await rig.executor.submit(rig.opportunity(size=0.02))
    assert not refused.accepted and "shutting down" in refused.reason


@pytest.mark.parametrize("failures", [3])
async def test_consecutive_failures_trip_the_breaker(tmp_path: Path, failures: int) -> None:
    rig = make_rig(tmp_path, risk=RiskSettings(max_consecutive_failures=failures))
    for _ in range(failures):
        rig.exchange(DEAR).reject_next_order("no")
        trade = await run(rig, rig.opportunity(size=0.02))
        assert trade.status == TradeStatus.HEDGED
    sub = await rig.executor.submit(rig.opportunity(size=0.02))
    assert not sub.accepted and "consecutive_failures" in sub.reason
    causes = [e.cause for e in rig.journal.breaker_events()]
    assert "consecutive_failures" in causes
