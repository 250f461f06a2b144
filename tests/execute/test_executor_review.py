"""Regression tests for the execution review (issue 7): one test per finding, on scripted venues.

Each scripted venue answers from a list of canned replies, so the exact failure the reviewer
described (a -1006 on placement, a cancel answer without `filled`, ...) is reproduced without
a network.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import pytest

from core.book import OrderBook
from core.bus import EventBus
from core.detect.opportunity import Opportunity
from core.execute.legs import LegRunner, apply_order
from core.execute.paper import PaperExchange
from core.execute.pnl import account
from core.execute.reconcile import reconcile
from core.feeds.sim.market import SimMarket
from core.journal import SCHEMA_VERSION, Journal
from core.records import OrderRecord, OrderStatus, TradeRecord, TradeStatus
from core.settings import SimSettings, VenueKind, VenueSettings
from tests.support.executor import (
    CHEAP,
    DEAR,
    Rig,
    book_opportunity,
    make_executor,
    make_rig,
)

pytestmark = pytest.mark.timeout(20)

SYMBOL = "BTC/USDT"  # as in tests.support.executor


class ScriptedVenue:
    """A venue whose create/fetch/cancel answers (or raises) what each script says."""

    id = "scripted"

    def __init__(
        self,
        create: Callable[[], dict[str, Any]],
        fetch: Callable[[], dict[str, Any]],
        cancel: Callable[[], Any] | None = None,
    ) -> None:
        self._create, self._fetch, self._cancel = create, fetch, cancel
        self.fetches = 0
        self.cancels = 0

    def market(self, symbol: str) -> dict[str, Any]:
        return {"taker": 0.001, "limits": {}}

    def amount_to_precision(self, symbol: str, amount: Any) -> Any:
        return str(amount)

    def price_to_precision(self, symbol: str, price: Any) -> Any:
        return str(price)

    async def create_order(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self._create()

    async def fetch_order(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.fetches += 1
        return self._fetch()

    async def cancel_order(self, *args: Any, **kwargs: Any) -> Any:
        self.cancels += 1
        assert self._cancel is not None
        return self._cancel()

    async def fetch_balance(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"free": {}}


def _raise(exc: Exception) -> Callable[[], dict[str, Any]]:
    def go() -> dict[str, Any]:
        raise exc

    return go


def _order(status: str, filled: str | None, **extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"id": "v1", "status": status, "amount": Decimal("1"), **extra}
    raw["filled"] = Decimal(filled) if filled is not None else None
    return raw


def _leg_order(
    runner: LegRunner,
    role: str,
    *,
    venue: str = "scripted",
    price: str = "100",
    amount: str = "1",
    trade_id: str = "t1",
    client_order_id: str | None = None,
) -> OrderRecord:
    """A journaled limit order of one leg (buy or sell) of a test trade."""
    return runner.new_order(
        client_order_id=client_order_id or f"arb-{trade_id}-{role[0]}",
        trade_id=trade_id,
        role=role,
        venue=venue,
        symbol=SYMBOL,
        side=role,
        type="limit",
        amount=amount,
        price=price,
    )


def _runner(tmp_path: Path) -> tuple[LegRunner, OrderRecord]:
    journal = Journal(tmp_path / "j.db")
    runner = LegRunner(journal, poll_interval_s=0.01, unknown_grace_s=0.2)
    return runner, _leg_order(runner, "buy")


FILLED = _order(
    "closed",
    "1",
    cost=Decimal("100"),
    average=Decimal("100"),
    fee={"cost": Decimal("0.1"), "currency": "USDT"},
)


# -- 1: only definite refusals are rejections ------------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        ccxt.OperationFailed('binance {"code":-1006,"msg":"Execution status unknown."}'),
        ccxt.OperationFailed('binance {"code":-1000,"msg":"An unknown error occured"}'),
        ccxt.ExchangeError('binance {"code":-1001,"msg":"Internal error"}'),
        ccxt.BadResponse("binance unexpected response"),
        ccxt.NullResponse("binance empty response"),
        ccxt.DuplicateOrderId("binance duplicate clientOrderId"),
    ],
)
async def test_an_ambiguous_send_error_is_looked_up_not_rejected(
    tmp_path: Path, exc: Exception
) -> None:
    runner, record = _runner(tmp_path)
    venue = ScriptedVenue(_raise(exc), lambda: dict(FILLED))
    outcome = await runner.run(venue, record, timeout_s=1.0)
    assert venue.fetches >= 1
    assert outcome.order.status is OrderStatus.CLOSED
    assert outcome.filled == Decimal("1")
    assert outcome.order.cost == Decimal("100")


@pytest.mark.parametrize(
    "exc",
    [
        ccxt.InsufficientFunds("binance -2010"),
        ccxt.InvalidOrder("binance -1013"),
        ccxt.BadSymbol("binance bad symbol"),
        ccxt.PermissionDenied("binance no"),
    ],
)
async def test_a_definite_refusal_is_rejected_without_lookup(
    tmp_path: Path, exc: Exception
) -> None:
    runner, record = _runner(tmp_path)
    venue = ScriptedVenue(_raise(exc), lambda: dict(FILLED))
    outcome = await runner.run(venue, record, timeout_s=1.0)
    assert outcome.order.status is OrderStatus.REJECTED
    assert venue.fetches == 0


# -- 2: a cancel answer without fill figures keeps the partial fill ---------------------------


def test_apply_order_without_filled_keeps_the_partial_fill(tmp_path: Path) -> None:
    _, record = _runner(tmp_path)
    partial = _order(
        "open",
        "0.4",
        cost=Decimal("40"),
        average=Decimal("100"),
        fee={"cost": Decimal("0.04"), "currency": "USDT"},
    )
    record, fills = apply_order(record, partial, 1.0)
    assert record.filled == Decimal("0.4") and len(fills) == 1
    cancelled, new = apply_order(record, _order("canceled", None), 2.0)
    assert cancelled.status is OrderStatus.CANCELED
    assert (cancelled.filled, cancelled.cost, cancelled.fee) == (
        Decimal("0.4"),
        Decimal("40"),
        Decimal("0.04"),
    )
    assert cancelled.fee_currency == "USDT"
    assert new == []
    older, new = apply_order(record, _order("open", "0.1", cost=Decimal("10")), 3.0)
    assert older.filled == Decimal("0.4") and older.cost == Decimal("40") and new == []


async def test_cancel_answer_is_followed_by_a_fetch(tmp_path: Path) -> None:
    runner, record = _runner(tmp_path)
    final = _order(
        "canceled",
        "0.4",
        cost=Decimal("40"),
        average=Decimal("100"),
        fee={"cost": Decimal("0.04"), "currency": "USDT"},
    )
    venue = ScriptedVenue(
        lambda: _order("open", "0"),
        lambda: final if venue.cancels else _order("open", "0"),
        cancel=lambda: _order("canceled", None),
    )
    outcome = await runner.run(venue, record, timeout_s=0.1)
    assert venue.cancels == 1
    assert outcome.order.status is OrderStatus.CANCELED
    assert outcome.filled == Decimal("0.4")
    assert sum(f.amount for f in outcome.fills) == Decimal("0.4")


# -- 3: the kill switch is re-checked between the permit and the send -------------------------


async def test_a_kill_queued_before_the_legs_start_sends_nothing(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    acquire = rig.breaker.acquire

    def acquire_then_kill(*args: Any, **kwargs: Any) -> Any:
        decision = acquire(*args, **kwargs)
        # Runs after submit has scheduled the trade's task, before that task's first step.
        asyncio.get_running_loop().call_soon(rig.breaker.kill, "pressed mid-submit")
        return decision

    rig.breaker.acquire = acquire_then_kill  # type: ignore[method-assign]
    submission = await rig.executor.submit(rig.opportunity())
    assert not submission.accepted
    assert "kill switch" in submission.reason
    assert rig.journal.open_orders() == [] and rig.journal.fills() == []
    assert not rig.executor.active
    (trade,) = rig.executor.trades()
    assert trade.legs == ()
    assert trade.status == TradeStatus.FAILED and "not sent" in trade.reason
    assert rig.breaker._active == {}  # the permit was given back


# -- 4: concurrent trades on one venue hold their funds -------------------------------------


THIRD = "simthird"


def three_venue_rig(tmp_path: Path) -> Rig:
    """CHEAP (60 bps below) buys; DEAR and THIRD both sell: two routes share CHEAP's USDT."""
    venues = [
        VenueSettings(name=CHEAP, kind=VenueKind.SIM, taker_fee_bps=10.0, symbols=[SYMBOL]),
        VenueSettings(name=DEAR, kind=VenueKind.SIM, taker_fee_bps=7.5, symbols=[SYMBOL]),
        VenueSettings(name=THIRD, kind=VenueKind.SIM, taker_fee_bps=7.5, symbols=[SYMBOL]),
    ]
    market = SimMarket(
        SimSettings(seed=3, latency_ms=20, dislocation_rate_per_min=0.0),
        venues,
        start_ms=1_700_000_000_000,
    )
    market.dislocate(CHEAP, SYMBOL, -60.0, hold_s=600.0)
    market.step()
    books = {SYMBOL: {v.name: OrderBook(v.name, SYMBOL) for v in venues}}
    journal = Journal(tmp_path / "journal.sqlite3")
    bus = EventBus()
    breaker, executor = make_executor(
        {v.name: market.exchange(v.name) for v in venues},
        books,
        journal,
        bus,
        leg_timeout_s=2.0,
        poll_interval_s=0.01,
        unknown_order_grace_s=0.3,
    )
    rig = Rig(market, books, journal, breaker, executor, bus)
    rig.refresh_books()
    return rig


async def test_two_trades_buying_on_one_venue_cannot_spend_the_same_funds(
    tmp_path: Path,
) -> None:
    rig = three_venue_rig(tmp_path)
    size = 0.05
    first = book_opportunity(rig.books[SYMBOL], CHEAP, DEAR, size, lambda b, s: 0.0, 5.0)
    second = book_opportunity(rig.books[SYMBOL], CHEAP, THIRD, size, lambda b, s: 0.0, 5.0)
    cheap = rig.exchange(CHEAP)
    real = cheap.fetch_balance
    enough_for_one = Decimal(str(first.buy_vwap)) * Decimal(str(size)) * Decimal("1.6")

    async def one_trade_of_usdt(params: dict[str, Any] | None = None) -> dict[str, Any]:
        balance = await real(params)
        balance["free"] = {**balance["free"], "USDT": enough_for_one}
        return balance

    cheap.fetch_balance = one_trade_of_usdt
    a, b = await asyncio.gather(rig.executor.submit(first), rig.executor.submit(second))
    assert sorted([a.accepted, b.accepted]) == [False, True]
    refused = a if not a.accepted else b
    assert "held by trades in flight" in refused.reason
    await rig.executor.drain(5.0)
    assert rig.executor.reservations._held == {}  # given back when the trade closed


# -- 6: a caller that stops waiting does not break the trade ----------------------------------


async def test_a_cancelled_submit_caller_leaves_the_trade_running(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    order = rig.executor.ledger.order
    caller: asyncio.Task[Any] | None = None

    def order_then_cancel_caller(*args: Any, **kwargs: Any) -> Any:
        assert caller is not None
        caller.cancel()  # the caller gives up while _run is journaling the legs
        return order(*args, **kwargs)

    rig.executor.ledger.order = order_then_cancel_caller  # type: ignore[method-assign]
    caller = asyncio.create_task(rig.executor.submit(rig.opportunity()))
    with pytest.raises(asyncio.CancelledError):
        await caller
    await rig.executor.drain(5.0)
    (trade,) = rig.executor.trades()
    assert trade.status == TradeStatus.COMPLETED, trade.reason


# -- 9: the TTL and the books are judged after the balance round-trip ------------------------


async def test_an_opportunity_that_expires_during_the_balance_check_is_refused(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path)
    opp = rig.opportunity(ttl_s=0.2)
    cheap = rig.exchange(CHEAP)
    real = cheap.fetch_balance

    async def slow(params: dict[str, Any] | None = None) -> dict[str, Any]:
        await asyncio.sleep(0.3)
        result: dict[str, Any] = await real(params)
        return result

    cheap.fetch_balance = slow
    submission = await rig.executor.submit(opp)
    assert not submission.accepted and "expired" in submission.reason
    assert rig.executor.trades() == []


# -- 10: an error after the permit gives the permit back --------------------------------------


async def test_an_error_after_the_permit_releases_it(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    rig.journal.insert_trade = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="disk full"):
        await rig.executor.submit(rig.opportunity())
    assert rig.breaker._active == {}
    assert rig.executor.reservations._held == {}
    assert not rig.executor.active


# -- 5: reconcile re-accounts the trades of the orders it re-queried -------------------------


async def test_reconcile_reaccounts_a_finished_trade_whose_order_it_resolved(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path / "j.db")
    opp = Opportunity(
        id="opp-1",
        symbol=SYMBOL,
        buy_venue="scripted",
        sell_venue="other",
        size=1.0,
        buy_vwap=100.0,
        sell_vwap=101.0,
        gross_profit=1.0,
        fees=0.5,
        net_profit=0.5,
        net_profit_usd=1.0,  # 2 USD per quote unit
        net_bps=50.0,
        detected_at=1.0,
        expires_at=2.0,
    )
    journal.record_opportunity(opp, "needs_attention", "", 1.0)
    journal.insert_trade(
        TradeRecord(
            id="t1",
            opportunity_id="opp-1",
            symbol=SYMBOL,
            buy_venue="scripted",
            sell_venue="other",
            amount=Decimal("1"),
            status=TradeStatus.SENDING,
            started_at=1.0,
        )
    )
    runner = LegRunner(journal)
    buy = _leg_order(runner, "buy")
    journal.update_order(replace(buy, status=OrderStatus.UNKNOWN, error="lookup failed"))
    sell = _leg_order(runner, "sell", venue="other", price="101")
    sold = replace(
        sell,
        status=OrderStatus.CLOSED,
        filled=Decimal("1"),
        cost=Decimal("101"),
        average=Decimal("101"),
    )
    journal.update_order(sold)
    journal.update_trade(
        "t1",
        TradeStatus.NEEDS_ATTENTION,
        "order state unknown: arb-t1-b",
        realized_pnl=Decimal("0"),
        realized_pnl_usd=Decimal("0"),
        residual=Decimal("-1"),
        finished_at=2.0,
    )
    venue = ScriptedVenue(lambda: {}, lambda: dict(FILLED))
    report = await reconcile(journal, {"scripted": venue})
    assert [o.status for o in report.orders] == [OrderStatus.CLOSED]
    assert [t.id for t in report.trades] == ["t1"]
    after = journal.trade("t1")
    assert after is not None
    assert after.residual == Decimal("0")
    assert after.realized_pnl == Decimal("101") - Decimal("100") - Decimal("0.1")
    assert after.realized_pnl_usd == after.realized_pnl * 2
    assert after.status is TradeStatus.NEEDS_ATTENTION
    assert "re-queried at restart" in after.reason and "order state unknown" in after.reason


# -- 8: fees in two currencies are kept apart -------------------------------------------------


def test_fees_in_two_currencies_are_not_added_together(tmp_path: Path) -> None:
    runner, record = _runner(tmp_path)
    raw = _order(
        "closed",
        "1",
        cost=Decimal("100"),
        average=Decimal("100"),
        fees=[
            {"cost": Decimal("0.01"), "currency": "BNB"},
            {"cost": Decimal("0.05"), "currency": "USDT"},
        ],
    )
    updated, fills = apply_order(record, raw, 1.0)
    assert (updated.fee, updated.fee_currency) == (Decimal("0.05"), "USDT")
    assert updated.other_fees == (("BNB", Decimal("0.01")),)
    books = account([updated], "BTC", "USDT")
    assert books.fees == Decimal("0.05")
    assert books.realized_pnl == Decimal("-100") + Decimal("1") * Decimal("100") - Decimal("0.05")
    assert any("0.01 BNB" in note and "not valued" in note for note in books.notes)
    # Journaled and read back as they are.
    runner.journal.update_order(updated, fills)
    stored = runner.journal.order(record.client_order_id)
    assert stored is not None and stored.other_fees == (("BNB", Decimal("0.01")),)


def test_trades_charged_in_two_currencies_keep_them_apart(tmp_path: Path) -> None:
    _, record = _runner(tmp_path)
    raw = _order(
        "closed",
        "1",
        trades=[
            {
                "amount": Decimal("0.4"),
                "price": Decimal("100"),
                "fee": {"cost": Decimal("0.01"), "currency": "BNB"},
            },
            {
                "amount": Decimal("0.6"),
                "price": Decimal("100"),
                "fee": {"cost": Decimal("0.06"), "currency": "USDT"},
            },
        ],
    )
    updated, fills = apply_order(record, raw, 1.0)
    assert (updated.fee, updated.fee_currency) == (Decimal("0.06"), "USDT")
    assert updated.other_fees == (("BNB", Decimal("0.01")),)
    assert [(f.fee, f.fee_currency) for f in fills] == [
        (Decimal("0.01"), "BNB"),
        (Decimal("0.06"), "USDT"),
    ]


def test_a_version_1_journal_gains_the_other_fees_column(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Journal(path).close()
    raw = sqlite3.connect(path)
    raw.execute("ALTER TABLE orders DROP COLUMN other_fees")
    raw.execute("UPDATE schema_version SET version = 1")
    raw.commit()
    raw.close()
    journal = Journal(path)
    assert journal.schema_version == SCHEMA_VERSION
    assert journal.open_orders() == []


# -- 11: paper orders are exact -------------------------------------------------------------


async def test_a_journaled_paper_order_matches_its_balances_exactly(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    book = OrderBook("x", SYMBOL)
    # Prices and sizes whose products do not survive a float.
    book.apply_snapshot(
        [(99.123456789, 1.0)],
        [(100.987654321, 0.123456789), (101.000000007, 0.333333333)],
        received_at=time.time(),
    )
    paper = PaperExchange(rig.exchange(CHEAP), lambda _s: book, {"USDT": "100000", "BTC": "1"})
    runner, _ = _runner(tmp_path)
    record = _leg_order(
        runner,
        "buy",
        venue=CHEAP,
        price="101.1",
        amount="0.4",
        trade_id="t2",
        client_order_id="paper-1",
    )
    before = paper.free["USDT"]
    outcome = await runner.run(paper, record, timeout_s=1.0, params={"timeInForce": "IOC"})
    order = outcome.order
    assert order.filled == paper.free["BTC"] - 1
    assert order.cost + order.fee == before - paper.free["USDT"]
    assert sum(f.cost for f in outcome.fills) == order.cost
    assert sum(f.fee for f in outcome.fills) == order.fee
