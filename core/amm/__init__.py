"""Exact integer Uniswap V2 / V3 math, bit-for-bit equal to the deployed contracts.

Every function takes and returns Python ints in raw token units (or Q64.96 prices) and fails
where the Solidity reverts, with `AmmRevert` carrying the contract's revert reason.
"""

from core.amm.errors import AmmRevert

__all__ = ["AmmRevert"]
