"""Reading an Aave v3 market and its borrowers, all at one block, through Multicall3.

Sans-IO: `AaveReader` builds calldata and decodes answers; `read_market` / `read_positions`
(sync) and their `a`-prefixed twins (async) do the round trips via core.chain.rpc batches.
Per user one Multicall3 sub-call each for: the configuration bitmap, every reserve's scaled
aToken and scaled variable-debt balance and stable-debt balance, and getUserAccountData (the
chain's own answer, kept next to the local one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import decode, encode
from eth_utils import keccak
from web3 import AsyncWeb3, Web3

from core.chain.manifest import AaveDeployment
from core.chain.rpc import Call, RpcError, aeth_calls, eth_calls
from core.lending.health_factor import Market, PositionBalances, ReserveState

USERS_PER_MULTICALL = 150


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


_GET_RESERVE_DATA = _selector("getReserveData(address)")
_GET_ASSETS_PRICES = _selector("getAssetsPrices(address[])")
_TIMESTAMP = _selector("getCurrentBlockTimestamp()")
_BLOCK_NUMBER = _selector("getBlockNumber()")
_FLASH_PREMIUM = _selector("FLASHLOAN_PREMIUM_TOTAL()")
_AGGREGATE3 = _selector("aggregate3((address,bool,bytes)[])")
_USER_CONFIG = _selector("getUserConfiguration(address)")
_SCALED_BALANCE = _selector("scaledBalanceOf(address)")
_BALANCE_OF = _selector("balanceOf(address)")
_ACCOUNT_DATA = _selector("getUserAccountData(address)")
_RESERVE_DATA_TYPES = [
    "uint256",  # configuration
    "uint128",  # liquidityIndex
    "uint128",  # currentLiquidityRate
    "uint128",  # variableBorrowIndex
    "uint128",  # currentVariableBorrowRate
    "uint128",  # currentStableBorrowRate
    "uint40",  # lastUpdateTimestamp
    "uint16",  # id
    "address",
    "address",
    "address",
    "address",
    "uint128",
    "uint128",
    "uint128",
]


class LendingReadError(RuntimeError):
    """A market read failed (RPC error or revert); positions read before stay as they were."""


@dataclass(frozen=True, slots=True)
class ChainAccountData:
    """`Pool.getUserAccountData` as returned (base currency, 8 decimals; HF in wad)."""

    total_collateral_base: int
    total_debt_base: int
    available_borrows_base: int
    liquidation_threshold_bps: int
    ltv_bps: int
    health_factor_wad: int


@dataclass(frozen=True, slots=True)
class PositionRead:
    balances: PositionBalances
    chain: ChainAccountData


def _addr_arg(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


class AaveReader:
    """Calldata and decoding for one Aave market (addresses from the manifest)."""

    def __init__(self, aave: AaveDeployment) -> None:
        self.aave = aave
        self.symbols = tuple(aave.reserves)
        self.assets = tuple(r.asset for r in aave.reserves.values())

    # -- market ------------------------------------------------------------------------
    def market_calls(self) -> list[Call]:
        pool = self.aave.pool
        calls: list[Call] = [(pool, _GET_RESERVE_DATA + _addr_arg(a)) for a in self.assets]
        prices = _GET_ASSETS_PRICES + encode(["address[]"], [list(self.assets)])
        calls.append((self.aave.oracle, prices))
        calls.append((self.aave.multicall3, _TIMESTAMP))
        calls.append((self.aave.multicall3, _BLOCK_NUMBER))
        # The premium is governance-set: the forecast reads it, not the deployment constant.
        calls.append((pool, _FLASH_PREMIUM))
        return calls

    def decode_market(self, results: Sequence[bytes | RpcError]) -> tuple[Market, int]:
        """(market, block number) from the answers to `market_calls`."""
        for r in results:
            if isinstance(r, RpcError):
                raise LendingReadError(f"market read failed: {r}")
        n = len(self.assets)
        reserves: list[ReserveState] = []
        for symbol, asset, raw in zip(self.symbols, self.assets, results[:n], strict=True):
            f = decode(_RESERVE_DATA_TYPES, raw)  # type: ignore[arg-type]
            reserves.append(
                ReserveState(
                    id=f[7],
                    symbol=symbol,
                    asset=asset,
                    configuration=f[0],
                    liquidity_index=f[1],
                    current_liquidity_rate=f[2],
                    variable_borrow_index=f[3],
                    current_variable_borrow_rate=f[4],
                    last_update_ts=f[6],
                    a_token=Web3.to_checksum_address(f[8]),
                    stable_debt_token=Web3.to_checksum_address(f[9]),
                    variable_debt_token=Web3.to_checksum_address(f[10]),
                )
            )
        (prices,) = decode(["uint256[]"], results[n])  # type: ignore[arg-type]
        by_id = sorted(zip(reserves, prices, strict=True), key=lambda rp: rp[0].id)
        if [r.id for r, _ in by_id] != list(range(n)):
            raise LendingReadError("reserve ids are not 0..n-1: the market has unlisted reserves")
        (timestamp,) = decode(["uint256"], results[n + 1])  # type: ignore[arg-type]
        (block,) = decode(["uint256"], results[n + 2])  # type: ignore[arg-type]
        (premium,) = decode(["uint128"], results[n + 3])  # type: ignore[arg-type]
        market = Market(tuple(r for r, _ in by_id), tuple(p for _, p in by_id), timestamp, premium)
        return market, block

    # -- positions ---------------------------------------------------------------------
    def position_calls(self, users: Sequence[str], market: Market) -> list[Call]:
        """One aggregate3 call per USERS_PER_MULTICALL users."""
        calls: list[Call] = []
        for start in range(0, len(users), USERS_PER_MULTICALL):
            sub: list[tuple[str, bool, bytes]] = []
            for user in users[start : start + USERS_PER_MULTICALL]:
                arg = _addr_arg(user)
                sub.append((self.aave.pool, True, _USER_CONFIG + arg))
                for r in market.reserves:
                    sub.append((r.a_token, True, _SCALED_BALANCE + arg))
                    sub.append((r.variable_debt_token, True, _SCALED_BALANCE + arg))
                    sub.append((r.stable_debt_token, True, _BALANCE_OF + arg))
                sub.append((self.aave.pool, True, _ACCOUNT_DATA + arg))
            calls.append(
                (self.aave.multicall3, _AGGREGATE3 + encode(["(address,bool,bytes)[]"], [sub]))
            )
        return calls

    def decode_positions(
        self, users: Sequence[str], market: Market, results: Sequence[bytes | RpcError]
    ) -> dict[str, PositionRead | LendingReadError]:
        """Each user's read, or the error that kept it from being read."""
        n = len(market.reserves)
        per_user = 2 + 3 * n
        out: dict[str, PositionRead | LendingReadError] = {}
        for chunk, result in enumerate(results):
            chunk_users = users[chunk * USERS_PER_MULTICALL : (chunk + 1) * USERS_PER_MULTICALL]
            if isinstance(result, RpcError):
                for user in chunk_users:
                    out[user] = LendingReadError(f"multicall failed: {result}")
                continue
            (answers,) = decode(["(bool,bytes)[]"], result)
            for k, user in enumerate(chunk_users):
                part = answers[k * per_user : (k + 1) * per_user]
                if not all(ok for ok, _ in part):
                    out[user] = LendingReadError(f"a read for {user} reverted")
                    continue
                words = [int.from_bytes(data[:32], "big") for _, data in part[:-1]]
                coll = tuple(words[1 + 3 * i] for i in range(n))
                vdebt = tuple(words[2 + 3 * i] for i in range(n))
                sdebt = tuple(words[3 + 3 * i] for i in range(n))
                acct = decode(["uint256"] * 6, part[-1][1])
                out[user] = PositionRead(
                    PositionBalances(user, words[0], coll, vdebt, sdebt),
                    ChainAccountData(*acct),
                )
        return out


def read_market(w3: Web3, reader: AaveReader, block: int | str = "latest") -> tuple[Market, int]:
    return reader.decode_market(eth_calls(w3, reader.market_calls(), block))


async def aread_market(
    w3: AsyncWeb3[Any], reader: AaveReader, block: int | str = "latest"
) -> tuple[Market, int]:
    return reader.decode_market(await aeth_calls(w3, reader.market_calls(), block))


def read_positions(
    w3: Web3, reader: AaveReader, users: Sequence[str], market: Market, block: int | str
) -> dict[str, PositionRead | LendingReadError]:
    calls = reader.position_calls(users, market)
    return reader.decode_positions(users, market, eth_calls(w3, calls, block))


async def aread_positions(
    w3: AsyncWeb3[Any],
    reader: AaveReader,
    users: Sequence[str],
    market: Market,
    block: int | str,
) -> dict[str, PositionRead | LendingReadError]:
    calls = reader.position_calls(users, market)
    return reader.decode_positions(users, market, await aeth_calls(w3, calls, block))
