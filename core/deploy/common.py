"""What every deployment step shares: the devnet chain id, DevnetError, the batching Sender."""

from __future__ import annotations

import time
from typing import Any, cast

from eth_abi import encode
from web3 import Web3

from core.chain.addresses import create_address
from core.chain.artifacts import (
    Artifact,
)
from core.chain.rpc import RpcError, batch

CHAIN_ID = 31337
GAS_LIMIT = 8_000_000
RECEIPT_TIMEOUT_S = 30.0


class DevnetError(RuntimeError):
    """anvil failed to start, or deployment failed."""


class Sender:
    """Queues transactions from one account with consecutive nonces, sent as one batch."""

    def __init__(self, w3: Web3, sender: str) -> None:
        self.w3 = w3
        self.sender = sender
        self.nonce = int(w3.eth.get_transaction_count(Web3.to_checksum_address(sender)))
        self.txs: list[tuple[str, dict[str, Any]]] = []

    def deploy(
        self, artifact: Artifact, types: list[str] | None = None, args: list[Any] | None = None
    ) -> str:
        data = artifact.bytecode + (encode(types, args or []) if types else b"")
        address = create_address(self.sender, self.nonce)
        self._queue(f"deploy {artifact.name}", {"data": "0x" + data.hex()})
        return address

    def call(self, label: str, to: str, data: str, value: int = 0) -> None:
        self._queue(label, {"to": to, "data": data, "value": hex(value)})

    def _queue(self, label: str, tx: dict[str, Any]) -> None:
        tx = {"from": self.sender, "nonce": hex(self.nonce), "gas": hex(GAS_LIMIT), **tx}
        self.txs.append((label, tx))
        self.nonce += 1

    def flush(self) -> None:
        """Send everything queued, then check every receipt; raise on any failure."""
        txs, self.txs = self.txs, []
        # Sent one by one: anvil serves a JSON-RPC batch concurrently, and transactions that
        # reach its pool out of nonce order can stall there. Receipts are awaited only once.
        hashes = [send_tx(self.w3, tx) for _, tx in txs]
        failures = [
            f"{label}: {h}"
            for (label, _), h in zip(txs, hashes, strict=True)
            if isinstance(h, RpcError)
        ]
        if failures:
            raise DevnetError("deployment transactions rejected: " + "; ".join(failures[:5]))
        receipts = self._wait_receipts(hashes)
        bad = [
            label
            for (label, _), r in zip(txs, receipts, strict=True)
            if isinstance(r, RpcError) or r is None or int(r["status"], 16) != 1
        ]
        if bad:
            raise DevnetError("deployment transactions reverted: " + "; ".join(bad[:5]))

    def _wait_receipts(self, hashes: list[Any]) -> list[Any]:
        # anvil answers eth_sendTransaction before mining, and automine fills one block per
        # arriving transaction: what did not fit the block gas limit waits for the next block,
        # so mine explicitly until every receipt is there.
        deadline = time.monotonic() + RECEIPT_TIMEOUT_S
        while True:
            receipts = batch(self.w3, [("eth_getTransactionReceipt", [h]) for h in hashes])
            if all(r is not None for r in receipts) or time.monotonic() > deadline:
                return receipts
            batch(self.w3, [("evm_mine", [])])


def send_tx(w3: Web3, tx: dict[str, Any]) -> Any:
    response = cast(Any, w3.provider).make_request("eth_sendTransaction", [tx])
    error = response.get("error")
    return RpcError("eth_sendTransaction", error) if error else response["result"]
