"""Pool states for the liquidation routes (core.amm.routes.RouteBook): the route book of a
manifest's pools, and every pool's state read at one block."""

from __future__ import annotations

from eth_abi import decode
from web3 import Web3

from core.amm.routes import ROUTE_V2, ROUTE_V3, PoolRef, RouteBook
from core.chain.manifest import Manifest
from core.chain.rpc import RpcError, eth_calls
from core.feeds.pool_state import load_pool_state

_GET_RESERVES = bytes.fromhex("0902f1ac")


def route_book_from_manifest(manifest: Manifest) -> RouteBook:
    """Every V2 pair and V3 pool of a manifest, with no state yet."""
    pools: list[PoolRef] = []
    for name, d in manifest.v2.items():
        for pair in d.pairs:
            pools.append(PoolRef(ROUTE_V2, name, pair.address, pair.token0, pair.token1, d.fee_bps))
    for pool in manifest.v3.pools:
        pools.append(
            PoolRef(
                ROUTE_V3, f"uniswap_v3_{pool.fee}", pool.address, pool.token0, pool.token1, pool.fee
            )
        )
    return RouteBook(pools)


def load_route_states(book: RouteBook, w3: Web3, block: int | str = "latest") -> None:
    """Read every pool of `book` at `block` (V2 reserves in one batch; V3 ticks per pool)."""
    v2 = [p for p in book.pools if p.kind == ROUTE_V2]
    results = eth_calls(w3, [(p.address, _GET_RESERVES) for p in v2], block)
    for p, r in zip(v2, results, strict=True):
        if not isinstance(r, RpcError):
            r0, r1, _ = decode(["uint112", "uint112", "uint32"], r)
            book.v2[p.address] = (r0, r1)
    for p in book.pools:
        if p.kind == ROUTE_V3:
            book.v3[p.address] = load_pool_state(w3, p.address, block)
