"""Liquidator.sol with awkward tokens and pools: a USDT-like debt asset (no return values, no
non-zero to non-zero approve) listed on the devnet's Aave market is liquidated with a profit;
the contract's sqrt-price limits are TickMath's own."""

from __future__ import annotations

import json
from typing import Any

import pytest
from web3 import Web3
from web3.logs import DISCARD

from core.amm.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO
from core.chain.aave_artifacts import PRICE_DECIMALS, aave_abi, load_aave
from core.chain.artifacts import contracts_out_dir
from core.deploy.aave import RAY
from core.deploy.devnet import Devnet
from tests.support.chain import DEADLINE, MAX_UINT, balance, contract, send

pytestmark = pytest.mark.devnet

ZERO = "0x" + "00" * 20
WETH_USD = 3_400
USDT = 10**6


def _deploy(devnet: Devnet, abi: Any, bytecode: Any, args: list[Any]) -> Any:
    factory = devnet.w3.eth.contract(abi=abi, bytecode=bytecode)
    receipt = send(devnet, factory.constructor(*args))
    return devnet.w3.eth.contract(address=receipt["contractAddress"], abi=abi)


def _aave(devnet: Devnet, name: str, args: list[Any]) -> Any:
    art = load_aave(name)
    return _deploy(devnet, art.abi, art.bytecode, args)


def _at(devnet: Devnet, name: str, address: str) -> Any:
    return devnet.w3.eth.contract(address=Web3.to_checksum_address(address), abi=aave_abi(name))


def _list_tether(devnet: Devnet) -> Any:
    """A USDT-like token, listed on the Aave market (borrowable, flash-loanable, 1 USD),
    supplied by the deployer, with a deep WETH/USDT Uniswap V2 pair."""
    m = devnet.manifest
    aave = m.aave
    assert aave is not None
    art = json.loads((contracts_out_dir() / "TestTetherToken.json").read_text())
    usdt = _deploy(devnet, art["abi"], art["bytecode"], ["Tether USD", "USDT", 6])
    send(devnet, usdt.functions.mint(m.deployer, 10**10 * USDT))
    feed = _aave(devnet, "PriceFeed", [PRICE_DECIMALS, "USDT / USD", 10**PRICE_DECIMALS])
    oracle = _at(devnet, "AaveOracle", aave.oracle)
    send(devnet, oracle.functions.setAssetSources([usdt.address], [feed.address]))
    impls = [_aave(devnet, n, [aave.pool]).address for n in ("AToken", "StableDebtToken")]
    impls.append(_aave(devnet, "VariableDebtToken", [aave.pool]).address)
    strategy = _aave(
        devnet,
        "DefaultReserveInterestRateStrategy",
        [aave.addresses_provider, RAY * 9 // 10, 0, RAY * 4 // 100, RAY * 60 // 100]
        + [0, 0, 0, 0, RAY // 5],
    )
    cfg = _at(devnet, "PoolConfigurator", aave.pool_configurator)
    names = ["aUSDT", "aUSDT", "vUSDT", "vUSDT", "sUSDT", "sUSDT"]
    reserve = (*impls, 6, strategy.address, usdt.address, m.deployer, ZERO, *names, b"")
    send(devnet, cfg.functions.initReserves([reserve]))
    send(devnet, cfg.functions.setReserveBorrowing(usdt.address, True))
    send(devnet, cfg.functions.setReserveFlashLoaning(usdt.address, True))
    pool = _at(devnet, "Pool", aave.pool)
    send(devnet, usdt.functions.approve(aave.pool, MAX_UINT))
    send(devnet, pool.functions.supply(usdt.address, 10**8 * USDT, m.deployer, 0))
    weth = contract(devnet.w3, "WETH9", m.weth)
    send(devnet, weth.functions.deposit(), value=2_000 * 10**18)
    router = contract(devnet.w3, "UniswapV2Router02", m.v2["uniswap_v2"].router)
    send(devnet, usdt.functions.approve(router.address, MAX_UINT))
    send(devnet, weth.functions.approve(router.address, MAX_UINT))
    send(
        devnet,
        router.functions.addLiquidity(
            m.weth,
            usdt.address,
            1_000 * 10**18,
            1_000 * WETH_USD * 9 // 10 * USDT,
            0,
            0,
            m.deployer,
            DEADLINE,
        ),
    )
    return usdt


def test_sqrt_price_limits_are_tickmaths(devnet: Devnet) -> None:
    aave = devnet.manifest.aave
    assert aave is not None
    art = json.loads((contracts_out_dir() / "Liquidator.json").read_text())
    liquidator = devnet.w3.eth.contract(
        address=Web3.to_checksum_address(aave.liquidator), abi=art["abi"]
    )
    assert liquidator.functions.MIN_SQRT_RATIO().call() == MIN_SQRT_RATIO
    assert liquidator.functions.MAX_SQRT_RATIO().call() == MAX_SQRT_RATIO


def test_a_usdt_like_debt_is_liquidated_with_a_profit(clean_chain: Devnet) -> None:
    devnet = clean_chain
    m = devnet.manifest
    aave = m.aave
    assert aave is not None
    usdt = _list_tether(devnet)
    # A borrower: 10 WETH of collateral, 26 000 USDT of debt; WETH then falls 10 %.
    user = m.accounts[3].address
    weth = contract(devnet.w3, "WETH9", m.weth)
    send(devnet, weth.functions.deposit(), sender=user, value=10 * 10**18)
    send(devnet, weth.functions.approve(aave.pool, MAX_UINT), sender=user)
    pool = _at(devnet, "Pool", aave.pool)
    send(devnet, pool.functions.supply(m.weth, 10 * 10**18, user, 0), sender=user)
    send(devnet, pool.functions.borrow(usdt.address, 26_000 * USDT, 2, 0, user), sender=user)
    feed = _at(devnet, "PriceFeed", aave.reserves["WETH"].price_feed)
    send(devnet, feed.functions.setPrice(WETH_USD * 9 // 10 * 10**PRICE_DECIMALS))
    assert pool.functions.getUserAccountData(user).call()[5] < 10**18  # health factor
    factory = contract(devnet.w3, "UniswapV2Factory", m.v2["uniswap_v2"].factory)
    pair = factory.functions.getPair(m.weth, usdt.address).call()

    art = json.loads((contracts_out_dir() / "Liquidator.json").read_text())
    liquidator = devnet.w3.eth.contract(
        address=Web3.to_checksum_address(aave.liquidator), abi=art["abi"]
    )
    owner = aave.liquidator_owner
    before = balance(devnet, usdt.address, owner)
    # More than the close factor lets through: the Pool pulls less than it was approved, and
    # the repayment's approve then changes a non-zero allowance (through zero, as USDT needs).
    params = (m.weth, usdt.address, user, 20_000 * USDT, 0, pair, 30, 0)
    receipt = send(devnet, liquidator.functions.liquidate(params), sender=owner)
    (event,) = liquidator.events.Liquidated().process_receipt(receipt, errors=DISCARD)
    profit = event["args"]["profit"]
    assert profit > 0
    assert balance(devnet, usdt.address, owner) - before == profit
    assert event["args"]["debtRepaid"] < 20_000 * USDT
    assert balance(devnet, usdt.address, aave.liquidator) == 0
    assert balance(devnet, m.weth, aave.liquidator) == 0
