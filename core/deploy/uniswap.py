"""Deploy WETH9, test tokens, Uniswap V2 (twice: Uniswap and a SushiSwap stand-in) and
Uniswap V3 with liquidity, from the official artifacts, and describe it all in a Manifest.

Every address is known before anything is sent (CREATE from the deployer's nonce, CREATE2 for
pairs and pools), so the whole deployment goes out as one JSON-RPC batch of transactions with
explicit nonces and gas; anvil mines them in nonce order. Receipts are then checked in one
more batch, and every revert is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import isqrt
from typing import Any

from eth_utils import to_checksum_address
from web3 import Web3

from core.amm.tick_math import get_tick_at_sqrt_ratio
from core.chain.addresses import sort_tokens, v2_pair_address, v3_pool_address
from core.chain.artifacts import (
    load,
)
from core.chain.manifest import (
    DevAccount,
    Manifest,
    TokenInfo,
    V2Deployment,
    V2PairInfo,
    V3Deployment,
    V3PoolInfo,
)
from core.chain.rpc import RpcError, batch
from core.deploy.aave import deploy_aave
from core.deploy.common import CHAIN_ID, DevnetError, Sender

DEADLINE = 2**40  # far future: deployment never races a deadline

# symbol, decimals, USD price: near real-world prices (late 2024).
TOKENS: tuple[tuple[str, int, Fraction], ...] = (
    ("USDC", 6, Fraction(1)),
    ("USDT", 6, Fraction(1)),
    ("DAI", 18, Fraction(1)),
    ("WBTC", 8, Fraction(95_000)),
    ("LINK", 18, Fraction(20)),
)
WETH_USD = Fraction(3_400)

# V2 pairs: (base, quote, USD depth per side) on each V2 exchange. Both exchanges are the
# official UniswapV2Factory / Router02 bytecode (SushiSwap's is the same code), so the pools the
# cycle search chains together across DEXes run the real pair contract on every hop.
V2_EXCHANGES: dict[str, tuple[int, tuple[tuple[str, str, int], ...]]] = {
    "uniswap_v2": (
        30,
        (
            ("WETH", "USDC", 6_000_000),
            ("WETH", "USDT", 3_000_000),
            ("WBTC", "USDC", 4_000_000),
            ("WBTC", "WETH", 3_000_000),
            ("LINK", "WETH", 1_000_000),
            ("DAI", "USDC", 2_000_000),
            ("WBTC", "USDT", 1_500_000),
            ("LINK", "USDC", 800_000),
            ("USDT", "USDC", 2_000_000),
            ("DAI", "WETH", 1_000_000),
        ),
    ),
    "sushiswap": (
        30,
        (
            ("WETH", "USDC", 2_000_000),
            ("WBTC", "USDC", 1_500_000),
            ("WBTC", "WETH", 1_000_000),
            ("LINK", "WETH", 500_000),
            ("WETH", "USDT", 1_000_000),
            ("WBTC", "USDT", 600_000),
            ("LINK", "USDC", 400_000),
            ("DAI", "USDC", 800_000),
        ),
    ),
}

# The three fee tiers the official UniswapV3Factory enables at deployment.
V3_FEE_SPACING = {500: 10, 3000: 60, 10000: 200}
V3_POOLS: tuple[tuple[str, str, int], ...] = (
    ("WETH", "USDC", 500),
    ("WETH", "USDC", 3000),
    ("WETH", "USDC", 10000),
    ("WETH", "USDT", 500),
    ("WETH", "USDT", 3000),
    ("WBTC", "USDC", 500),
    ("WBTC", "USDC", 3000),
    ("WBTC", "WETH", 500),
    ("WBTC", "WETH", 3000),
    ("WBTC", "WETH", 10000),
    ("LINK", "WETH", 3000),
    ("LINK", "WETH", 10000),
    ("LINK", "USDC", 3000),
    ("USDT", "USDC", 500),
    ("DAI", "USDC", 500),
)
# Positions per V3 pool: (lower, upper) tick offsets from the current tick, and USD per side.
# Nested ranges make the liquidity change at many ticks; the one-sided ones sit wholly above
# or below the price so swaps cross ranges that hold only one token.
V3_POSITIONS: tuple[tuple[int, int, int], ...] = (
    (-120, 120, 400_000),
    (-600, 600, 600_000),
    (-2_400, 2_400, 800_000),
    (-12_000, 12_000, 1_000_000),
    (-60_000, 60_000, 500_000),
    (300, 3_000, 200_000),
    (-3_000, -300, 200_000),
)
DEV_ACCOUNT_USD = 1_000_000  # of every test token, minted to each dev account


def sqrt_price_x96(raw_price_1_per_0: Fraction) -> int:
    """floor(sqrt(price) * 2^96) for a price in raw token1 units per raw token0 unit."""
    return isqrt(raw_price_1_per_0.numerator * (1 << 192) // raw_price_1_per_0.denominator)


@dataclass
class _Token:
    symbol: str
    decimals: int
    usd: Fraction
    address: str

    def raw(self, usd: Fraction | int) -> int:
        """Raw units worth `usd` dollars."""
        return int(Fraction(usd) / self.usd * 10**self.decimals)


def deploy_all(
    w3: Web3,
    rpc_url: str,
    accounts: list[DevAccount],
    anvil_pid: int | None = None,
    with_aave: bool = True,
) -> Manifest:
    """Deploy everything from accounts[0] and return the manifest (addresses checked on-chain).

    `with_aave` also deploys the Aave v3 market (core.deploy.aave)."""
    deployer = accounts[0].address
    tx = Sender(w3, deployer)

    def contract(name: str) -> Any:
        return w3.eth.contract(abi=load(name).abi)

    # -- contracts ------------------------------------------------------------------------
    weth = tx.deploy(load("WETH9"))
    tokens = {"WETH": _Token("WETH", 18, WETH_USD, weth)}
    for symbol, decimals, usd in TOKENS:
        address = tx.deploy(
            load("TestERC20"), ["string", "string", "uint8"], [symbol, symbol, decimals]
        )
        tokens[symbol] = _Token(symbol, decimals, usd, address)

    v2: dict[str, V2Deployment] = {}
    for name, (fee_bps, _) in V2_EXCHANGES.items():
        factory = tx.deploy(load("UniswapV2Factory"), ["address"], [deployer])
        router = tx.deploy(load("UniswapV2Router02"), ["address", "address"], [factory, weth])
        v2[name] = V2Deployment(name, factory, router, fee_bps)

    v3_factory = tx.deploy(load("UniswapV3Factory"))
    swap_router = tx.deploy(load("SwapRouter"), ["address", "address"], [v3_factory, weth])
    quoter = tx.deploy(load("QuoterV2"), ["address", "address"], [v3_factory, weth])
    # No token descriptor: tokenURI is for wallets' NFT display, which the devnet never needs.
    npm = tx.deploy(
        load("NonfungiblePositionManager"),
        ["address", "address", "address"],
        [v3_factory, weth, "0x" + "00" * 20],
    )

    # -- balances and approvals -----------------------------------------------------------
    erc20 = contract("TestERC20")
    big = 10**15  # whole tokens minted to the deployer: far beyond any pool's needs
    for t in tokens.values():
        if t.symbol != "WETH":
            tx.call(
                f"mint {t.symbol}",
                t.address,
                erc20.encode_abi("mint", [deployer, big * 10**t.decimals]),
            )
            for acct in accounts[1:]:
                tx.call(
                    f"mint {t.symbol}",
                    t.address,
                    erc20.encode_abi("mint", [acct.address, t.raw(DEV_ACCOUNT_USD)]),
                )
    tx.call("wrap ETH", weth, contract("WETH9").encode_abi("deposit", []), value=5_000_000 * 10**18)
    spenders = [d.router for d in v2.values()] + [npm, swap_router]
    for t in tokens.values():
        for spender in spenders:
            tx.call(
                f"approve {t.symbol}", t.address, erc20.encode_abi("approve", [spender, 2**256 - 1])
            )

    # -- V2 pairs, created by the router's addLiquidity ------------------------------------
    router_c = contract("UniswapV2Router02")
    for name, (_, pairs) in V2_EXCHANGES.items():
        d = v2[name]
        for base, quote, depth_usd in pairs:
            b, q = tokens[base], tokens[quote]
            data = router_c.encode_abi(
                "addLiquidity",
                [
                    b.address,
                    q.address,
                    b.raw(depth_usd),
                    q.raw(depth_usd),
                    0,
                    0,
                    deployer,
                    DEADLINE,
                ],
            )
            tx.call(f"{name} addLiquidity {base}/{quote}", d.router, data)
            t0, t1 = sort_tokens(b.address, q.address)
            pair = v2_pair_address(d.factory, b.address, q.address)
            d.pairs.append(V2PairInfo(f"{base}/{quote}", pair, t0, t1))

    # -- V3 pools with positions over several ranges --------------------------------------
    npm_c = contract("NonfungiblePositionManager")
    pools: list[V3PoolInfo] = []
    for base, quote, fee in V3_POOLS:
        b, q = tokens[base], tokens[quote]
        k0, k1 = (b, q) if int(b.address, 16) < int(q.address, 16) else (q, b)
        # raw token1 per raw token0 from the USD prices
        raw_price = (k0.usd / k1.usd) * Fraction(10**k1.decimals, 10**k0.decimals)
        sqrt_p = sqrt_price_x96(raw_price)
        tx.call(
            f"create V3 {base}/{quote}/{fee}",
            npm,
            npm_c.encode_abi(
                "createAndInitializePoolIfNecessary", [k0.address, k1.address, fee, sqrt_p]
            ),
        )
        spacing = V3_FEE_SPACING[fee]
        tick = get_tick_at_sqrt_ratio(sqrt_p)
        for lower, upper, side_usd in V3_POSITIONS:
            lo = (tick + lower) // spacing * spacing
            hi = -(-(tick + upper) // spacing) * spacing
            params = (
                k0.address,
                k1.address,
                fee,
                lo,
                hi,
                k0.raw(side_usd),
                k1.raw(side_usd),
                0,
                0,
                deployer,
                DEADLINE,
            )
            tx.call(
                f"mint V3 {base}/{quote}/{fee} [{lo},{hi}]", npm, npm_c.encode_abi("mint", [params])
            )
        address = v3_pool_address(v3_factory, k0.address, k1.address, fee)
        pools.append(V3PoolInfo(f"{base}/{quote}", address, k0.address, k1.address, fee, spacing))

    tx.flush()
    aave = deploy_aave(w3, tx, tokens, owner=deployer) if with_aave else None
    manifest = Manifest(
        chain_id=CHAIN_ID,
        rpc_url=rpc_url,
        deployed_block=w3.eth.block_number,
        deployer=deployer,
        weth=weth,
        tokens={s: TokenInfo(s, t.address, t.decimals) for s, t in tokens.items()},
        v2=v2,
        v3=V3Deployment(v3_factory, swap_router, quoter, npm, pools),
        accounts=accounts,
        anvil_pid=anvil_pid,
        aave=aave,
    )
    verify_manifest(w3, manifest)
    return manifest


def verify_manifest(w3: Web3, manifest: Manifest) -> None:
    """Check the factories know every precomputed pair / pool address."""
    factory_v2 = w3.eth.contract(abi=load("UniswapV2Factory").abi)
    factory_v3 = w3.eth.contract(abi=load("UniswapV3Factory").abi)
    calls: list[tuple[str, str, str]] = []
    for d in manifest.v2.values():
        for p in d.pairs:
            calls.append(
                (p.address, d.factory, factory_v2.encode_abi("getPair", [p.token0, p.token1]))
            )
    for pool in manifest.v3.pools:
        data = factory_v3.encode_abi("getPool", [pool.token0, pool.token1, pool.fee])
        calls.append((pool.address, manifest.v3.factory, data))
    results = batch(
        w3, [("eth_call", [{"to": to, "data": data}, "latest"]) for _, to, data in calls]
    )
    for (expected, _, _), result in zip(calls, results, strict=True):
        if isinstance(result, RpcError):
            raise DevnetError(f"factory lookup for {expected} failed: {result}")
        got = to_checksum_address("0x" + result[-40:])
        if got != expected:
            raise DevnetError(f"factory has {got}, expected {expected}")
