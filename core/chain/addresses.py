"""Contract addresses as the EVM and the Uniswap factories compute them: CREATE, CREATE2,
V2 pair and V3 pool addresses."""

from __future__ import annotations

import rlp
from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from core.chain.artifacts import (
    V2_PAIR_INIT_CODE_HASH,
    V3_POOL_INIT_CODE_HASH,
)


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
