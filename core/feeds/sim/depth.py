"""Depth profile of one simulated book and the L2 levels built from it each tick.

A profile is a persistent shape (distance of each level from the touch, its USD notional)
that drifts a little every tick, so a book looks alive without being re-drawn from scratch.
Liquidity our own orders took is removed from the touch and comes back over a few ticks.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from core.feeds.sim.params import LEVEL_GROWTH, LEVEL_SIZE_SIGMA, decimals_of

Level = list[float]  # [price, size], as ccxt delivers them


@dataclass(slots=True)
class SideProfile:
    """One side's levels: cumulative offsets from the touch (bps) and notionals (USD)."""

    offsets_bps: list[float]
    sizes_usd: list[float]


def _level_size(rng: random.Random, top_usd: float, index: int) -> float:
    return top_usd * LEVEL_GROWTH**index * rng.lognormvariate(0.0, LEVEL_SIZE_SIGMA)


def new_side(rng: random.Random, levels: int, top_usd: float, gap_bps: float) -> SideProfile:
    offsets: list[float] = []
    total = 0.0
    for i in range(levels):
        offsets.append(total)
        if i + 1 < levels:
            total += gap_bps * (0.4 + 1.2 * rng.random())
    sizes = [_level_size(rng, top_usd, i) for i in range(levels)]
    return SideProfile(offsets, sizes)


def perturb_side(rng: random.Random, side: SideProfile, top_usd: float, count: int) -> None:
    """Re-draw `count` random level sizes: the book changes shape slowly, as real ones do."""
    n = len(side.sizes_usd)
    for _ in range(count):
        i = rng.randrange(n)
        side.sizes_usd[i] = _level_size(rng, top_usd, i)


@dataclass(slots=True)
class Grid:
    """Price and amount rounding of one symbol."""

    tick: float
    lot: float
    price_decimals: int = field(init=False)
    size_decimals: int = field(init=False)

    def __post_init__(self) -> None:
        self.price_decimals = decimals_of(self.tick)
        self.size_decimals = decimals_of(self.lot)

    def floor_price(self, price: float) -> float:
        return round(math.floor(price / self.tick + 1e-9) * self.tick, self.price_decimals)

    def ceil_price(self, price: float) -> float:
        return round(math.ceil(price / self.tick - 1e-9) * self.tick, self.price_decimals)

    def floor_size(self, size: float) -> float:
        return round(math.floor(size / self.lot + 1e-9) * self.lot, self.size_decimals)


def build_side(
    profile: SideProfile,
    touch: float,
    is_bid: bool,
    usd_per_base: float,
    grid: Grid,
    depleted: float,
) -> list[Level]:
    """Levels best first: prices strictly monotonic on the tick grid, sizes on the lot grid.

    `depleted` (base units) is taken off the best levels, as if someone had just traded there.
    """
    out: list[Level] = []
    tick = grid.tick
    last = math.inf if is_bid else -math.inf
    for offset, usd in zip(profile.offsets_bps, profile.sizes_usd, strict=True):
        if is_bid:
            price = grid.floor_price(touch * (1.0 - offset * 1e-4))
            if price >= last:
                price = round(last - tick, grid.price_decimals)
            if price <= 0:
                break
        else:
            price = grid.ceil_price(touch * (1.0 + offset * 1e-4))
            if price <= last:
                price = round(last + tick, grid.price_decimals)
        last = price
        size = grid.floor_size(usd / usd_per_base)
        if size <= 0:
            size = grid.lot
        out.append([price, size])
    if depleted > 0:
        _deplete(out, depleted, grid)
    return out


def _deplete(levels: list[Level], amount: float, grid: Grid) -> None:
    while len(levels) > 1 and amount > 0:  # the far level stays: a side is never empty
        size = levels[0][1]
        if size <= amount + grid.lot * 1e-6:
            amount -= size
            levels.pop(0)
        else:
            levels[0][1] = round(size - amount, grid.size_decimals)
            amount = 0.0


@dataclass(slots=True)
class SimBook:
    """The current L2 book of one venue × symbol (mutable: fills take liquidity from it)."""

    venue: str
    symbol: str
    bids: list[Level] = field(default_factory=list)
    asks: list[Level] = field(default_factory=list)
    timestamp: int = 0
    """Simulated time of the last update, epoch milliseconds."""
    nonce: int = 0
    """Increases by one on every update."""
    depleted_bid: float = 0.0
    """Base amount recently taken from the bids by our orders, still refilling."""
    depleted_ask: float = 0.0
    """Base amount recently taken from the asks by our orders, still refilling."""
