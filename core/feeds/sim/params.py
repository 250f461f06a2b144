"""Static parameters of the simulated market: assets, symbols and venue profiles.

Figures are chosen to look like a large spot venue in 2025 (prices, tick and lot sizes,
touch depth); they only need to be plausible, not exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

SECONDS_PER_YEAR = 365.0 * 86_400.0


@dataclass(frozen=True, slots=True)
class AssetSpec:
    """One asset's fair-price process, in USD."""

    price_usd: float
    """Starting fair price in USD."""
    vol_annual: float
    """Annualised volatility of log returns (0 for a stablecoin)."""


ASSETS: dict[str, AssetSpec] = {
    "USDT": AssetSpec(1.0, 0.0),
    "USDC": AssetSpec(1.0, 0.0),
    "USD": AssetSpec(1.0, 0.0),
    "BTC": AssetSpec(95_000.0, 0.55),
    "ETH": AssetSpec(3_400.0, 0.70),
    "SOL": AssetSpec(180.0, 0.95),
    "XRP": AssetSpec(2.3, 1.00),
    "LINK": AssetSpec(22.0, 0.90),
    "BNB": AssetSpec(650.0, 0.60),
    "DOGE": AssetSpec(0.32, 1.10),
    "ADA": AssetSpec(0.9, 1.00),
    "AVAX": AssetSpec(38.0, 1.00),
}

MARKET_CORRELATION = 0.7
"""Share of each asset's variance explained by one common crypto factor."""


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """Exchange rules and liquidity of one symbol (the same on every sim venue)."""

    tick: float
    """Price tick size, in quote units."""
    lot: float
    """Amount step, in base units (also the minimum amount)."""
    min_cost: float
    """Minimum order notional, in quote units."""
    half_spread_bps: float
    """Typical half spread on the deepest venue, in basis points of mid."""
    top_usd: float
    """Typical notional of the best level on the deepest venue, in USD."""
    level_gap_bps: float
    """Typical distance between consecutive levels, in basis points."""


SYMBOLS: dict[str, SymbolSpec] = {
    "BTC/USDT": SymbolSpec(0.01, 0.00001, 5.0, 0.3, 40_000.0, 0.5),
    "ETH/USDT": SymbolSpec(0.01, 0.0001, 5.0, 0.4, 30_000.0, 0.6),
    "SOL/USDT": SymbolSpec(0.01, 0.001, 5.0, 0.7, 15_000.0, 0.9),
    "XRP/USDT": SymbolSpec(0.0001, 0.1, 5.0, 0.9, 12_000.0, 1.0),
    "LINK/USDT": SymbolSpec(0.001, 0.01, 5.0, 1.2, 8_000.0, 1.2),
    "ETH/BTC": SymbolSpec(0.000001, 0.0001, 0.0001, 1.2, 8_000.0, 1.2),
}


def symbol_spec(symbol: str) -> SymbolSpec:
    """The table entry, or rules derived from the fair price for other known assets."""
    spec = SYMBOLS.get(symbol)
    if spec is not None:
        return spec
    base, _, quote = symbol.partition("/")
    price = ASSETS[base].price_usd / ASSETS[quote].price_usd
    tick = 10.0 ** (math.floor(math.log10(price)) - 5)
    lot = 10.0 ** math.floor(math.log10(1.0 / ASSETS[base].price_usd))
    min_cost = 5.0 / ASSETS[quote].price_usd
    return SymbolSpec(tick, lot, min_cost, 1.5, 6_000.0, 1.5)


def check_symbol(symbol: str) -> None:
    """Raise ValueError naming the problem if the simulator cannot price `symbol`."""
    base, _, quote = symbol.partition("/")
    missing = [a for a in (base, quote) if a not in ASSETS]
    if missing:
        known = ", ".join(sorted(ASSETS))
        raise ValueError(f"sim market cannot price {symbol!r}: unknown {missing}; known: {known}")


def decimals_of(step: float) -> int:
    """Number of decimals of a tick or lot size: 0.001 -> 3."""
    exponent = Decimal(repr(step)).normalize().as_tuple().exponent
    return max(0, -int(exponent))


@dataclass(frozen=True, slots=True)
class VenueProfile:
    """How one venue's quotes differ from the fair price."""

    lag_s: float
    """Time constant with which the venue's mid follows the fair price, in seconds."""
    noise_bps: float
    """Standard deviation of the venue's own slow basis noise, in basis points."""
    spread_mult: float
    """Multiplier on the symbol's half spread."""
    depth_mult: float
    """Multiplier on the symbol's level notionals."""


# Venues get these in settings order, cycling: a deep fast venue, a middling one, a thin laggard.
VENUE_PROFILES: tuple[VenueProfile, ...] = (
    VenueProfile(lag_s=0.25, noise_bps=0.8, spread_mult=1.3, depth_mult=1.0),
    VenueProfile(lag_s=0.05, noise_bps=0.5, spread_mult=1.0, depth_mult=1.5),
    VenueProfile(lag_s=0.8, noise_bps=1.2, spread_mult=2.0, depth_mult=0.6),
)

LEVELS_PER_SIDE = 25
LEVEL_GROWTH = 1.18
"""Each level holds this much more notional than the one nearer the touch (on average)."""
LEVEL_SIZE_SIGMA = 0.35
"""Log-normal dispersion of level sizes."""
REFILL_S = 1.5
"""Time constant with which liquidity taken by our orders comes back, in seconds."""
NOISE_REVERSION_S = 3.0
"""Mean-reversion time of each venue's basis noise, in seconds."""

# Dislocations: a venue's quote for one symbol jumps, holds, then decays back.
DISLOCATION_MIN_BPS = 8.0
DISLOCATION_MEAN_EXTRA_BPS = 22.0
DISLOCATION_MAX_BPS = 90.0
DISLOCATION_HOLD_S = (1.5, 5.0)
DISLOCATION_DECAY_S = 0.8

TAKER_TO_MAKER = 0.5
"""Maker fee as a fraction of the venue's taker fee."""

START_INVENTORY: dict[str, str] = {
    "USDT": "250000",
    "USDC": "100000",
    "BTC": "3",
    "ETH": "60",
    "SOL": "1000",
    "XRP": "80000",
    "LINK": "8000",
}
"""Each sim venue's starting balances (Decimal strings); other assets start at 0."""
