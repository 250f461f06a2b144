"""Read a Uniswap V3 pool's full swap state from a chain in three JSON-RPC batches."""

from __future__ import annotations

from typing import TYPE_CHECKING

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from core.amm.tick_math import MAX_TICK, MIN_TICK
from core.amm.v3 import PoolState

if TYPE_CHECKING:
    from web3 import Web3


def _sel(signature: str) -> bytes:
    return function_signature_to_4byte_selector(signature)


_SLOT0 = _sel("slot0()")
_LIQUIDITY = _sel("liquidity()")
_FEE = _sel("fee()")
_SPACING = _sel("tickSpacing()")
_TOKEN0 = _sel("token0()")
_TOKEN1 = _sel("token1()")
_BITMAP = _sel("tickBitmap(int16)")
_TICKS = _sel("ticks(int24)")


class PoolLoadError(RuntimeError):
    """The address is not a V3 pool, or the node failed a call."""


def load_pool_state(w3: Web3, pool_address: str, block: int | str = "latest") -> PoolState:
    """slot0, liquidity, fee, tickSpacing and every initialized tick with its liquidityNet.

    Initialized ticks come from the tickBitmap words (one call per word in the pool's tick
    range, batched) and then ticks(i) for each set bit. Pin `block` to get a consistent view.
    """
    from core.chain.rpc import RpcError, eth_calls  # local: keeps core.amm free of web3 at import

    address = to_checksum_address(pool_address)
    if isinstance(block, str):
        block = w3.eth.block_number if block == "latest" else block
    head = eth_calls(
        w3, [(address, s) for s in (_SLOT0, _LIQUIDITY, _FEE, _SPACING, _TOKEN0, _TOKEN1)], block
    )
    if any(isinstance(r, RpcError) or len(r) < 32 for r in head):
        raise PoolLoadError(f"{address} does not answer like a Uniswap V3 pool")
    slot0, liq, fee, spacing, token0, token1 = (r for r in head if isinstance(r, bytes))
    sqrt_price_x96, tick = decode(["uint160", "int24"], slot0[:64])
    spacing_i: int = decode(["int24"], spacing)[0]

    lo_word = (MIN_TICK // spacing_i) >> 8
    hi_word = (MAX_TICK // spacing_i) >> 8
    words = list(range(lo_word, hi_word + 1))
    bitmaps = eth_calls(w3, [(address, _BITMAP + encode(["int16"], [w])) for w in words], block)
    initialized: list[int] = []
    for word, data in zip(words, bitmaps, strict=True):
        if isinstance(data, RpcError):
            raise PoolLoadError(f"tickBitmap({word}) failed: {data}")
        bits = int.from_bytes(data, "big")
        while bits:
            low = bits & -bits
            initialized.append(((word << 8) + low.bit_length() - 1) * spacing_i)
            bits ^= low
    tick_data = eth_calls(
        w3, [(address, _TICKS + encode(["int24"], [t])) for t in initialized], block
    )
    ticks: dict[int, int] = {}
    for t, data in zip(initialized, tick_data, strict=True):
        if isinstance(data, RpcError):
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
