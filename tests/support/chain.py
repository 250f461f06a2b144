"""Small helpers for chain tests: contracts by artifact name, transactions from dev accounts."""

from __future__ import annotations

from typing import Any

from eth_abi import decode
from web3 import Web3

from core.chain.artifacts import load
from core.chain.rpc import RpcError, eth_calls
from core.deploy.devnet import Devnet
from core.deploy.uniswap import DEADLINE

MAX_UINT = 2**256 - 1


def contract(w3: Web3, name: str, address: str | None = None) -> Any:
    if address is None:
        return w3.eth.contract(abi=load(name).abi)
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=load(name).abi)


def send(devnet: Devnet, fn: Any, sender: str | None = None, value: int = 0) -> Any:
    """Send a contract call from an unlocked dev account; assert it succeeded; the receipt."""
    tx_hash = fn.transact({"from": sender or devnet.manifest.deployer, "value": value})
    receipt = devnet.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)
    assert receipt["status"] == 1, f"transaction reverted: {receipt}"
    return receipt


def deploy_token(devnet: Devnet, symbol: str, decimals: int) -> str:
    """A fresh TestERC20, minted to the deployer and approved for every router."""
    w3 = devnet.w3
    factory = w3.eth.contract(abi=load("TestERC20").abi, bytecode=load("TestERC20").bytecode)
    receipt = send(devnet, factory.constructor(symbol, symbol, decimals))
    address = receipt["contractAddress"]
    token = contract(w3, "TestERC20", address)
    send(devnet, token.functions.mint(devnet.manifest.deployer, 10**40))
    m = devnet.manifest
    for spender in [d.router for d in m.v2.values()] + [m.v3.swap_router, m.v3.position_manager]:
        send(devnet, token.functions.approve(spender, MAX_UINT))
    return str(address)


def v2_reserves(devnet: Devnet, pair: str) -> tuple[int, int]:
    data = eth_calls(devnet.w3, [(pair, bytes.fromhex("0902f1ac"))])[0]  # getReserves()
    assert not isinstance(data, RpcError), data
    r0, r1, _ = decode(["uint112", "uint112", "uint32"], data)
    return r0, r1


def balance(devnet: Devnet, token: str, owner: str) -> int:
    return int(contract(devnet.w3, "TestERC20", token).functions.balanceOf(owner).call())


__all__ = ["DEADLINE", "balance", "contract", "deploy_token", "send", "v2_reserves"]
