"""FullMath: 512-bit mulDiv of Uniswap V3 (libraries/FullMath.sol), on Python's big ints."""

from __future__ import annotations

from core.amm.errors import UINT256_MAX, AmmRevert


def mul_div(a: int, b: int, denominator: int) -> int:
    """floor(a * b / denominator); reverts on a zero denominator or a result over 256 bits."""
    if denominator == 0:
        raise AmmRevert("", "mulDiv by zero")
    result = a * b // denominator
    if result > UINT256_MAX:
        raise AmmRevert("", "mulDiv overflow")
    return result


def mul_div_rounding_up(a: int, b: int, denominator: int) -> int:
    """ceil(a * b / denominator) with FullMath's overflow checks."""
    if denominator == 0:
        raise AmmRevert("", "mulDiv by zero")
    result, rem = divmod(a * b, denominator)
    if result > UINT256_MAX or (rem and result == UINT256_MAX):
        raise AmmRevert("", "mulDiv overflow")
    return result + 1 if rem else result
