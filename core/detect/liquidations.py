"""The best liquidation of one Aave v3 position right now, and what it would earn.

Amounts follow LiquidationLogic exactly: the close factor (50%, or 100% below HF 0.95) caps
the debt covered; the collateral seized is debt x price ratio x bonus, capped by the user's
balance (then the debt is scaled back), minus the protocol's share of the bonus. The seized
collateral is swapped back to the debt asset on the best devnet pool (exact V2 / V3 math);
the flash loan costs its premium; gas is priced at the expected fee and the WETH oracle price.
Net profit = swap output - debt repaid - premium (debt-asset units) - gas (in USD).
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.amm.routes import ROUTE_V2, RouteBook, SwapQuote
from core.lending.health_factor import (
    CLOSE_FACTOR_HF_THRESHOLD_WAD,
    AccountData,
    Market,
    PositionBalances,
)
from core.lending.wad_ray import percent_div, percent_mul
from core.serialize import iso_utc

DEFAULT_CLOSE_FACTOR_BPS = 5_000
MAX_CLOSE_FACTOR_BPS = 10_000
# Fallback gas of Liquidator.liquidate, used only until a figure is measured (LiquidationGas):
# devnet receipts were ~400k with a V2 swap and ~450k with a V3 swap; rounded up so an
# unmeasured forecast errs on the side of less profit.
GAS_LIQUIDATION_V2 = 430_000
"""Liquidator.liquidate with a V2 swap (fallback)."""
GAS_LIQUIDATION_V3 = 480_000
"""With a V3 swap, one to a few ticks crossed (fallback)."""
# Smaller sizes can beat the full close factor when the swap's price impact is large.
SIZE_FRACTIONS = ((1, 1), (3, 4), (1, 2), (1, 4))

_RUN_PREFIX = secrets.token_hex(3)
_SOURCE_RANK = {"fallback": 0, "estimate": 1, "receipt": 2}


class LiquidationGas:
    """Gas of one Liquidator.liquidate per swap kind ('v2' / 'v3'): the fallback constants
    above until measured. An eth_estimateGas of a real liquidation call (an upper bound: it
    includes gas that refunds give back) replaces a fallback; a mined liquidation's receipt
    gasUsed replaces anything."""

    def __init__(self) -> None:
        self.units: dict[str, int] = {"v2": GAS_LIQUIDATION_V2, "v3": GAS_LIQUIDATION_V3}
        self.source: dict[str, str] = dict.fromkeys(self.units, "fallback")

    def record(self, kind: str, gas_units: int, source: str) -> bool:
        """Keep the figure unless a better source already measured this kind; True if kept."""
        if gas_units <= 0 or _SOURCE_RANK[source] < _SOURCE_RANK[self.source[kind]]:
            return False
        self.units[kind] = gas_units
        self.source[kind] = source
        return True

    def for_swap(self, swap: SwapQuote | None) -> int:
        return self.units[swap_kind(swap)]


def swap_kind(swap: SwapQuote | None) -> str:
    return "v2" if swap is None or swap.pool.kind == ROUTE_V2 else "v3"


_FALLBACK_GAS = LiquidationGas()
_counter = itertools.count(1)


@dataclass(frozen=True, slots=True)
class LiquidationPlan:
    """Exact amounts (raw token units) for one liquidationCall and its swap."""

    collateral_symbol: str
    debt_symbol: str
    collateral_asset: str
    debt_asset: str
    debt_to_cover: int
    """What we flash-borrow and pass to liquidationCall."""
    debt_repaid: int
    collateral_received: int
    """Collateral the liquidator gets (after the protocol's share of the bonus)."""
    protocol_fee: int
    premium: int
    swap: SwapQuote | None
    """None: no pool joins the two assets (shown, never executed)."""
    gas_units: int
    gas_cost_usd: Decimal
    profit_raw: int
    """swap output - debt repaid - premium, in debt-asset units (the contract's `profit`)."""
    net_profit_usd: Decimal
    """profit_raw at the oracle price, minus gas; without a route: bonus value minus costs."""
    debt_usd_per_raw: Decimal
    """Oracle USD value of one raw unit of the debt asset (for realized PnL)."""
    eth_usd: Decimal

    @property
    def has_route(self) -> bool:
        return self.swap is not None


@dataclass(frozen=True, slots=True)
class LiquidationOpportunity:
    """A liquidatable position's best liquidation, as the engine's board and `scan` see it."""

    id: str
    user: str
    plan: LiquidationPlan
    health_factor: float
    detected_at: float
    expires_at: float
    block: int
    kind: str = "liquidation"

    @property
    def net_profit_usd(self) -> float:
        return float(self.plan.net_profit_usd)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.user, self.plan.collateral_symbol, self.plan.debt_symbol)

    def to_json_dict(self) -> dict[str, Any]:
        p = self.plan
        return {
            "kind": self.kind,
            "id": self.id,
            "user": self.user,
            "collateral": p.collateral_symbol,
            "debt": p.debt_symbol,
            "health_factor": self.health_factor,
            "debt_to_cover": str(p.debt_to_cover),
            "debt_repaid": str(p.debt_repaid),
            "collateral_received": str(p.collateral_received),
            "flash_premium": str(p.premium),
            "swap_venue": p.swap.pool.venue if p.swap else None,
            "swap_out": str(p.swap.amount_out) if p.swap else None,
            "gas_units": p.gas_units,
            "gas_cost_usd": float(p.gas_cost_usd),
            "profit_raw": str(p.profit_raw),
            "net_profit_usd": float(p.net_profit_usd),
            "block": self.block,
            "detected_at": iso_utc(self.detected_at),
            "expires_at": iso_utc(self.expires_at),
        }


def new_liquidation_id() -> str:
    return f"liq-{_RUN_PREFIX}-{next(_counter):x}"


def close_factor_bps(health_factor_wad: int) -> int:
    if health_factor_wad > CLOSE_FACTOR_HF_THRESHOLD_WAD:
        return DEFAULT_CLOSE_FACTOR_BPS
    return MAX_CLOSE_FACTOR_BPS


def collateral_to_liquidate(
    market: Market, coll_id: int, debt_id: int, debt_to_cover: int, user_collateral: int
) -> tuple[int, int, int]:
    """LiquidationLogic._calculateAvailableCollateralToLiquidate:
    (collateral to the liquidator, debt needed, protocol fee)."""
    coll = market.reserves[coll_id]
    coll_price, debt_price = market.prices[coll_id], market.prices[debt_id]
    coll_unit, debt_unit = market.units[coll_id], market.units[debt_id]
    bonus = coll.liquidation_bonus_bps
    base = debt_price * debt_to_cover * coll_unit // (coll_price * debt_unit)
    max_collateral = percent_mul(base, bonus)
    if max_collateral > user_collateral:
        amount = user_collateral
        needed = percent_div(coll_price * amount * debt_unit // (debt_price * coll_unit), bonus)
    else:
        amount, needed = max_collateral, debt_to_cover
    fee_pct = coll.liquidation_protocol_fee_bps
    if fee_pct:
        bonus_collateral = amount - percent_div(amount, bonus)
        fee = percent_mul(bonus_collateral, fee_pct)
        return amount - fee, needed, fee
    return amount, needed, 0


def plan(
    market: Market,
    position: PositionBalances,
    data: AccountData,
    coll_id: int,
    debt_id: int,
    debt_to_cover: int,
    routes: RouteBook,
    flash_premium_bps: int,
    gas_price_wei: int,
    gas: LiquidationGas = _FALLBACK_GAS,
) -> LiquidationPlan:
    coll, debt = market.reserves[coll_id], market.reserves[debt_id]
    received, needed, fee = collateral_to_liquidate(
        market, coll_id, debt_id, debt_to_cover, data.collateral_amount[coll_id]
    )
    premium = percent_mul(debt_to_cover, flash_premium_bps)
    swap = routes.best(coll.asset, debt.asset, received) if received > 0 else None
    gas_units = gas.for_swap(swap)
    weth = next((i for i, r in enumerate(market.reserves) if r.symbol == "WETH"), None)
    eth_usd = Decimal(market.prices[weth]) / 10**8 if weth is not None else Decimal(0)
    gas_usd = Decimal(gas_units * gas_price_wei) / 10**18 * eth_usd
    debt_usd = Decimal(market.prices[debt_id]) / 10**8 / market.units[debt_id]
    if swap is not None:
        profit_raw = swap.amount_out - needed - premium
    else:
        # No route: valued at the oracle, for display only.
        value = received * market.prices[coll_id] * market.units[debt_id]
        profit_raw = value // (market.prices[debt_id] * market.units[coll_id]) - needed - premium
    return LiquidationPlan(
        collateral_symbol=coll.symbol,
        debt_symbol=debt.symbol,
        collateral_asset=coll.asset,
        debt_asset=debt.asset,
        debt_to_cover=debt_to_cover,
        debt_repaid=needed,
        collateral_received=received,
        protocol_fee=fee,
        premium=premium,
        swap=swap,
        gas_units=gas_units,
        gas_cost_usd=gas_usd,
        profit_raw=profit_raw,
        net_profit_usd=Decimal(profit_raw) * debt_usd - gas_usd,
        debt_usd_per_raw=debt_usd,
        eth_usd=eth_usd,
    )


def best_liquidation(
    market: Market,
    position: PositionBalances,
    data: AccountData,
    routes: RouteBook,
    flash_premium_bps: int,
    gas_price_wei: int,
    require_liquidatable: bool = True,
    gas: LiquidationGas = _FALLBACK_GAS,
) -> LiquidationPlan | None:
    """The most profitable (collateral, debt, size) for this position, executable routes
    first; None if nothing could be liquidated (healthy, or no collateral / debt)."""
    if require_liquidatable and not data.liquidatable:
        return None
    cf = close_factor_bps(data.health_factor_wad)
    n = len(market.reserves)
    best: LiquidationPlan | None = None
    for coll_id, debt_id in itertools.product(range(n), range(n)):
        if coll_id == debt_id or data.collateral_base[coll_id] == 0:
            continue
        total_debt = data.debt_amount[debt_id]
        if total_debt == 0:
            continue
        max_debt = percent_mul(total_debt, cf)
        sizes = {max_debt * a // b for a, b in SIZE_FRACTIONS}
        for size in sorted(sizes, reverse=True):
            if size <= 0:
                continue
            candidate = plan(
                market,
                position,
                data,
                coll_id,
                debt_id,
                size,
                routes,
                flash_premium_bps,
                gas_price_wei,
                gas,
            )
            if candidate.debt_repaid < size:
                # Collateral-limited: borrow only what the pool will use (same seizure).
                candidate = plan(
                    market,
                    position,
                    data,
                    coll_id,
                    debt_id,
                    candidate.debt_repaid,
                    routes,
                    flash_premium_bps,
                    gas_price_wei,
                    gas,
                )
            if best is None or _better(candidate, best):
                best = candidate
    return best


def _better(a: LiquidationPlan, b: LiquidationPlan) -> bool:
    if a.has_route != b.has_route:
        return a.has_route
    return a.net_profit_usd > b.net_profit_usd
