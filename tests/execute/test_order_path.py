"""The one order path every route kind runs on: one claim per route, the refusals before a
permit, the counters and lists of started, withdrawn, finished and aborted trades, the journal
rows, and an on-chain trader that shares the CEX executor's path (and so its counts, its
reservations and `max_concurrent_trades`)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.detect.opportunity import Opportunity, new_opportunity_id
from core.execute.legs import LegRunner
from core.execute.order_path import IN_FLIGHT, OrderPath, Refused
from core.execute.pnl import account
from core.journal import Journal
from core.records import TradeStatus
from core.risk import CircuitBreaker
from core.settings import RiskSettings, ThresholdSettings

T0 = 1_700_000_000.0


def _opportunity(symbol: str = "BTC/USDT", expires_at: float = T0 + 5) -> Opportunity:
    return Opportunity(
        id=new_opportunity_id(),
        symbol=symbol,
        buy_venue="a",
        sell_venue="b",
        size=0.01,
        buy_vwap=100.0,
        sell_vwap=101.0,
        gross_profit=0.01,
        fees=0.0,
        net_profit=0.01,
        net_bps=100.0,
        net_profit_usd=0.01,
        detected_at=T0,
        expires_at=expires_at,
    )


@pytest.fixture
def path(tmp_path: Path) -> Any:
    journal = Journal(tmp_path / "journal.sqlite3")
    risk = RiskSettings.model_validate({"max_concurrent_trades": 2})
    breaker = CircuitBreaker(risk, ThresholdSettings(), journal=journal, clock=lambda: T0)
    events: list[Any] = []
    yield OrderPath(journal, breaker, risk, LegRunner(journal), events.append, lambda: T0)
    journal.close()


def test_one_trade_per_route_and_each_refusal_says_why(path: OrderPath) -> None:
    opp = _opportunity()
    key = path.claim(opp)
    assert key == ("BTC/USDT", "a", "b")
    assert path.claim(opp) is None  # the route is claimed until the trade ends
    assert path.refuse(opp, IN_FLIGHT).reason == IN_FLIGHT
    path.unclaim(key)
    assert path.claim(opp) == key
    with pytest.raises(Refused, match="ttl"):
        path.check_open(_opportunity(expires_at=T0 - 1))
    path.stop_accepting()
    with pytest.raises(Refused, match="shutting down"):
        path.check_open(opp)
    path.resume_accepting()
    path.gate.breaker.kill("pressed")
    with pytest.raises(Refused, match="kill switch"):
        path.precheck(opp)
    with pytest.raises(Refused, match="kill switch"):
        path.admit(opp)
    stats = path.stats()
    assert (stats.opportunities, stats.refused, stats.executed) == (3, 1, 0)


def test_started_withdrawn_finished_and_aborted_are_counted_once(path: OrderPath) -> None:
    trades = []
    for symbol in ("BTC/USDT", "ETH/USDT"):
        opp = _opportunity(symbol)
        decision = path.admit(opp)
        trades.append((path.start(opp, Decimal("0.01"), Decimal(100), Decimal(101)), decision))
    assert len(path.active) == 2
    with pytest.raises(Refused, match="max_concurrent_trades 2"):
        path.check_open(_opportunity("SOL/USDT"))
    (first, first_permit), (second, second_permit) = trades
    path.ledger.withdraw(first, first_permit, "not sent: kill switch")
    books = account(second.orders.values(), "ETH", "USDT")
    path.ledger.finish(
        second, second_permit, books, Decimal("0.5"), Decimal(0), TradeStatus.COMPLETED, [], ()
    )
    path.abort(second, second_permit, "finished trades are not aborted")  # a no-op
    stats = path.stats()
    assert (stats.executed, stats.successful, stats.failed) == (1, 1, 0)
    assert stats.profit == Decimal("0.5") and path.active == {}
    assert [t.id for t in path.trades()] == [second.id, first.id]
    record = path.journal.trade(second.id)
    assert record is not None and record.status is TradeStatus.COMPLETED
    withdrawn = path.journal.trade(first.id)
    assert withdrawn is not None and withdrawn.status is TradeStatus.FAILED
    assert path.gate.breaker._active == {}  # every permit ended exactly once


def test_an_aborted_trade_needs_attention_and_counts_as_failed(path: OrderPath) -> None:
    opp = _opportunity()
    decision = path.admit(opp)
    trade = path.start(opp, Decimal("0.01"), Decimal(100), Decimal(101))
    path.abort(trade, decision, "stopped mid-trade (CancelledError)")
    assert path.stats().failed == 1 and path.active == {}
    record = path.journal.trade(trade.id)
    assert record is not None and record.status is TradeStatus.NEEDS_ATTENTION
