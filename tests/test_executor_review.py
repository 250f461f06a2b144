"""Regression tests for the execution review (issue 7): one test per finding, on scripted venues.

Each scripted venue answers from a list of canned replies, so the exact failure the reviewer
described (a -1006 on placement, a cancel answer without `filled`, ...) is reproduced without
a network.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import pytest

from core.execute.legs import LegRunner, apply_order
from core.journal import Journal, OrderRecord, OrderStatus

pytestmark = pytest.mark.timeout(20)

SYMBOL = "BTC/USDT"


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


def _runner(tmp_path: Path) -> tuple[LegRunner, OrderRecord]:
    journal = Journal(tmp_path / "j.db")
    runner = LegRunner(journal, poll_interval_s=0.01, unknown_grace_s=0.2)
    record = runner.new_order(
        client_order_id="arb-t1-b",
        trade_id="t1",
        role="buy",
        venue="scripted",
        symbol=SYMBOL,
        side="buy",
        type="limit",
        amount="1",
        price="100",
    )
    return runner, record


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
