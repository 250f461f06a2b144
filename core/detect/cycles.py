"""Multi-hop cycles: a market graph, an index of candidate cycles per edge, and exact sizing.

Currencies are nodes. Every market is two directed hops: a CEX book gives a buy hop (quote ->
base, walking the asks) and a sell hop (base -> quote, into the bids); an on-chain pool gives
one hop each way (token0 -> token1, token1 -> token0). A hop's weight is -log of its marginal
rate after its fee, so a cycle whose weights sum below zero returns more than it started with.

Search: the graph's topology is fixed for a run (the venues' markets and the manifest's pools),
so every simple cycle of 2 to `max_hops` hops from each allowed start currency is enumerated
once, and each hop keeps the ids of the cycles through it. A book or pool update changes the
rates of its own hops only; `CycleIndex.dirty` cycles are re-summed and nothing else is, so
one update costs the cycles through two hops, not a rescan of the world (bench_cycles.py).

Sizing: a candidate found on marginal rates is then sized exactly. Book hops walk depth in
sequence (the output of a hop is the input of the next, taker fee taken from what is
received); pool hops use the pools' exact integer V2/V3 math (core.amm.quote). Profit is
concave in the input, so `core.amm.quote.maximize` finds the best input; tests hold it
against brute force.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from core.amm.pools import DexPool, PoolData, V2State
from core.amm.quote import maximize, mid_price, quote_exact_in
from core.book import OrderBook

HopKey = tuple[str, str, str]  # venue, market (CEX symbol or pool address), source currency
SEARCH_STEPS = 160
"""Golden-section steps of the size search at most: enough to close a 1e30-wide bracket to
adjacent integers (each step keeps 0.618 of it)."""
SEARCH_REL_TOL = 1e-6
"""The search stops when the bracket is this narrow relative to the input: profit is flat at
its optimum, so a millionth of the input moves it by about a millionth squared."""


@dataclass(frozen=True, slots=True)
class Hop:
    """One directed edge: trade `src` into `dst` on `market` at `venue`."""

    venue: str
    market: str  # a CEX symbol ("ETH/BTC") or a pool address
    src: str
    dst: str

    @property
    def key(self) -> HopKey:
        return (self.venue, self.market, self.src)

    @property
    def side(self) -> str:
        """On a book, `buy` when the hop spends the quote; `sell` when it spends the base.
        A pool hop says `swap`."""
        if "/" not in self.market:
            return "swap"
        return "buy" if self.market.partition("/")[2] == self.src else "sell"

    def __str__(self) -> str:
        return f"{self.src}->{self.dst} {self.side} {self.market}@{self.venue}"


@dataclass(frozen=True, slots=True)
class Cycle:
    """Hops that start and end in `start`, each spending what the previous one bought."""

    start: str
    hops: tuple[Hop, ...]

    @property
    def venues(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(h.venue for h in self.hops))

    def __str__(self) -> str:
        path = " -> ".join([self.start, *(h.dst for h in self.hops)])
        return f"{path} ({', '.join(f'{h.side} {h.market}@{h.venue}' for h in self.hops)})"


def book_hops(venue: str, symbol: str) -> tuple[Hop, Hop]:
    """The buy hop (quote -> base) and the sell hop (base -> quote) of a CEX market."""
    base, _, quote = symbol.partition("/")
    return Hop(venue, symbol, quote, base), Hop(venue, symbol, base, quote)


def pool_hops(pool: DexPool) -> tuple[Hop, Hop]:
    """Both directions of `pool` (token0 -> token1, token1 -> token0), by token symbol."""
    a, b = pool.symbol0, pool.symbol1
    return Hop(pool.venue, pool.address, a, b), Hop(pool.venue, pool.address, b, a)


def enumerate_cycles(
    hops: Iterable[Hop], starts: Iterable[str], max_hops: int = 3, min_hops: int = 2
) -> list[Cycle]:
    """Every simple cycle of `min_hops`..`max_hops` hops from each start currency (no currency
    visited twice, no market used twice). Two hops on the same market would only undo each
    other, so they never form a cycle."""
    out: dict[str, list[Hop]] = {}
    for hop in hops:
        out.setdefault(hop.src, []).append(hop)
    cycles: list[Cycle] = []

    back: dict[tuple[str, str], list[Hop]] = {}
    for hops_from in out.values():
        for hop in hops_from:
            back.setdefault((hop.src, hop.dst), []).append(hop)

    def walk(
        start: str, at: str, path: list[Hop], seen: set[str], used: set[tuple[str, str]]
    ) -> None:
        if len(path) + 1 == max_hops:  # the last hop can only close: look it up, not scan
            if max_hops >= min_hops:
                for hop in back.get((at, start), ()):
                    if (hop.venue, hop.market) not in used:
                        cycles.append(Cycle(start, (*path, hop)))
            return
        for hop in out.get(at, ()):
            market = (hop.venue, hop.market)
            if market in used:
                continue
            if hop.dst == start:
                if len(path) + 1 >= min_hops:
                    cycles.append(Cycle(start, (*path, hop)))
                continue
            if hop.dst in seen or len(path) + 1 >= max_hops:
                continue
            seen.add(hop.dst)
            used.add(market)
            path.append(hop)
            walk(start, hop.dst, path, seen, used)
            path.pop()
            used.discard(market)
            seen.discard(hop.dst)

    for start in dict.fromkeys(starts):
        walk(start, start, [], {start}, set())
    return cycles


class CycleIndex:
    """Candidate cycles, the hops' current -log rates, and which cycles an update touches."""

    def __init__(self, cycles: Sequence[Cycle]) -> None:
        self.cycles = list(cycles)
        self._hop_keys = [tuple(h.key for h in c.hops) for c in self.cycles]
        self.through: dict[HopKey, list[int]] = {}
        """Hop -> the ids (positions in `cycles`) of the cycles that use it."""
        for i, keys in enumerate(self._hop_keys):
            for key in keys:
                self.through.setdefault(key, []).append(i)
        self.weight: dict[HopKey, float] = {}
        """Hop -> -log(marginal rate after fee); a hop with no rate yet is absent."""
        self._dirty: set[int] = set(range(len(self.cycles)))
        self.evaluated = 0
        """Cycles re-summed so far (bench_cycles.py and tests read it)."""

    def set_rate(self, key: HopKey, rate: float | None) -> None:
        """The hop's marginal rate (units of dst per unit of src, after fee); None or <= 0:
        the hop cannot trade now (empty book side, empty pool)."""
        if rate is None or rate <= 0.0 or not math.isfinite(rate):
            if self.weight.pop(key, None) is None:
                return
        else:
            weight = -math.log(rate)
            if self.weight.get(key) == weight:
                return
            self.weight[key] = weight
        self._dirty.update(self.through.get(key, ()))

    def touch_all(self) -> None:
        """Have the next `profitable` re-sum every cycle (a periodic sweep)."""
        self._dirty.update(range(len(self.cycles)))

    def profitable(self, min_bps: float = 0.0) -> list[tuple[Cycle, float]]:
        """The cycles touched since the last call whose marginal return beats `min_bps`, as
        (cycle, return in bps at the margin), best first. Untouched cycles are not looked at:
        the caller keeps what it found before until one of their hops moves."""
        limit = -math.log1p(min_bps / 1e4)
        found: list[tuple[Cycle, float]] = []
        weight = self.weight
        for i in self._dirty:
            total = 0.0
            for key in self._hop_keys[i]:
                w = weight.get(key)
                if w is None:
                    break
                total += w
            else:
                if total < limit:
                    found.append((self.cycles[i], math.expm1(-total) * 1e4))
        self.evaluated += len(self._dirty)
        self._dirty.clear()
        found.sort(key=lambda item: -item[1])
        return found


# -- marginal rates ----------------------------------------------------------------------------


def book_rate(book: OrderBook, hop: Hop, taker_fee: float) -> float | None:
    """A book hop's marginal rate after the taker fee: base per quote at the best ask (buy),
    quote per base at the best bid (sell)."""
    if hop.side == "buy":
        ask = book.best_ask_price
        return (1.0 - taker_fee) / ask if ask else None
    bid = book.best_bid_price
    return bid * (1.0 - taker_fee) if bid else None


# -- exact sizing ------------------------------------------------------------------------------


def pool_rates(pool: DexPool, state: PoolData) -> tuple[float, float]:
    """Marginal rates of the pool's two hops after its fee (token1 per token0, token0 per
    token1, in whole units); 0.0 for an empty pool."""
    price = mid_price(pool, state) or 0.0
    keep = 1.0 - pool.fee_bps / 1e4
    return price * keep, (keep / price if price else 0.0)


def book_hop_out(book: OrderBook, hop: Hop, amount_in: float, taker_fee: float) -> float:
    """What `amount_in` of the hop's source currency buys on `book`, walking its depth, after
    the taker fee (taken from what is received, as the venues charge a taker by default)."""
    if amount_in <= 0.0:
        return 0.0
    buying = hop.side == "buy"
    prices, sizes = book.levels(is_bid=not buying)  # ascending: asks best first, bids last
    left, got = amount_in, 0.0
    for price in prices if buying else reversed(prices):
        size = sizes[price]
        if buying:  # spend quote on asks
            cost = size * price
            if cost >= left:
                got += left / price
                left = 0.0
                break
            got += size
            left -= cost
        else:  # sell base into bids
            if size >= left:
                got += left * price
                left = 0.0
                break
            got += size * price
            left -= size
    if left > 0.0:
        return 0.0  # the book cannot take the whole input: not a size to trade
    return got * (1.0 - taker_fee)


@dataclass(frozen=True, slots=True)
class Sized:
    """A cycle at its best input: amounts in and out of each hop, in the start currency's
    units (floats for books, raw integers for pools) and the profit net of the hops' fees
    and of `cost` (gas, a flash premium) in the start currency."""

    cycle: Cycle
    amounts: tuple[float, ...] | tuple[int, ...]  # into hop 0, out of hop 0 (into hop 1), ...
    profit: float | int  # exact raw units for pools

    @property
    def amount_in(self) -> float | int:
        return self.amounts[0]

    @property
    def profit_bps(self) -> float:
        return self.profit / self.amounts[0] * 1e4 if self.amounts[0] else 0.0


def walk_books(
    cycle: Cycle,
    books: Mapping[tuple[str, str], OrderBook],
    fees: Mapping[str, float],
    amount_in: float,
) -> tuple[float, ...]:
    """The amounts through `cycle` for `amount_in`: `books[(venue, symbol)]`, `fees[venue]`
    the taker fee as a fraction."""
    amounts = [amount_in]
    for hop in cycle.hops:
        amounts.append(
            book_hop_out(books[(hop.venue, hop.market)], hop, amounts[-1], fees[hop.venue])
        )
    return tuple(amounts)


def size_book_cycle(
    cycle: Cycle,
    books: Mapping[tuple[str, str], OrderBook],
    fees: Mapping[str, float],
    max_in: float,
    *,
    unit: float = 1e-8,
    cost: float = 0.0,
) -> Sized | None:
    """The input up to `max_in` (start currency) that leaves the most after every hop's depth
    and fee, searched in steps of `unit`; None when no input profits."""
    if max_in < unit:
        return None

    def profit(steps: int) -> float:
        amounts = walk_books(cycle, books, fees, steps * unit)
        if amounts[-1] > 0:
            return amounts[-1] - amounts[0] - cost
        return -amounts[0] - cost - unit  # past the depth: still falling (see size_pool_cycle)

    steps, best = maximize(
        profit, 1, int(max_in / unit), refine=SEARCH_STEPS, rel_tol=SEARCH_REL_TOL
    )
    if best <= 0.0:
        return None
    amounts = walk_books(cycle, books, fees, steps * unit)
    return Sized(cycle, amounts, best)


def walk_pools(
    cycle: Cycle,
    pools: Mapping[str, DexPool],
    states: Mapping[str, PoolData],
    amount_in: int,
) -> tuple[int, ...]:
    """Raw amounts through an on-chain cycle (`pools` and `states` by address), each hop
    quoted exactly on its pool's current state; stops at a hop that cannot fill."""
    amounts = [amount_in]
    for hop in cycle.hops:
        pool = pools[hop.market]
        token_in = pool.token0 if hop.src == pool.symbol0 else pool.token1
        amounts.append(quote_exact_in(pool, states[hop.market], token_in, amounts[-1]))
        if amounts[-1] == 0:
            break
    return tuple(amounts)


def size_pool_cycle(
    cycle: Cycle,
    pools: Mapping[str, DexPool],
    states: Mapping[str, PoolData],
    max_in: int,
    cost_raw: Callable[[int], int] = lambda _amount: 0,
) -> Sized | None:
    """The raw input up to `max_in` with the most left after the pools' exact math and
    `cost_raw(amount_in)` (gas in the start token, a flash premium on the amount); None when
    no input profits."""

    def profit(amount: int) -> float:
        amounts = walk_pools(cycle, pools, states, amount)
        if len(amounts) <= len(cycle.hops) or amounts[-1] == 0:
            # Past what a pool can fill: worse than any fill and still falling with the input,
            # so the curve stays unimodal for the search (a flat -inf would hide the optimum).
            return float(-amount - 1)
        return float(amounts[-1] - amount - cost_raw(amount))

    amount = _closed_form_optimum(cycle, pools, states, max_in, profit)
    if amount is None:  # ticks crossed, a size-dependent cost, or past max_in: search
        amount, _ = maximize(profit, 1, max_in, refine=SEARCH_STEPS, rel_tol=SEARCH_REL_TOL)
    if amount <= 0:
        return None
    amounts = walk_pools(cycle, pools, states, amount)
    if len(amounts) <= len(cycle.hops):
        return None
    net = amounts[-1] - amount - cost_raw(amount)  # exact, in raw units
    if net <= 0:
        return None
    return Sized(cycle, amounts, net)


CLOSED_FORM_STEP = 1e-4
"""The closed-form input is accepted when the exact profit a ten-thousandth of it either side
is no better: profit is concave, so the optimum is within that step of it."""


def _virtual_reserves(pool: DexPool, state: PoolData, src: str) -> tuple[float, float, float]:
    """(reserve in, reserve out, 1 - fee) of the constant-product curve the pool quotes on now:
    a V2 pair's reserves; a V3 pool's active range as virtual reserves L/sqrtP and L*sqrtP."""
    if isinstance(state, V2State):
        r0, r1, keep = float(state.reserve0), float(state.reserve1), 1.0 - pool.fee / 1e4
    else:
        sqrt_p = state.sqrt_price_x96 / 2**96
        r0, r1 = state.liquidity / sqrt_p, state.liquidity * sqrt_p
        keep = 1.0 - state.fee / 1e6
    return (r0, r1, keep) if src == pool.symbol0 else (r1, r0, keep)


def _closed_form_optimum(
    cycle: Cycle,
    pools: Mapping[str, DexPool],
    states: Mapping[str, PoolData],
    max_in: int,
    profit: Callable[[int], float],
) -> int | None:
    """The best input on the pools' current curves, checked on the exact math; None when the
    check fails (the trade crosses a V3 tick, or the cost grows with the input) or the curves
    say no input profits.

    A constant-product hop maps x to g*Ro*x / (Ri + g*x); a chain of them is one map
    A*x / (B + C*x) (compose: A' = g*Ro*A, B' = Ri*B, C' = Ri*C + g*A), whose output less its
    input peaks where its slope A*B / (B + C*x)^2 is 1: x = (sqrt(A*B) - B) / C.
    Three exact evaluations replace the search's fifty or so (bench_cycles.py)."""
    a, b, c = 1.0, 1.0, 0.0
    for hop in cycle.hops:
        state = states[hop.market]
        if not isinstance(state, V2State) and state.liquidity <= 0:
            return None
        r_in, r_out, keep = _virtual_reserves(pools[hop.market], state, hop.src)
        a, b, c = keep * r_out * a, r_in * b, r_in * c + keep * a
    if a <= b or c <= 0.0:
        return None
    x = int((math.sqrt(a * b) - b) / c)
    if not 1 <= x <= max_in:
        return None
    step = max(1, int(x * CLOSED_FORM_STEP))
    best = profit(x)
    if best <= 0 or profit(x - step) > best or profit(x + step) > best:
        return None
    return x
