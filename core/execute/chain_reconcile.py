"""Restart safety for on-chain legs: what the chain says became of a transaction the journal
last saw in flight (sent publicly, or as a relay bundle for some target blocks).

Only the chain is asked, never a relay: a receipt means it landed (ok or reverted, gas paid);
no receipt once the head is past every target block means the bundle was not included and
cost nothing. A landed transaction's amounts are not re-read from its logs here (they depend on
the route's plan): the leg stays `unknown` with the block named, and its trade goes to
`needs_attention` for a human, as every trade in flight at a stop does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from core.execute.bundles import block_span, chain_head
from core.records import OrderRecord, OrderStatus

Rpc = Callable[[str, list[Any]], Awaitable[dict[str, Any]]]
WAIT_FOR_TARGET_S = 30.0
"""How long a restart waits for a pending bundle's last target block to pass."""


class ChainLookup:
    """`await lookup(record)`: the on-chain leg's state from the chain (journaled by the
    caller, as for the venues' orders)."""

    def __init__(
        self,
        rpc: Rpc,
        *,
        clock: Callable[[], float] = time.time,
        wait_s: float = WAIT_FOR_TARGET_S,
        poll_s: float = 0.25,
    ) -> None:
        self.rpc = rpc
        self.clock = clock
        self.wait_s = wait_s
        self.poll_s = poll_s

    async def __call__(self, record: OrderRecord) -> OrderRecord:
        tx_hash = record.venue_order_id
        now = self.clock()
        if not tx_hash:
            # Journaled before it was signed, or stopped between sending and journaling it.
            return _with(record, OrderStatus.UNKNOWN, "no transaction hash journaled", now)
        try:
            return await self._settle(record, tx_hash)
        except Exception as exc:  # noqa: BLE001 - the RPC is down: still to check
            why = f"reconcile failed: {type(exc).__name__}: {exc}"
            return _with(record, OrderStatus.UNKNOWN, why, now)

    async def _settle(self, record: OrderRecord, tx_hash: str) -> OrderRecord:
        deadline = time.monotonic() + self.wait_s
        last_target = max(record.target_blocks, default=None)
        while True:
            receipt = (await self.rpc("eth_getTransactionReceipt", [tx_hash])).get("result")
            if receipt is not None:
                return self._landed(record, receipt)
            head = await chain_head(self.rpc)
            # The last target block exists and does not hold it: no later block can.
            if record.submission == "relay" and last_target is not None and head >= last_target:
                blocks = block_span(record.target_blocks)
                why = f"bundle not included in block {blocks} (checked at restart); nothing paid"
                return _with(record, OrderStatus.NOT_INCLUDED, why, self.clock())
            if time.monotonic() >= deadline:
                if record.submission == "relay":
                    why = f"bundle for block {last_target} still pending at head {head}"
                else:
                    why = f"sent publicly, no receipt by head {head}: it may still be mined"
                return _with(record, OrderStatus.UNKNOWN, why, self.clock())
            await asyncio.sleep(self.poll_s)

    def _landed(self, record: OrderRecord, receipt: dict[str, Any]) -> OrderRecord:
        block = int(receipt["blockNumber"], 16)
        gas = int(receipt["gasUsed"], 16) * int(receipt.get("effectiveGasPrice", "0x0"), 16)
        landed = replace(record, landed_block=block)
        if int(receipt["status"], 16) != 1:
            why = f"reverted in block {block} (found at restart); gas {gas} wei paid"
            return _with(landed, OrderStatus.REJECTED, why, self.clock())
        why = (
            f"landed in block {block} (found at restart); amounts not re-read: check "
            f"transaction {record.venue_order_id}"
        )
        return _with(landed, OrderStatus.UNKNOWN, why, self.clock())


def _with(record: OrderRecord, status: OrderStatus, why: str, now: float) -> OrderRecord:
    if why in record.error:  # a second restart found the same
        error = record.error
    else:
        error = f"{record.error}; {why}".lstrip("; ")
    return replace(record, status=status, error=error, updated_at=now)
