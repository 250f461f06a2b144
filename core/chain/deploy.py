"""Deploy WETH9, test tokens, Uniswap V2 (twice: Uniswap and a SushiSwap stand-in) and
Uniswap V3 with liquidity, from the official artifacts, and describe it all in a Manifest.

Every address is known before anything is sent (CREATE from the deployer's nonce, CREATE2 for
pairs and pools), so the whole deployment goes out as one JSON-RPC batch of transactions with
explicit nonces and gas; anvil mines them in nonce order. Receipts are then checked in one
more batch, and every revert is reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction
from math import isqrt
from typing import Any, cast

import rlp
from eth_abi import encode
from eth_utils import keccak, to_checksum_address
from web3 import Web3

from core.amm.tick_math import get_tick_at_sqrt_ratio
from core.chain.aave_deploy import deploy_aave
from core.chain.artifacts import (
    V2_PAIR_INIT_CODE_HASH,
    V3_POOL_INIT_CODE_HASH,
    Artifact,
    load,
)
from core.chain.devnet import CHAIN_ID, DevnetError
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

GAS_LIMIT = 8_000_000
RECEIPT_TIMEOUT_S = 30.0
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

# V2 pairs: (base, quote, USD depth per side) on each V2 exchange.
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
        ),
    ),
    "sushiswap": (
        30,
        (
            ("WETH", "USDC", 2_000_000),
            ("WBTC", "USDC", 1_500_000),
            ("WBTC", "WETH", 1_000_000),
            ("LINK", "WETH", 500_000),
        ),
    ),
}

V3_FEE_SPACING = {500: 10, 3000: 60}
V3_POOLS: tuple[tuple[str, str, int], ...] = (
    ("WETH", "USDC", 500),
    ("WETH", "USDC", 3000),
    ("WBTC", "USDC", 500),
    ("WBTC", "USDC", 3000),
    ("WBTC", "WETH", 500),
    ("WBTC", "WETH", 3000),
    ("LINK", "WETH", 3000),
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


def create_address(sender: str, nonce: int) -> str:
    return to_checksum_address(keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))[12:])


def create2_address(factory: str, salt: bytes, init_code_hash: str) -> str:
    raw = b"\xff" + bytes.fromhex(factory[2:]) + salt + bytes.fromhex(init_code_hash)
    return to_checksum_address(keccak(raw)[12:])


def sort_tokens(a: str, b: str) -> tuple[str, str]:
    return (a, b) if int(a, 16) < int(b, 16) else (b, a)


def v2_pair_address(factory: str, a: str, b: str) -> str:
    t0, t1 = sort_tokens(a, b)
    salt = keccak(bytes.fromhex(t0[2:]) + bytes.fromhex(t1[2:]))
    return create2_address(factory, salt, V2_PAIR_INIT_CODE_HASH)


def v3_pool_address(factory: str, a: str, b: str, fee: int) -> str:
    t0, t1 = sort_tokens(a, b)
    salt = keccak(encode(["address", "address", "uint24"], [t0, t1, fee]))
    return create2_address(factory, salt, V3_POOL_INIT_CODE_HASH)


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


class _Sender:
    """Queues transactions from one account with consecutive nonces, sent as one batch."""

    def __init__(self, w3: Web3, sender: str) -> None:
        self.w3 = w3
        self.sender = sender
        self.nonce = int(w3.eth.get_transaction_count(Web3.to_checksum_address(sender)))
        self.txs: list[tuple[str, dict[str, Any]]] = []

    def deploy(
        self, artifact: Artifact, types: list[str] | None = None, args: list[Any] | None = None
    ) -> str:
        data = artifact.bytecode + (encode(types, args or []) if types else b"")
        address = create_address(self.sender, self.nonce)
        self._queue(f"deploy {artifact.name}", {"data": "0x" + data.hex()})
        return address

    def call(self, label: str, to: str, data: str, value: int = 0) -> None:
        self._queue(label, {"to": to, "data": data, "value": hex(value)})

    def _queue(self, label: str, tx: dict[str, Any]) -> None:
        tx = {"from": self.sender, "nonce": hex(self.nonce), "gas": hex(GAS_LIMIT), **tx}
        self.txs.append((label, tx))
        self.nonce += 1

    def flush(self) -> None:
        """Send everything queued, then check every receipt; raise on any failure."""
        txs, self.txs = self.txs, []
        # Sent one by one: anvil serves a JSON-RPC batch concurrently, and transactions that
        # reach its pool out of nonce order can stall there. Receipts are awaited only once.
        hashes = [_send(self.w3, tx) for _, tx in txs]
        failures = [
            f"{label}: {h}"
            for (label, _), h in zip(txs, hashes, strict=True)
            if isinstance(h, RpcError)
        ]
        if failures:
            raise DevnetError("deployment transactions rejected: " + "; ".join(failures[:5]))
        receipts = self._wait_receipts(hashes)
        bad = [
            label
            for (label, _), r in zip(txs, receipts, strict=True)
            if isinstance(r, RpcError) or r is None or int(r["status"], 16) != 1
        ]
        if bad:
            raise DevnetError("deployment transactions reverted: " + "; ".join(bad[:5]))

    def _wait_receipts(self, hashes: list[Any]) -> list[Any]:
        # anvil answers eth_sendTransaction before mining, and automine fills one block per
        # arriving transaction: what did not fit the block gas limit waits for the next block,
        # so mine explicitly until every receipt is there.
        deadline = time.monotonic() + RECEIPT_TIMEOUT_S
        while True:
            receipts = batch(self.w3, [("eth_getTransactionReceipt", [h]) for h in hashes])
            if all(r is not None for r in receipts) or time.monotonic() > deadline:
                return receipts
            batch(self.w3, [("evm_mine", [])])


def _send(w3: Web3, tx: dict[str, Any]) -> Any:
    response = cast(Any, w3.provider).make_request("eth_sendTransaction", [tx])
    error = response.get("error")
    return RpcError("eth_sendTransaction", error) if error else response["result"]


def deploy_all(
    w3: Web3,
    rpc_url: str,
    accounts: list[DevAccount],
    anvil_pid: int | None = None,
    with_aave: bool = True,
) -> Manifest:
    """Deploy everything from accounts[0] and return the manifest (addresses checked on-chain).

    `with_aave` also deploys the Aave v3 market (core.chain.aave_deploy)."""
    deployer = accounts[0].address
    tx = _Sender(w3, deployer)

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
