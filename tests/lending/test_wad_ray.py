"""WadRayMath / PercentageMath / MathUtils: half-up rounding and the Solidity overflow bounds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.lending import wad_ray as m

U256 = st.integers(0, 2**256 - 1)
SMALL = st.integers(0, 2**120)


def test_rounding_half_up() -> None:
    assert m.wad_mul(m.WAD // 2, 1) == 1  # 0.5 rounds up
    assert m.wad_mul(m.WAD // 2 - 1, 1) == 0
    assert m.ray_div(1, 2 * m.RAY) == 1  # 0.5 -> 1
    assert m.ray_div(1, 2 * m.RAY + 2) == 0
    assert m.percent_mul(1, 5_000) == 1 and m.percent_mul(1, 4_999) == 0
    assert m.percent_div(10_450, 10_450) == 10_000
    assert m.ray_to_wad(m.WAD_RAY_RATIO // 2) == 1 and m.ray_to_wad(m.WAD_RAY_RATIO // 2 - 1) == 0


@given(SMALL, SMALL)
def test_mul_matches_exact_rounding(a: int, b: int) -> None:
    assert m.ray_mul(a, b) == (2 * a * b + m.RAY) // (2 * m.RAY)
    assert m.wad_mul(a, b) == (2 * a * b + m.WAD) // (2 * m.WAD)


@given(U256, U256)
def test_overflow_bounds_match_solidity(a: int, b: int) -> None:
    # Solidity reverts exactly when a*b + HALF overflows 256 bits.
    overflows = b != 0 and a > (2**256 - 1 - m.HALF_RAY) // b
    if overflows:
        with pytest.raises(m.MathOverflow):
            m.ray_mul(a, b)
    else:
        assert a * b + m.HALF_RAY <= 2**256 - 1
        m.ray_mul(a, b)


def test_division_by_zero_reverts() -> None:
    for fn in (m.wad_div, m.ray_div, m.percent_div):
        with pytest.raises(m.MathOverflow):
            fn(1, 0)


def test_interest() -> None:
    year = m.SECONDS_PER_YEAR
    assert m.linear_interest(m.RAY // 10, 0, year) == m.RAY + m.RAY // 10
    assert m.compounded_interest(m.RAY // 10, 5, 5) == m.RAY
    # 10% a year compounded per second ~ e^0.1 - 1 = 10.517%; the 3-term series gives 10.5166%
    growth = m.compounded_interest(m.RAY // 10, 0, year)
    assert 1.10516 < growth / m.RAY < 1.10518


def test_interest_before_the_last_update_reverts() -> None:
    # currentTimestamp - lastUpdateTimestamp is a checked uint256 subtraction in MathUtils.
    with pytest.raises(m.MathOverflow):
        m.linear_interest(m.RAY // 10, 100, 99)
    with pytest.raises(m.MathOverflow):
        m.compounded_interest(m.RAY // 10, 100, 99)
    assert m.linear_interest(m.RAY // 10, 100, 100) == m.RAY
