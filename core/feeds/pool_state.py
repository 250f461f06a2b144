"""Read a Uniswap V3 pool's full swap state from a chain in three JSON-RPC batches.

The loader is written sans-IO (a generator that yields batches of eth_calls and receives
their results), so the sync and the async entry points share every line of decoding.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from core.amm.tick_math import MAX_TICK, MIN_TICK
from core.amm.v3 import PoolState

if TYPE_CHECKING:
    from web3 import AsyncWeb3, Web3

_SLOT0, _LIQUIDITY, _FEE, _SPACING, _TOKEN0, _TOKEN1, _BITMAP, _TICKS = (
    function_signature_to_4byte_selector(s)
    for s in (
        "slot0()",
        "liquidity()",
        "fee()",
        "tickSpacing()",
        "token0()",
        "token1()",
        "tickBitmap(int16)",
        "ticks(int24)",
    )
)

# A step yields the calls it needs and is sent back their results (bytes, or an exception).
_Loader = Generator[list[tuple[str, bytes]], list[Any], PoolState]


class PoolLoadError(RuntimeError):
    """The address is not a V3 pool, or the node failed a call."""


def _loader(address: str) -> _Loader:
    head = yield [(address, s) for s in (_SLOT0, _LIQUIDITY, _FEE, _SPACING, _TOKEN0, _TOKEN1)]
    if any(not isinstance(r, bytes) or len(r) < 32 for r in head):
        raise PoolLoadError(f"{address} does not answer like a Uniswap V3 pool")
    slot0, liq, fee, spacing, token0, token1 = head
    sqrt_price_x96, tick = decode(["uint160", "int24"], slot0[:64])
    spacing_i: int = decode(["int24"], spacing)[0]

    words = list(range((MIN_TICK // spacing_i) >> 8, ((MAX_TICK // spacing_i) >> 8) + 1))
    bitmaps = yield [(address, _BITMAP + encode(["int16"], [w])) for w in words]
    initialized: list[int] = []
    for word, data in zip(words, bitmaps, strict=True):
        if not isinstance(data, bytes):
            raise PoolLoadError(f"tickBitmap({word}) failed: {data}")
        bits = int.from_bytes(data, "big")
        while bits:
            low = bits & -bits
            initialized.append(((word << 8) + low.bit_length() - 1) * spacing_i)
            bits ^= low

    tick_data = yield [(address, _TICKS + encode(["int24"], [t])) for t in initialized]
    ticks: dict[int, int] = {}
    for t, data in zip(initialized, tick_data, strict=True):
        if not isinstance(data, bytes):
            raise PoolLoadError(f"ticks({t}) failed: {data}")
        ticks[t] = decode(["uint128", "int128"], data[:64])[1]

    return PoolState(
        sqrt_price_x96=sqrt_price_x96,
        tick=tick,
        liquidity=decode(["uint128"], liq)[0],
        fee=decode(["uint24"], fee)[0],
        tick_spacing=spacing_i,
        ticks=ticks,
        address=address,
        token0=to_checksum_address(token0[-20:]),
        token1=to_checksum_address(token1[-20:]),
    )


def load_pool_state(w3: Web3, pool_address: str, block: int | str = "latest") -> PoolState:
    """slot0, liquidity, fee, tickSpacing and every initialized tick with its liquidityNet.

    Initialized ticks come from the tickBitmap words (one call per word in the pool's tick
    range, batched) and then ticks(i) for each set bit. All reads are pinned to one block.
    """
    from core.chain.rpc import eth_calls  # local: keeps core.amm free of web3 at import

    pinned = w3.eth.block_number if block == "latest" else block
    steps = _loader(to_checksum_address(pool_address))
    calls = next(steps)
    try:
        while True:
            calls = steps.send(eth_calls(w3, calls, pinned))
    except StopIteration as done:
        state: PoolState = done.value
        return state


async def aload_pool_state(
    w3: AsyncWeb3[Any], pool_address: str, block: int | str = "latest"
) -> PoolState:
    """`load_pool_state` for AsyncWeb3."""
    from core.chain.rpc import aeth_calls

    pinned = await w3.eth.block_number if block == "latest" else block
    steps = _loader(to_checksum_address(pool_address))
    calls = next(steps)
    try:
        while True:
            calls = steps.send(await aeth_calls(w3, calls, pinned))
    except StopIteration as done:
        state: PoolState = done.value
        return state
