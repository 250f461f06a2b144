"""TxSender against a scripted node (no devnet): the send gate (kill switch re-checked right
before signing) and a send whose answer is lost in transport (issue 7, findings 3 and 7)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from core.chain.fee_oracle import FeeOracle
from core.chain.reverts import RevertDecoder
from core.execute.dex import TxSender

pytestmark = pytest.mark.timeout(20)

KEY = "0x" + "11" * 32
TO = "0x" + "22" * 20
RECEIPT = {"blockNumber": "0x5", "gasUsed": "0x5208", "status": "0x1", "logs": []}


class ScriptedNode:
    """eth_* answers; `send` decides what eth_sendRawTransaction does with a raw tx."""

    def __init__(self, send: Callable[[str], dict[str, Any]]) -> None:
        self.send = send
        self.pending = 7  # the account's pending transaction count
        self.raw_sent: list[str] = []
        self.mined: set[str] = set()
        self.receipt_errors = 0

    async def make_request(self, method: str, params: list[Any]) -> dict[str, Any]:
        if method == "eth_estimateGas":
            return {"result": "0x5208"}
        if method == "eth_feeHistory":
            return {"result": {"baseFeePerGas": ["0x1"], "reward": [["0x1"]]}}
        if method == "eth_sendRawTransaction":
            self.raw_sent.append(params[0])
            return self.send(params[0])
        if method == "eth_getTransactionReceipt":
            if self.receipt_errors:
                self.receipt_errors -= 1
                raise OSError("connection reset")
            return {"result": RECEIPT if params[0] in self.mined else None}
        raise AssertionError(method)


class FakeEth:
    def __init__(self, node: ScriptedNode) -> None:
        self.node = node

    @property
    async def block_number(self) -> int:
        return 5

    async def get_block(self, tag: str) -> dict[str, int]:
        return {"number": 5, "timestamp": 1_700_000_000}

    async def get_transaction_count(self, address: str, block: str) -> int:
        return self.node.pending


class FakeW3:
    def __init__(self, node: ScriptedNode) -> None:
        self.provider = node
        self.eth = FakeEth(node)


def sender(node: ScriptedNode, timeout_s: float = 0.3) -> TxSender:
    return TxSender(
        FakeW3(node),
        KEY,
        1337,
        FeeOracle(0.01, 200),
        RevertDecoder(),
        receipt_timeout_s=timeout_s,
    )


async def test_a_gate_refusal_sends_nothing_and_keeps_the_nonce() -> None:
    node = ScriptedNode(lambda raw: {"result": "0x" + "00" * 32})
    tx = sender(node)
    result = await tx.send(TO, b"", gate=lambda: "kill switch on: pressed")
    assert result.status == "rejected" and result.tx_hash is None
    assert "not sent: kill switch" in result.reason
    assert node.raw_sent == []
    assert tx.nonces.peek(tx.address) == 7  # not consumed


async def test_a_lost_send_answer_is_outcome_unknown_with_the_signed_hash() -> None:
    def lost(raw: str) -> dict[str, Any]:
        raise OSError("connection reset by peer")

    node = ScriptedNode(lost)
    tx = sender(node)
    result = await tx.send(TO, b"")
    assert result.outcome_unknown
    assert result.tx_hash is not None and result.tx_hash.startswith("0x")
    assert len(result.tx_hash) == 66
    assert "send outcome unknown" in result.reason
    # The node never got it: the nonce is read again (7), not skipped (8).
    await asyncio.sleep(0.05)
    assert tx.nonces.peek(tx.address) == 7


async def test_a_lost_send_answer_that_was_mined_is_found_by_its_hash() -> None:
    node = ScriptedNode(lambda raw: {})
    tx = sender(node, timeout_s=2.0)

    def mined_but_lost(raw: str) -> dict[str, Any]:
        from eth_utils import keccak

        node.mined.add("0x" + keccak(hexstr=raw).hex().removeprefix("0x"))
        node.pending += 1
        raise OSError("connection reset by peer")

    node.send = mined_but_lost
    node.receipt_errors = 2  # the receipt lookups hiccup too: asked again, not raised
    result = await tx.send(TO, b"")
    assert result.ok and result.block == 5
    assert tx.nonces.peek(tx.address) == 8


async def test_already_known_counts_as_sent() -> None:
    node = ScriptedNode(lambda raw: {"error": {"code": -32000, "message": "already known"}})

    def known(raw: str) -> dict[str, Any]:
        from eth_utils import keccak

        node.mined.add("0x" + keccak(hexstr=raw).hex().removeprefix("0x"))
        return {"error": {"code": -32000, "message": "already known"}}

    node.send = known
    tx = sender(node)
    result = await tx.send(TO, b"")
    assert result.ok
    assert tx.nonces.peek(tx.address) == 8


async def test_underpriced_resyncs_the_nonce() -> None:
    def underpriced(raw: str) -> dict[str, Any]:
        node.pending = 9  # another sender used 7 and 8
        return {"error": {"code": -32000, "message": "replacement transaction underpriced"}}

    node = ScriptedNode(underpriced)
    tx = sender(node)
    with pytest.raises(RuntimeError, match="underpriced"):
        await tx.send(TO, b"")
    await asyncio.sleep(0.05)
    assert tx.nonces.peek(tx.address) == 9
