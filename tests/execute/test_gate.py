"""The order gate and the liquidation permit: what each path's outcome does to the breaker."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

import pytest

from core.detect.liquidations import LiquidationOpportunity
from core.execute.gate import OrderGate
from core.execute.liquidate import LiquidationRecord
from core.execute.liquidation_gate import (
    LIQUIDATION_VENUE,
    liquidate_gated,
    liquidations_tradeable,
)
from core.risk import BreakerState, CircuitBreaker
from core.settings import RiskSettings, ThresholdSettings

T0 = 1_700_000_000.0
OPPORTUNITY = cast(LiquidationOpportunity, object())  # only handed on to the fake send


def _breaker(**risk: float) -> CircuitBreaker:
    settings = RiskSettings.model_validate({"max_consecutive_failures": 1, **risk})
    return CircuitBreaker(settings, ThresholdSettings(max_slippage_bps=20.0), clock=lambda: T0)


def _record(status: str, pnl: str | None = None) -> LiquidationRecord:
    return LiquidationRecord(
        id="l1",
        symbol="WETH/USDC",
        buy_venue=LIQUIDATION_VENUE,
        sell_venue="sushi",
        detected_at=T0,
        kind="liquidation",
        user="0xabc",
        status=status,
        reason="",
        tx_hash=None,
        block=None,
        gas_used=None,
        gas_cost_wei=None,
        forecast_profit_raw=0,
        profit_raw=None,
        realized_pnl_usd=None if pnl is None else Decimal(pnl),
    )


def _send(record: LiquidationRecord) -> Any:
    async def send(_opportunity: LiquidationOpportunity) -> LiquidationRecord:
        return record

    return send


def test_preview_takes_no_permit_and_says_why() -> None:
    breaker = _breaker()
    gate = OrderGate(breaker)
    assert gate.tradeable(("a", "b"), "ETH/USDT") and gate.refusal(("a", "b")) == ""
    assert breaker._active == {}
    breaker.kill("pressed")
    assert not gate.tradeable(("a",)) and "kill switch" in gate.refusal(("a",))


def test_permit_is_given_back_or_recorded() -> None:
    breaker = _breaker()
    gate = OrderGate(breaker)
    permit = gate.admit(("a", "b"), "ETH/USDT", T0)
    assert permit.allowed and breaker._active == {"a": 1, "b": 1}
    assert gate.send_refusal(permit) == ""
    gate.release(permit)
    assert breaker._active == {}
    permit = gate.admit(("a", "b"), "ETH/USDT", T0)
    gate.record_trade(permit, False, Decimal("-1"), ("b",), T0)
    assert breaker._active == {} and breaker.state("b") is BreakerState.OPEN
    assert breaker.daily_pnl_usd == Decimal("-1")


async def test_a_liquidation_refused_by_the_gate_sends_nothing() -> None:
    breaker = _breaker()
    breaker.kill("pressed")
    sent: list[object] = []

    async def send(opportunity: LiquidationOpportunity) -> LiquidationRecord:
        sent.append(opportunity)
        return _record("liquidated")

    gate = OrderGate(breaker)
    assert not liquidations_tradeable(gate)
    answer = await liquidate_gated(gate, OPPORTUNITY, send, T0)
    assert not answer.accepted and "kill switch" in answer.reason and sent == []


async def test_a_liquidation_refused_further_on_gives_the_permit_back() -> None:
    breaker = _breaker()
    answer = await liquidate_gated(OrderGate(breaker), OPPORTUNITY, _send(_record("refused")), T0)
    assert not answer.accepted and answer.reason.startswith("liquidation refused (")
    assert breaker._active == {} and breaker.state(LIQUIDATION_VENUE) is BreakerState.CLOSED


async def test_a_liquidation_that_raises_gives_the_permit_back() -> None:
    breaker = _breaker()

    async def broken(_opportunity: LiquidationOpportunity) -> LiquidationRecord:
        raise RuntimeError("rpc down")

    with pytest.raises(RuntimeError, match="rpc down"):
        await liquidate_gated(OrderGate(breaker), OPPORTUNITY, broken, T0)
    assert breaker._active == {}


async def test_a_liquidation_outcome_counts_like_a_trade() -> None:
    breaker = _breaker()
    gate = OrderGate(breaker)
    await liquidate_gated(gate, OPPORTUNITY, _send(_record("liquidated", "12.5")), T0)
    assert breaker.daily_pnl_usd == Decimal("12.5") and liquidations_tradeable(gate)
    await liquidate_gated(gate, OPPORTUNITY, _send(_record("reverted")), T0)
    assert breaker._active == {} and breaker.state(LIQUIDATION_VENUE) is BreakerState.OPEN
    assert not liquidations_tradeable(gate)
