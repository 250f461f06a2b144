"""Aave v3 WadRayMath, PercentageMath and MathUtils, rounding exactly as the Solidity does
(half-up), with the same overflow reverts, so local figures equal the contracts' to the unit."""

from __future__ import annotations

UINT256_MAX = 2**256 - 1
WAD = 10**18
HALF_WAD = WAD // 2
RAY = 10**27
HALF_RAY = RAY // 2
WAD_RAY_RATIO = 10**9
PERCENTAGE_FACTOR = 10**4
HALF_PERCENTAGE_FACTOR = PERCENTAGE_FACTOR // 2
SECONDS_PER_YEAR = 365 * 24 * 3600


class MathOverflow(ArithmeticError):
    """The Solidity version would revert (overflow or division by zero)."""


def wad_mul(a: int, b: int) -> int:
    if b != 0 and a > (UINT256_MAX - HALF_WAD) // b:
        raise MathOverflow("wadMul")
    return (a * b + HALF_WAD) // WAD


def wad_div(a: int, b: int) -> int:
    if b == 0 or a > (UINT256_MAX - b // 2) // WAD:
        raise MathOverflow("wadDiv")
    return (a * WAD + b // 2) // b


def ray_mul(a: int, b: int) -> int:
    if b != 0 and a > (UINT256_MAX - HALF_RAY) // b:
        raise MathOverflow("rayMul")
    return (a * b + HALF_RAY) // RAY


def ray_div(a: int, b: int) -> int:
    if b == 0 or a > (UINT256_MAX - b // 2) // RAY:
        raise MathOverflow("rayDiv")
    return (a * RAY + b // 2) // b


def ray_to_wad(a: int) -> int:
    b, remainder = divmod(a, WAD_RAY_RATIO)
    return b + 1 if remainder >= WAD_RAY_RATIO // 2 else b


def wad_to_ray(a: int) -> int:
    b = a * WAD_RAY_RATIO
    if b > UINT256_MAX:
        raise MathOverflow("wadToRay")
    return b


def percent_mul(value: int, percentage: int) -> int:
    if percentage != 0 and value > (UINT256_MAX - HALF_PERCENTAGE_FACTOR) // percentage:
        raise MathOverflow("percentMul")
    return (value * percentage + HALF_PERCENTAGE_FACTOR) // PERCENTAGE_FACTOR


def percent_div(value: int, percentage: int) -> int:
    if percentage == 0 or value > (UINT256_MAX - percentage // 2) // PERCENTAGE_FACTOR:
        raise MathOverflow("percentDiv")
    return (value * PERCENTAGE_FACTOR + percentage // 2) // percentage


def _elapsed(last_update_ts: int, now_ts: int) -> int:
    """currentTimestamp - lastUpdateTimestamp, which reverts (checked uint256) if negative."""
    if now_ts < last_update_ts:
        raise MathOverflow(f"timestamp {now_ts} is before the last update {last_update_ts}")
    return now_ts - last_update_ts


def linear_interest(rate_ray: int, last_update_ts: int, now_ts: int) -> int:
    """MathUtils.calculateLinearInterest: the liquidity index growth factor, in ray."""
    return RAY + rate_ray * _elapsed(last_update_ts, now_ts) // SECONDS_PER_YEAR


def compounded_interest(rate_ray: int, last_update_ts: int, now_ts: int) -> int:
    """MathUtils.calculateCompoundedInterest: the three-term binomial approximation, in ray."""
    exp = _elapsed(last_update_ts, now_ts)
    if exp == 0:
        return RAY
    exp_minus_one = exp - 1
    exp_minus_two = exp - 2 if exp > 2 else 0
    base_power_two = ray_mul(rate_ray, rate_ray) // (SECONDS_PER_YEAR * SECONDS_PER_YEAR)
    base_power_three = ray_mul(base_power_two, rate_ray) // SECONDS_PER_YEAR
    second_term = exp * exp_minus_one * base_power_two // 2
    third_term = exp * exp_minus_one * exp_minus_two * base_power_three // 6
    return RAY + rate_ray * exp // SECONDS_PER_YEAR + second_term + third_term
