"""Liquidations through the order gate, like trades.

A liquidation attempt holds one permit on the `aave-v3` scope: refused there, nothing is
signed; sent, its outcome counts for the breaker as a trade's does (a revert is a failure on
that scope, the measured PnL goes to today's total); refused further on (nothing sent), the
permit is given back. The sending itself is passed in (the engine's lending service), so this
stays below the engine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

from core.detect.liquidations import LiquidationOpportunity
from core.execute.gate import OrderGate
from core.execute.liquidate import LiquidationRecord
from core.execute.trades import Submission

LIQUIDATION_VENUE = "aave-v3"
"""The breaker scope of liquidations."""

Send = Callable[[LiquidationOpportunity], Awaitable[LiquidationRecord]]


def liquidations_tradeable(gate: OrderGate) -> bool:
    """Read-only: would a liquidation get a permit now? (auto mode stops asking while not)"""
    return gate.tradeable((LIQUIDATION_VENUE,), None)


async def liquidate_gated(
    gate: OrderGate, opportunity: LiquidationOpportunity, send: Send, now: float
) -> Submission:
    """Permit, `send`, then release (nothing sent) or record the outcome.

    The answer is the order path's one result type: `accepted` when a transaction went out,
    `trade_id` the journal's liquidation id, `reason` what became of it.
    """
    decision = gate.admit((LIQUIDATION_VENUE,), None, now)
    if not decision.allowed:
        return Submission(False, f"liquidation refused: {decision.reason}")
    record = None
    try:
        record = await send(opportunity)
    finally:
        if record is None or record.status in ("refused", "not_included"):  # nothing paid
            gate.release(decision)
        else:
            ok = record.status == "liquidated"
            gate.record_trade(
                decision,
                ok,
                record.realized_pnl_usd or Decimal(0),
                failed_venues=() if ok else (LIQUIDATION_VENUE,),
            )
    return Submission(record.status != "refused", describe(record), record.id)


def describe(record: LiquidationRecord) -> str:
    """`liquidation liquidated (WETH/USDC): $12.50 net of gas (journal 7, block 123)`."""
    pnl = record.realized_pnl_usd
    profit = f"${pnl:,.2f} net of gas" if pnl is not None else f"{record.profit_raw} raw"
    detail = record.reason or f"{profit} (journal {record.id}, block {record.block})"
    return f"liquidation {record.status} ({record.symbol}): {detail}"
