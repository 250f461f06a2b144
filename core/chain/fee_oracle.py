"""The EIP-1559 fee estimate of the next block, read with eth_feeHistory once per block."""

from __future__ import annotations

from typing import Any

from core.gas import Fees, fees_from_history

FEE_HISTORY_BLOCKS = 5


class FeeOracle:
    """Caches the fee estimate per block: one eth_feeHistory per new block at most."""

    def __init__(self, priority_fee_gwei: float, max_fee_gwei: float) -> None:
        self.priority_fee_gwei = priority_fee_gwei
        self.max_fee_gwei = max_fee_gwei
        self._fees: Fees | None = None
        self._block = -1

    @property
    def fees(self) -> Fees | None:
        """The last estimate (None before the first update)."""
        return self._fees

    async def update(self, w3: Any, block: int) -> Fees:
        if self._fees is None or block != self._block:
            history = await w3.provider.make_request(
                "eth_feeHistory", [hex(FEE_HISTORY_BLOCKS), hex(block), [50]]
            )
            if "error" in history:
                raise RuntimeError(f"eth_feeHistory: {history['error']}")
            self._fees = fees_from_history(
                history["result"], self.priority_fee_gwei, self.max_fee_gwei
            )
            self._block = block
        return self._fees
