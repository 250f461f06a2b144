"""Send a liquidation through Liquidator.sol and journal it with its on-chain balance changes.

The transaction is signed locally by the Liquidator's owner (core.execute.dex.TxSender: EIP-1559
fees, a nonce manager), never sent through a node-held account. One attempt per call, never a
retry: a pre-flight eth_estimateGas catches a position that already healed (or any other revert)
without spending gas, and its figure is the transaction's gas limit (with a margin) and a gas
measurement; a transaction that lands and reverts anyway is replayed at the block before it to
decode the reason (Aave's numeric codes spelled out). The journal's profit is the owner's
balance change measured from the receipt's Transfer logs, not the forecast.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from eth_utils import keccak, to_checksum_address
from web3 import Web3

from core.amm.routes import ROUTE_V2
from core.chain.aave_artifacts import aave_abi
from core.chain.aave_errors import explain
from core.chain.manifest import AaveDeployment
from core.chain.reverts import RevertDecoder, revert_data
from core.detect.liquidations import LiquidationGas, LiquidationOpportunity, swap_kind
from core.execute.bundles import BundleTerms
from core.execute.dex import GAS_MARGIN, TxResult, TxSender, TxSendError

GAS_HEADROOM = 2
"""Without a pre-flight estimate, gas limit = forecast x this: a limit, not a cost."""
TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()


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
    """liquidated | reverted | refused | unknown (sent, no receipt before the timeout) |
    not_included (a relay bundle no target block took: nothing paid)"""
    reason: str
    tx_hash: str | None
    block: int | None
    gas_used: int | None
    gas_cost_wei: int | None
    forecast_profit_raw: int
    profit_raw: int | None
    """The owner's debt-token balance change in this transaction (to the wei)."""
    balance_changes: dict[str, str] = field(default_factory=dict)
    """Owner's balance change per asset (raw units, as strings) and `ETH` (gas)."""
    realized_pnl_usd: Decimal | None = None
    """Every balance change of the owner (debt-token profit, leftover collateral, gas) valued
    at the oracle prices (USD)."""
    submission: str = "public"
    """"relay" (a private bundle) or "public" (the mempool)."""
    target_blocks: tuple[int, ...] = ()


def liquidator_decoder() -> RevertDecoder:
    return RevertDecoder([aave_abi("Liquidator")])


class LiquidationExecutor:
    """Liquidations signed by `sender` (whose account must own the Liquidator)."""

    def __init__(
        self,
        sender: TxSender,
        aave: AaveDeployment,
        journal: Any | None = None,
        clock: Any = time.time,
        gas: LiquidationGas | None = None,
        usd_per_raw: Callable[[str], Decimal | None] | None = None,
    ) -> None:
        self.sender = sender
        self.aave = aave
        self.owner = to_checksum_address(sender.address)
        self.journal = journal
        self.clock = clock
        self.gas = gas if gas is not None else LiquidationGas()
        self.usd_per_raw = usd_per_raw
        """Aave symbol -> USD per raw unit at the oracle (assets other than the plan's debt,
        e.g. leftover collateral); None: those are valued at nothing, and the record says so."""
        self.liquidator = to_checksum_address(aave.liquidator)
        self.contract = Web3().eth.contract(address=self.liquidator, abi=aave_abi("Liquidator"))
        self.decoder = liquidator_decoder()
        self.symbols = {to_checksum_address(r.asset): s for s, r in aave.reserves.items()}

    @property
    def sent(self) -> int:
        """Transactions sent (tests check there is no retry storm)."""
        return self.sender.sent

    @property
    def owns_liquidator(self) -> bool:
        return self.owner == to_checksum_address(self.aave.liquidator_owner)

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

    def calldata(self, opp: LiquidationOpportunity, min_profit_raw: int) -> bytes:
        encoded = self.contract.encode_abi("liquidate", [self.params(opp, min_profit_raw)])
        return bytes.fromhex(encoded[2:])

    def decode(self, error: Any) -> str:
        return explain(self.decoder.decode(revert_data(error)))

    async def estimate(self, opp: LiquidationOpportunity, min_profit_raw: int) -> int | str:
        """eth_estimateGas of the liquidation from the owner: gas units, or the decoded revert."""
        call = {
            "from": self.owner,
            "to": self.liquidator,
            "data": "0x" + self.calldata(opp, min_profit_raw).hex(),
        }
        answer = await self.sender._rpc("eth_estimateGas", [call])
        if "error" in answer:
            return self.decode(answer["error"])
        return int(answer["result"], 16)

    async def execute(
        self, opp: LiquidationOpportunity, min_profit_raw: int, preflight: bool = True
    ) -> LiquidationRecord:
        """Liquidate once; the journaled record (status liquidated / reverted / refused)."""
        if not self.owns_liquidator:
            return self._journal(
                opp, "refused", f"wallet {self.owner} does not own the Liquidator contract"
            )
        try:
            data = self.calldata(opp, min_profit_raw)
        except LiquidationRefused as exc:
            return self._journal(opp, "refused", str(exc))
        kind = swap_kind(opp.plan.swap)
        if preflight:
            estimate = await self.estimate(opp, min_profit_raw)
            if isinstance(estimate, str):  # any revert: decoded, not sent
                return self._journal(opp, "refused", estimate)
            self.gas.record(kind, estimate, "estimate")
            gas_limit = int(estimate * GAS_MARGIN)
        else:
            gas_limit = opp.plan.gas_units * GAS_HEADROOM
        try:
            # The contract reverts below min_profit_raw (net of gas), so a bundle that
            # simulates is worth sending: the relay terms need only the TTL.
            terms = BundleTerms(opp.expires_at, self.clock)
            result = await self.sender.send(
                self.liquidator, data, gas_limit=gas_limit, bundle=terms
            )
        except TxSendError as exc:  # the node refused it: nothing mined
            return self._journal(opp, "refused", f"transaction not accepted: {exc}")
        common: dict[str, Any] = {
            "tx_hash": result.tx_hash,
            "block": result.block,
            "gas_used": result.gas_used or None,
            "gas_cost_wei": result.gas_cost_wei if result.block is not None else None,
            "submission": result.submission,
            "target_blocks": result.target_blocks,
        }
        if result.outcome_unknown:  # sent, no receipt in time: it may still land
            return self._journal(opp, "unknown", result.reason, **common)
        if result.status == "rejected":  # the relay's simulation said no: nothing sent
            return self._journal(opp, "refused", result.reason, **common)
        if result.status == "not_included":
            return self._journal(opp, "not_included", result.reason, **common)
        changes = self.balance_changes(result)
        common["balance_changes"] = {k: str(v) for k, v in changes.items()}
        if not result.ok:
            return self._journal(opp, "reverted", explain(result.reason), **common)
        self.gas.record(kind, result.gas_used, "receipt")
        profit = changes.get(opp.plan.debt_symbol, 0)
        prices = {opp.plan.debt_symbol: opp.plan.debt_usd_per_raw}
        for symbol in changes:
            if symbol in prices or symbol == "ETH" or self.usd_per_raw is None:
                continue
            price = self.usd_per_raw(symbol)
            if price is not None:
                prices[symbol] = price
        pnl, unpriced = realized_pnl_usd(changes, prices, opp.plan.eth_usd)
        return self._journal(
            opp,
            "liquidated",
            f"no oracle price for {', '.join(unpriced)}: left out of the PnL" if unpriced else "",
            profit_raw=profit,
            realized_pnl_usd=pnl,
            **common,
        )

    def balance_changes(self, result: TxResult) -> dict[str, int]:
        """The owner's balance change in this transaction, per Aave asset symbol (from the
        receipt's ERC-20 Transfer logs) and ETH (the gas paid; the call sends no value)."""
        owner_word = "0x" + "0" * 24 + self.owner[2:].lower()
        out: dict[str, int] = {}
        for log in result.logs:
            topics = [_hex(t) for t in log.get("topics", [])]
            token = to_checksum_address(log["address"])
            symbol = self.symbols.get(token)
            if symbol is None or len(topics) != 3 or topics[0] != TRANSFER_TOPIC:
                continue
            amount = int(_hex(log["data"]), 16)
            if topics[2] == owner_word:
                out[symbol] = out.get(symbol, 0) + amount
            if topics[1] == owner_word:
                out[symbol] = out.get(symbol, 0) - amount
        out["ETH"] = -result.gas_cost_wei
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


def realized_pnl_usd(
    changes: Mapping[str, int], usd_per_raw: Mapping[str, Decimal], eth_usd: Decimal
) -> tuple[Decimal, list[str]]:
    """The owner's balance changes (raw per Aave symbol; `ETH` in wei, the gas) valued in USD:
    the debt-token profit, collateral a price-limited swap left over, less the gas. Also the
    symbols that changed but have no price (left out)."""
    total = Decimal(changes.get("ETH", 0)) / 10**18 * eth_usd
    unpriced: list[str] = []
    for symbol, amount in changes.items():
        if symbol == "ETH" or amount == 0:
            continue
        price = usd_per_raw.get(symbol)
        if price is None:
            unpriced.append(symbol)
        else:
            total += Decimal(amount) * price
    return total, unpriced


def _hex(value: Any) -> str:
    """A log field as lower-case 0x hex (web3 may hand back bytes or HexBytes)."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value).lower()
    return text if text.startswith("0x") else "0x" + text
