"""The embedded market: fair prices, per-venue quotes and books, simulated time.

Everything random is drawn from one `random.Random(seed)` in a fixed order, and time is the
simulated clock, so a seed always gives the same sequence of books. `step()` / `advance()`
drive the market synchronously (tests, benches); `run()` steps it in real time (tick_ms /
speed) and wakes the venues' `watch_order_book` waiters.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from core.feeds.sim.depth import Grid, SideProfile, SimBook, build_side, new_side, perturb_side
from core.feeds.sim.exchange import SimExchange
from core.feeds.sim.params import (
    ASSETS,
    DISLOCATION_DECAY_S,
    DISLOCATION_HOLD_S,
    DISLOCATION_MAX_BPS,
    DISLOCATION_MEAN_EXTRA_BPS,
    DISLOCATION_MIN_BPS,
    LEVELS_PER_SIDE,
    MARKET_CORRELATION,
    NOISE_REVERSION_S,
    REFILL_S,
    SECONDS_PER_YEAR,
    VENUE_PROFILES,
    SymbolSpec,
    VenueProfile,
    check_symbol,
    symbol_spec,
)
from core.settings import SimSettings, VenueKind, VenueSettings

BookKey = tuple[str, str]  # (venue, symbol)
PERTURBED_LEVELS = 2
"""Level sizes re-drawn per side per tick."""


@dataclass(slots=True)
class Dislocation:
    """A venue's quote for one symbol displaced from fair: held, then decaying back."""

    venue: str
    symbol: str
    amplitude_bps: float
    start_ms: int
    hold_ms: int

    def offset_bps(self, now_ms: int) -> float:
        past_hold = now_ms - self.start_ms - self.hold_ms
        if past_hold <= 0:
            return self.amplitude_bps
        return self.amplitude_bps * math.exp(-past_hold / (DISLOCATION_DECAY_S * 1000.0))


@dataclass(slots=True)
class _BookState:
    """Private dynamics of one venue × symbol."""

    base: str
    quote: str
    spec: SymbolSpec
    profile: VenueProfile
    grid: Grid
    alpha: float  # EMA weight per tick of the venue's lag
    lagged: float  # the venue's lagged view of the fair price
    noise_bps: float
    top_usd: float
    bid_side: SideProfile
    ask_side: SideProfile
    book: SimBook


class SimMarket:
    """Simulated CEX venues sharing one fair price per asset. See the module docstring."""

    def __init__(
        self,
        sim: SimSettings,
        venues: Iterable[VenueSettings],
        *,
        start_ms: int | None = None,
        levels: int = LEVELS_PER_SIDE,
    ) -> None:
        self.settings = sim
        self.venues: list[VenueSettings] = [v for v in venues if v.kind is VenueKind.SIM]
        if not self.venues:
            raise ValueError("the sim market needs at least one venue of kind 'sim'")
        for venue in self.venues:
            for symbol in venue.symbols:
                check_symbol(symbol)
        self._rng = random.Random(sim.seed)
        self._tick_ms = sim.tick_ms
        self._dt = sim.tick_ms / 1000.0
        self._now_ms = int(time.time() * 1000) if start_ms is None else start_ms
        self._levels = levels
        assets = sorted({a for v in self.venues for s in v.symbols for a in s.split("/")})
        self._fair: dict[str, float] = {a: ASSETS[a].price_usd for a in assets}
        self._states: dict[BookKey, _BookState] = {}
        for index, venue in enumerate(self.venues):
            profile = VENUE_PROFILES[index % len(VENUE_PROFILES)]
            for symbol in venue.symbols:
                self._states[(venue.name, symbol)] = self._new_state(venue.name, symbol, profile)
        self._keys = list(self._states)
        self.dislocations: dict[BookKey, Dislocation] = {}
        self._scheduled: list[tuple[int, int, Callable[[], None]]] = []
        self._sched_seq = itertools.count()
        self._waiters: dict[BookKey, list[asyncio.Future[None]]] = {}
        self._tick_waiters: list[asyncio.Future[None]] = []
        self._tick_hooks: list[Callable[[], None]] = []
        self._exchanges: dict[str, SimExchange] = {}
        self._running = False
        self._stopping = False
        for state in self._states.values():
            self._update_book(state)

    # -- construction ---------------------------------------------------------------------

    def _new_state(self, venue: str, symbol: str, profile: VenueProfile) -> _BookState:
        base, _, quote = symbol.partition("/")
        spec = symbol_spec(symbol)
        top_usd = spec.top_usd * profile.depth_mult
        alpha = 1.0 if profile.lag_s <= 0 else 1.0 - math.exp(-self._dt / profile.lag_s)
        rng = self._rng
        return _BookState(
            base=base,
            quote=quote,
            spec=spec,
            profile=profile,
            grid=Grid(spec.tick, spec.lot),
            alpha=alpha,
            lagged=self._pair_fair(base, quote),
            noise_bps=rng.gauss(0.0, profile.noise_bps),
            top_usd=top_usd,
            bid_side=new_side(rng, self._levels, top_usd, spec.level_gap_bps),
            ask_side=new_side(rng, self._levels, top_usd, spec.level_gap_bps),
            book=SimBook(venue, symbol),
        )

    # -- reading ---------------------------------------------------------------------------

    @property
    def now_ms(self) -> int:
        """Simulated time, epoch milliseconds."""
        return self._now_ms

    @property
    def running(self) -> bool:
        """True while `run()` is stepping the market in real time."""
        return self._running

    @property
    def keys(self) -> list[BookKey]:
        """Every (venue, symbol) the market simulates, in a fixed order."""
        return list(self._keys)

    def book(self, venue: str, symbol: str) -> SimBook:
        """The live book (do not mutate it; use a venue's orders to trade against it)."""
        return self._states[(venue, symbol)].book

    def fair_price(self, symbol: str) -> float:
        """The shared fair price of `symbol` (BASE/QUOTE), before any venue's lag or noise."""
        base, _, quote = symbol.partition("/")
        return self._pair_fair(base, quote)

    def _pair_fair(self, base: str, quote: str) -> float:
        return self._fair[base] / self._fair[quote]

    def usd_price(self, asset: str) -> float:
        """The fair USD price of one asset."""
        return self._fair[asset]

    def exchange(self, name: str) -> SimExchange:
        """The ccxt-like venue for the sim venue `name` (one instance per name)."""
        found = self._exchanges.get(name)
        if found is None:
            venue = next((v for v in self.venues if v.name == name), None)
            if venue is None:
                known = ", ".join(v.name for v in self.venues)
                raise KeyError(f"no sim venue {name!r}; sim venues: {known}")
            found = SimExchange(self, venue)
            self._exchanges[name] = found
        return found

    # -- stepping ---------------------------------------------------------------------------

    def step(self) -> None:
        """Advance simulated time by one tick and publish a new book for every venue × symbol."""
        self._now_ms += self._tick_ms
        self._move_fair()
        self._draw_dislocations()
        for state in self._states.values():
            self._update_book(state)
        self._run_due()
        for hook in self._tick_hooks:
            hook()
        self._wake()

    def advance(self, seconds: float) -> int:
        """Step through `seconds` of simulated time at once; returns the number of ticks."""
        ticks = max(0, round(seconds * 1000.0 / self._tick_ms))
        for _ in range(ticks):
            self.step()
        return ticks

    async def run(self) -> None:
        """Step in real time (one tick per tick_ms / speed of wall clock) until stopped."""
        if self._running:
            raise RuntimeError("the sim market is already running")
        loop = asyncio.get_running_loop()
        period = self._dt / self.settings.speed
        self._running = True
        self._stopping = False
        next_at = loop.time() + period
        try:
            while not self._stopping:
                delay = next_at - loop.time()
                await asyncio.sleep(max(0.0, delay))  # sleep(0) still yields when behind
                if self._stopping:
                    break
                self.step()
                next_at += period
                if loop.time() - next_at > 1.0:  # far behind (a stalled loop): skip, no burst
                    next_at = loop.time()
        finally:
            self._running = False
            self._wake_ticks()  # orders waiting on ticks now drive the clock themselves

    def stop(self) -> None:
        """Ask `run()` to return after the current tick (cancelling its task works too)."""
        self._stopping = True

    # -- scheduling and waiting (used by the venues) ------------------------------------------

    def schedule(self, due_ms: int, callback: Callable[[], None]) -> None:
        """Call `callback` during the first step at or after simulated time `due_ms`."""
        heapq.heappush(self._scheduled, (due_ms, next(self._sched_seq), callback))

    def add_tick_hook(self, hook: Callable[[], None]) -> None:
        """Call `hook` on every step, after the books and due callbacks."""
        self._tick_hooks.append(hook)

    async def wait_update(self, venue: str, symbol: str) -> None:
        """Return at the next update of that book (raises what `fail_waiters` sets)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault((venue, symbol), [])
        waiters.append(fut)
        try:
            await fut
        finally:
            if fut in waiters:
                waiters.remove(fut)

    async def wait_tick(self) -> None:
        """Return after the next step (or when `run()` ends)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tick_waiters.append(fut)
        await fut

    def fail_waiters(self, venue: str, error: BaseException) -> None:
        """Make every pending `wait_update` of `venue` raise `error`."""
        for (name, _), waiters in self._waiters.items():
            if name == venue:
                for fut in waiters:
                    if not fut.done():
                        fut.set_exception(error)
                waiters.clear()

    def _wake(self) -> None:
        for waiters in self._waiters.values():
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
            waiters.clear()
        self._wake_ticks()

    def _wake_ticks(self) -> None:
        waiters, self._tick_waiters = self._tick_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def _run_due(self) -> None:
        while self._scheduled and self._scheduled[0][0] <= self._now_ms:
            _, _, callback = heapq.heappop(self._scheduled)
            callback()

    # -- dynamics ----------------------------------------------------------------------------

    def _move_fair(self) -> None:
        """Correlated geometric random walk of every asset's USD price."""
        rng = self._rng
        common = rng.gauss(0.0, 1.0)
        w_common = math.sqrt(MARKET_CORRELATION)
        w_own = math.sqrt(1.0 - MARKET_CORRELATION)
        for asset in self._fair:
            vol = ASSETS[asset].vol_annual
            if vol <= 0:
                continue
            sigma = vol * math.sqrt(self._dt / SECONDS_PER_YEAR)
            z = w_common * common + w_own * rng.gauss(0.0, 1.0)
            self._fair[asset] *= math.exp(sigma * z - 0.5 * sigma * sigma)

    def _draw_dislocations(self) -> None:
        rng = self._rng
        lam = self.settings.dislocation_rate_per_min * self._dt / 60.0
        for _ in range(_poisson(rng, lam)):
            venue, symbol = self._keys[rng.randrange(len(self._keys))]
            sign = 1.0 if rng.random() < 0.5 else -1.0
            extra = rng.expovariate(1.0 / DISLOCATION_MEAN_EXTRA_BPS)
            amplitude = sign * min(DISLOCATION_MIN_BPS + extra, DISLOCATION_MAX_BPS)
            hold_ms = int(rng.uniform(*DISLOCATION_HOLD_S) * 1000.0)
            self.dislocate(venue, symbol, amplitude, hold_ms / 1000.0)

    def dislocate(self, venue: str, symbol: str, bps: float, hold_s: float) -> None:
        """Displace one venue's quote for `symbol` by `bps` for `hold_s`, then let it decay.

        Called by the random process; tests may call it to force a mispricing.
        """
        if (venue, symbol) not in self._states:
            raise KeyError(f"no sim book {venue} {symbol}")
        self.dislocations[(venue, symbol)] = Dislocation(
            venue, symbol, bps, self._now_ms, int(hold_s * 1000.0)
        )

    def _dislocation_bps(self, key: BookKey) -> float:
        dis = self.dislocations.get(key)
        if dis is None:
            return 0.0
        offset = dis.offset_bps(self._now_ms)
        if abs(offset) < 0.05:
            del self.dislocations[key]
            return 0.0
        return offset

    def _update_book(self, st: _BookState) -> None:
        rng = self._rng
        book = st.book
        fair = self._pair_fair(st.base, st.quote)
        st.lagged += (fair - st.lagged) * st.alpha
        theta = NOISE_REVERSION_S
        st.noise_bps += -st.noise_bps * self._dt / theta + st.profile.noise_bps * math.sqrt(
            2.0 * self._dt / theta
        ) * rng.gauss(0.0, 1.0)
        offset = st.noise_bps + self._dislocation_bps((book.venue, book.symbol))
        mid = st.lagged * (1.0 + offset * 1e-4)
        half = st.spec.half_spread_bps * st.profile.spread_mult * (0.8 + 0.4 * rng.random())
        grid = st.grid
        bid = grid.floor_price(mid * (1.0 - half * 1e-4))
        ask = grid.ceil_price(mid * (1.0 + half * 1e-4))
        if ask <= bid:
            ask = round(bid + grid.tick, grid.price_decimals)
        perturb_side(rng, st.bid_side, st.top_usd, PERTURBED_LEVELS)
        perturb_side(rng, st.ask_side, st.top_usd, PERTURBED_LEVELS)
        usd_per_base = self._fair[st.base]
        book.bids = build_side(st.bid_side, bid, True, usd_per_base, grid, book.depleted_bid)
        book.asks = build_side(st.ask_side, ask, False, usd_per_base, grid, book.depleted_ask)
        refill = math.exp(-self._dt / REFILL_S)
        book.depleted_bid = book.depleted_bid * refill if book.depleted_bid > grid.lot else 0.0
        book.depleted_ask = book.depleted_ask * refill if book.depleted_ask > grid.lot else 0.0
        book.timestamp = self._now_ms
        book.nonce += 1


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method: fine for the small means of one tick."""
    if lam <= 0:
        return 0
    limit = math.exp(-lam)
    k = 0
    p = rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
