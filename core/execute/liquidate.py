"""Send a liquidation through Liquidator.sol and journal it with its on-chain balance changes.

One attempt per call, never a retry: a pre-flight eth_call catches a position that already
healed (or any other revert) without spending gas; a transaction that lands and reverts anyway
is replayed at the block before it to decode the reason (Aave's numeric codes spelled out).
The journal's profit is the owner's measured balance change, not the forecast.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from web3 import Web3

from core.chain.aave_deploy import aave_abi
from core.chain.aave_errors import explain
from core.chain.manifest import AaveDeployment
from core.chain.reverts import RevertDecoder, revert_data
from core.detect.liquidations import LiquidationOpportunity
from core.lending.routes import ROUTE_V2

RECEIPT_TIMEOUT_S = 30.0
GAS_HEADROOM = 2  # gas limit = forecast x 2: a limit, not a cost


class LiquidationRefused(RuntimeError):
    """Not sent: a gate or the pre-flight call said no (reason in the message)."""


@dataclass(frozen=True, slots=True)
class LiquidationRecord:
    """What the journal keeps for one liquidation attempt (opportunities table, data column)."""

    id: str
    symbol: str
    """COLLATERAL/DEBT, e.g. `WETH/USDC`."""
    buy_venue: str
    """`aave-v3` (where the collateral is bought at a discount)."""
    sell_venue: str
    """The pool the collateral is sold on."""
    detected_at: float
    kind: str
    user: str
    status: str
    """liquidated | reverted | refused"""
    reason: str
    tx_hash: str | None
    block: int | None
    gas_used: int | None
    gas_cost_wei: int | None
    forecast_profit_raw: int
    profit_raw: int | None
    """The owner's debt-token balance change, measured on chain (to the wei)."""
    balance_changes: dict[str, str] = field(default_factory=dict)
    """Owner's balance change per asset (raw units, as strings) and `ETH` (gas)."""
    realized_pnl_usd: Decimal | None = None


class LiquidationExecutor:
    def __init__(
        self,
        w3: Web3,
        aave: AaveDeployment,
        journal: Any | None = None,
        clock: Any = time.time,
    ) -> None:
        self.w3 = w3
        self.aave = aave
        self.owner = Web3.to_checksum_address(aave.liquidator_owner)
        self.journal = journal
        self.clock = clock
        self.contract = w3.eth.contract(
            address=Web3.to_checksum_address(aave.liquidator), abi=aave_abi("Liquidator")
        )
        self.decoder = RevertDecoder([aave_abi("Liquidator")])
        self.sent = 0
        """Transactions sent (tests check there is no retry storm)."""

    def params(self, opp: LiquidationOpportunity, min_profit_raw: int) -> tuple[Any, ...]:
        p = opp.plan
        if p.swap is None:
            raise LiquidationRefused("no swap route for the seized collateral")
        pool = p.swap.pool
        return (
            p.collateral_asset,
            p.debt_asset,
            opp.user,
            p.debt_to_cover,
            pool.kind,
            pool.address,
            pool.fee if pool.kind == ROUTE_V2 else 0,
            max(0, min_profit_raw),
        )

    def decode(self, error: Any) -> str:
        return explain(self.decoder.decode(revert_data(error)))

    def execute(
        self, opp: LiquidationOpportunity, min_profit_raw: int, preflight: bool = True
    ) -> LiquidationRecord:
        """Liquidate once; the journaled record (status liquidated / reverted / refused)."""
        try:
            args = self.params(opp, min_profit_raw)
        except LiquidationRefused as exc:
            return self._journal(opp, "refused", str(exc))
        fn = self.contract.functions.liquidate(args)
        tx: Any = {"from": self.owner, "gas": opp.plan.gas_units * GAS_HEADROOM}
        if preflight:
            try:
                fn.call(tx)
            except Exception as exc:  # any revert: decoded, not sent
                return self._journal(opp, "refused", self.decode(exc))
        tokens = (opp.plan.debt_asset, opp.plan.collateral_asset)
        tx_hash = fn.transact(tx)
        self.sent += 1
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S)
        block = int(receipt["blockNumber"])
        changes = self._balance_changes(tokens, block)
        gas_used = int(receipt["gasUsed"])
        gas_cost = gas_used * int(receipt.get("effectiveGasPrice", 0))
        common = {
            "tx_hash": tx_hash.hex(),
            "block": block,
            "gas_used": gas_used,
            "gas_cost_wei": gas_cost,
            "balance_changes": {k: str(v) for k, v in changes.items()},
        }
        if receipt["status"] != 1:
            try:
                fn.call(tx, block_identifier=block - 1)
                reason = "reverted (the replay at the previous block passed)"
            except Exception as exc:
                reason = self.decode(exc)
            return self._journal(opp, "reverted", reason, **common)
        profit = changes[opp.plan.debt_symbol]
        gas_usd = Decimal(gas_cost) / 10**18 * opp.plan.eth_usd
        return self._journal(
            opp,
            "liquidated",
            "",
            profit_raw=profit,
            realized_pnl_usd=Decimal(profit) * opp.plan.debt_usd_per_raw - gas_usd,
            **common,
        )

    def _balance_changes(self, tokens: tuple[str, str], block: int) -> dict[str, int]:
        """The owner's balance change over `block`, per token symbol and ETH."""
        by_asset = {r.asset: s for s, r in self.aave.reserves.items()}
        out: dict[str, int] = {}
        for token in tokens:
            fn = self.w3.eth.contract(
                address=Web3.to_checksum_address(token), abi=aave_abi("AToken")
            )
            after = int(fn.functions.balanceOf(self.owner).call(block_identifier=block))
            before = int(fn.functions.balanceOf(self.owner).call(block_identifier=block - 1))
            out[by_asset.get(token, token)] = after - before
        out["ETH"] = int(self.w3.eth.get_balance(self.owner, block)) - int(
            self.w3.eth.get_balance(self.owner, block - 1)
        )
        return out

    def _journal(
        self, opp: LiquidationOpportunity, status: str, reason: str, **fields: Any
    ) -> LiquidationRecord:
        p = opp.plan
        record = LiquidationRecord(
            id=opp.id,
            symbol=f"{p.collateral_symbol}/{p.debt_symbol}",
            buy_venue="aave-v3",
            sell_venue=p.swap.pool.venue if p.swap else "",
            detected_at=opp.detected_at,
            kind=opp.kind,
            user=opp.user,
            status=status,
            reason=reason,
            tx_hash=fields.pop("tx_hash", None),
            block=fields.pop("block", None),
            gas_used=fields.pop("gas_used", None),
            gas_cost_wei=fields.pop("gas_cost_wei", None),
            forecast_profit_raw=p.profit_raw,
            profit_raw=fields.pop("profit_raw", None),
            **fields,
        )
        if self.journal is not None:
            self.journal.record_opportunity(record, status, reason, at=self.clock())
            self.journal.flush()
        return record
