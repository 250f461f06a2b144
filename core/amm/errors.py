"""The one exception the AMM math raises: a Solidity `require` that would have reverted."""

from __future__ import annotations

UINT256_MAX = (1 << 256) - 1
UINT160_MAX = (1 << 160) - 1
UINT128_MAX = (1 << 128) - 1
INT256_MAX = (1 << 255) - 1


class AmmRevert(ArithmeticError):
    """The contract would revert here; `reason` is its revert string ('' for a bare require)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"{reason or 'revert'}: {detail}" if detail else (reason or "revert"))
