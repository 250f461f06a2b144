"""The sim's noise trader: every ~1-2 s it swaps on one devnet pool, pulling that pool part of
the way toward the CEX fair price as it was a few seconds ago (lag) times some noise, so pool
prices wander against the CEX venues and dislocations come and go.

Sizing uses the pool's virtual reserves at its current price (L / sqrtP of token0 and
L x sqrtP of token1, which a V2 pair has as sqrt(r0 r1)): moving the raw price P by a factor r
takes L x sqrtP x (sqrt(r) - 1) of token1 in (r > 1) or L / sqrtP x (1 / sqrt(r) - 1) of token0
in (r < 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from loguru import logger

from core.amm.pools import DexPool, PoolData, V2State, cex_symbol
from core.amm.quote import quote_exact_in
from core.amm.v3 import PoolState


def price_move_input(pool: DexPool, state: PoolData, ratio: float) -> tuple[str, int]:
    """(token in, raw amount in) that moves the raw token1/token0 price by about `ratio`."""
    if isinstance(state, V2State):
        liquidity = math.sqrt(state.reserve0 * state.reserve1)
        sqrt_p = math.sqrt(state.reserve1 / state.reserve0) if state.reserve0 else 0.0
    else:
        liquidity = float(state.liquidity)
        sqrt_p = state.sqrt_price_x96 / 2**96
    if liquidity <= 0 or sqrt_p <= 0:
        return pool.token0, 0
    if ratio >= 1:
        return pool.token1, int(liquidity * sqrt_p * (math.sqrt(ratio) - 1))
    return pool.token0, int(liquidity / sqrt_p * (1 / math.sqrt(ratio) - 1))


class NoiseTrader:
    """A sim tick hook (`market.add_tick_hook(trader.on_tick)`); swaps run as tasks, one at a
    time, so a slow chain never piles them up."""

    def __init__(
        self,
        pools: list[DexPool],
        states: dict[str, PoolData],
        fair_price: Callable[[str], float],
        swap: Callable[[DexPool, str, int, int], Coroutine[Any, Any, Any]],
        *,
        interval_s: tuple[float, float] = (1.0, 2.0),
        lag_s: float = 3.0,
        noise_bps: float = 25.0,
        pull: tuple[float, float] = (0.3, 0.9),
        seed: int | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.pools = [p for p in pools if cex_symbol(p) is not None]
        self.states = states
        self.fair_price = fair_price
        self.swap = swap
        self.interval_s = interval_s
        self.lag_s = lag_s
        self.noise_bps = noise_bps
        self.pull = pull
        self.rng = random.Random(seed)
        self.clock = clock or (lambda: asyncio.get_running_loop().time())
        self.enabled = True
        """False pauses trading (prices are still recorded), e.g. while a test sets a scene."""
        self.swaps = 0
        self.failures = 0
        self._history: dict[str, deque[tuple[float, float]]] = {}
        self._next_at = 0.0
        self._task: asyncio.Task[None] | None = None

    def on_tick(self) -> None:
        now = self.clock()
        for symbol in {s for p in self.pools if (s := cex_symbol(p))}:
            try:
                price = self.fair_price(symbol)
            except (KeyError, ZeroDivisionError):
                continue  # the market does not simulate this pair: its pools stay put
            history = self._history.setdefault(symbol, deque())
            history.append((now, price))
            while len(history) > 2 and history[1][0] <= now - self.lag_s:
                history.popleft()
        if not self.enabled or now < self._next_at:
            return
        if self._task is not None and not self._task.done():
            return
        self._next_at = now + self.rng.uniform(*self.interval_s)
        pool = self.rng.choice(self.pools)
        order = self.plan(pool)
        if order is not None:
            self._task = asyncio.ensure_future(self._run(pool, *order))

    def lagged_price(self, symbol: str) -> float | None:
        history = self._history.get(symbol)
        return history[0][1] if history else None

    def plan(self, pool: DexPool) -> tuple[str, int, int] | None:
        """(token in, amount in, expected out) for the next swap on `pool`, or None."""
        state = self.states.get(pool.address)
        symbol = cex_symbol(pool)
        target = self.lagged_price(symbol) if symbol else None
        if state is None or target is None:
            return None
        target *= 1 + self.rng.gauss(0, self.noise_bps / 1e4)
        base_is_0 = pool.symbol.partition("/")[0] == pool.symbol0
        raw_target = (target if base_is_0 else 1 / target) * 10 ** (pool.decimals1 - pool.decimals0)
        if isinstance(state, V2State):
            if state.reserve0 <= 0:
                return None
            raw_now = state.reserve1 / state.reserve0
        elif isinstance(state, PoolState):
            raw_now = (state.sqrt_price_x96 / 2**96) ** 2
        if raw_now <= 0:
            return None
        ratio = 1 + self.rng.uniform(*self.pull) * (raw_target / raw_now - 1)
        token_in, amount = price_move_input(pool, state, max(ratio, 1e-6))
        if amount <= 0:
            return None
        expected = quote_exact_in(pool, state, token_in, amount)
        return (token_in, amount, expected) if expected > 0 else None

    async def _run(self, pool: DexPool, token_in: str, amount: int, expected: int) -> None:
        try:
            result = await self.swap(pool, token_in, amount, expected)
            if getattr(result, "ok", False):
                self.swaps += 1
            else:
                self.failures += 1
        except Exception as exc:
            self.failures += 1
            logger.debug("noise trader swap failed: {}", exc)

    async def stop(self) -> None:
        """Stop trading and wait for a swap in flight to end, so no transaction of ours lands
        after the engine has stopped (a shared devnet is reverted right after)."""
        self.enabled = False
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
