"""Local Aave v3 account data and health factor, computed exactly as GenericLogic does.

Inputs are what the chain holds: each reserve's indexes, rates and last update time, the
oracle prices, and each user's *scaled* aToken / variable-debt balances and configuration
bitmap. Interest is accrued to a given block timestamp with the same approximations
(linear for supply, three-term binomial for debt), so the result equals
`Pool.getUserAccountData` at that block to the unit, and a what-if ("WETH -3%") is a
recomputation with one price changed, no call.

E-mode is not modelled (the devnet defines no categories): a user in an e-mode category is
computed as if in none. Stable debt is taken as read (its balance at the read block).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.lending.wad_ray import (
    PERCENTAGE_FACTOR,
    WAD,
    compounded_interest,
    linear_interest,
    percent_mul,
    ray_mul,
    wad_div,
)

UINT256_MAX = 2**256 - 1
LIQUIDATION_HF_WAD = WAD  # below 1.0 a position can be liquidated
CLOSE_FACTOR_HF_THRESHOLD_WAD = 95 * WAD // 100
_LTV_BITS = 0xFFFF


@dataclass(frozen=True, slots=True)
class ReserveState:
    """One reserve as `Pool.getReserveData` reports it, plus its symbol."""

    id: int
    """Aave's reserve id: its bit pair in each user's configuration bitmap."""
    symbol: str
    asset: str
    configuration: int
    liquidity_index: int
    current_liquidity_rate: int
    variable_borrow_index: int
    current_variable_borrow_rate: int
    last_update_ts: int
    a_token: str
    stable_debt_token: str
    variable_debt_token: str

    @property
    def ltv_bps(self) -> int:
        return self.configuration & _LTV_BITS

    @property
    def liquidation_threshold_bps(self) -> int:
        return (self.configuration >> 16) & 0xFFFF

    @property
    def liquidation_bonus_bps(self) -> int:
        return (self.configuration >> 32) & 0xFFFF

    @property
    def decimals(self) -> int:
        return (self.configuration >> 48) & 0xFF

    @property
    def liquidation_protocol_fee_bps(self) -> int:
        return (self.configuration >> 152) & 0xFFFF

    def normalized_income(self, now_ts: int) -> int:
        if now_ts == self.last_update_ts:
            return self.liquidity_index
        growth = linear_interest(self.current_liquidity_rate, self.last_update_ts, now_ts)
        return ray_mul(growth, self.liquidity_index)

    def normalized_debt(self, now_ts: int) -> int:
        if now_ts == self.last_update_ts:
            return self.variable_borrow_index
        growth = compounded_interest(self.current_variable_borrow_rate, self.last_update_ts, now_ts)
        return ray_mul(growth, self.variable_borrow_index)


@dataclass(frozen=True, slots=True)
class Market:
    """Reserves (indexed by id) and oracle prices (base currency, 8 decimals) at a timestamp,
    with both indexes accrued to it once, so each position costs only its own arithmetic."""

    reserves: tuple[ReserveState, ...]
    prices: tuple[int, ...]
    timestamp: int
    flash_loan_premium_bps: int | None = None
    """Pool.FLASHLOAN_PREMIUM_TOTAL() as read with the market (None: not read)."""
    income: tuple[int, ...] = field(init=False)
    debt_index: tuple[int, ...] = field(init=False)
    units: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "income", tuple(r.normalized_income(self.timestamp) for r in self.reserves)
        )
        object.__setattr__(
            self, "debt_index", tuple(r.normalized_debt(self.timestamp) for r in self.reserves)
        )
        object.__setattr__(self, "units", tuple(10**r.decimals for r in self.reserves))

    def by_symbol(self, symbol: str) -> ReserveState:
        for r in self.reserves:
            if r.symbol == symbol:
                return r
        raise KeyError(symbol)

    def with_price(self, symbol: str, price: int) -> Market:
        """The same market with one asset's oracle price replaced (a what-if)."""
        i = self.by_symbol(symbol).id
        prices = list(self.prices)
        prices[i] = price
        return Market(self.reserves, tuple(prices), self.timestamp, self.flash_loan_premium_bps)

    def with_timestamp(self, timestamp: int) -> Market:
        return Market(self.reserves, self.prices, timestamp, self.flash_loan_premium_bps)


@dataclass(frozen=True, slots=True)
class PositionBalances:
    """A user's raw holdings, by reserve id, as read at one block."""

    user: str
    config: int
    """UserConfiguration bitmap: bit 2*id borrowing, bit 2*id+1 using as collateral."""
    scaled_collateral: tuple[int, ...]
    scaled_variable_debt: tuple[int, ...]
    stable_debt: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class AccountData:
    """What `getUserAccountData` returns, less availableBorrows; amounts in base currency."""

    total_collateral_base: int
    total_debt_base: int
    ltv_bps: int
    liquidation_threshold_bps: int
    health_factor_wad: int
    collateral_base: tuple[int, ...]
    """Per reserve id: collateral counted (0 where not enabled as collateral)."""
    debt_base: tuple[int, ...]
    debt_amount: tuple[int, ...]
    """Per reserve id: current debt in raw token units (variable accrued + stable)."""
    collateral_amount: tuple[int, ...]
    """Per reserve id: current aToken balance in raw token units (collateral or not)."""

    @property
    def liquidatable(self) -> bool:
        return self.health_factor_wad < LIQUIDATION_HF_WAD


def account_data(position: PositionBalances, market: Market) -> AccountData:
    """GenericLogic.calculateUserAccountData, term by term, same rounding."""
    n = len(market.reserves)
    config = position.config
    total_collateral = total_debt = avg_ltv = avg_lt = 0
    coll_base = [0] * n
    debt_base = [0] * n
    debt_amount = [0] * n
    coll_amount = [0] * n
    for i in range(n):
        if not (config >> (2 * i)) & 3:
            continue
        reserve = market.reserves[i]
        price = market.prices[i]
        unit = market.units[i]
        cfg = reserve.configuration
        lt = (cfg >> 16) & 0xFFFF
        scaled = position.scaled_collateral[i]
        balance = ray_mul(scaled, market.income[i]) if scaled else 0
        coll_amount[i] = balance
        if lt != 0 and (config >> (2 * i + 1)) & 1:
            value = balance * price // unit
            coll_base[i] = value
            total_collateral += value
            avg_ltv += value * (cfg & _LTV_BITS)
            avg_lt += value * lt
        if (config >> (2 * i)) & 1:
            scaled_debt = position.scaled_variable_debt[i]
            debt = ray_mul(scaled_debt, market.debt_index[i]) if scaled_debt else 0
            debt += position.stable_debt[i]
            debt_amount[i] = debt
            value = price * debt // unit
            debt_base[i] = value
            total_debt += value
    if total_collateral:
        avg_ltv //= total_collateral
        avg_lt //= total_collateral
    hf = (
        UINT256_MAX
        if total_debt == 0
        else wad_div(percent_mul(total_collateral, avg_lt), total_debt)
    )
    return AccountData(
        total_collateral,
        total_debt,
        avg_ltv,
        avg_lt,
        hf,
        tuple(coll_base),
        tuple(debt_base),
        tuple(debt_amount),
        tuple(coll_amount),
    )


def health_factor(position: PositionBalances, market: Market) -> int:
    """The health factor in wad (2**256-1 when there is no debt)."""
    return account_data(position, market).health_factor_wad


def liquidation_move(data: AccountData, market: Market) -> tuple[str, float] | None:
    """The smallest single-asset price move that brings HF to 1: (symbol, fractional move),
    e.g. ("WETH", -0.123) = WETH down 12.3%. None if no debt, or no single price can do it.

    Linear in one price: HF(f) = (C_o + f*C_a) / (D_o + f*D_a) with C lt-weighted; solved in
    floats, which is fine for display (the exact check is `account_data` on a moved market).
    """
    if data.total_debt_base == 0:
        return None
    weighted = [
        c * r.liquidation_threshold_bps / PERCENTAGE_FACTOR
        for c, r in zip(data.collateral_base, market.reserves, strict=True)
    ]
    total_c = sum(weighted)
    total_d = float(data.total_debt_base)
    best: tuple[str, float] | None = None
    for i, r in enumerate(market.reserves):
        c_a, d_a = weighted[i], float(data.debt_base[i])
        if c_a == d_a:
            continue
        f = (total_d - d_a - (total_c - c_a)) / (c_a - d_a)
        if f <= 0:
            continue
        move = f - 1.0
        if best is None or abs(move) < abs(best[1]):
            best = (r.symbol, move)
    return best
