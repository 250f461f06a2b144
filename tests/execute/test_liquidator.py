"""Liquidator.sol on the devnet, signed locally by the owner's key: a profitable liquidation pays
the owner exactly what the journal says (and what the detector forecast), its gas is measured
(estimate, then receipt), an unprofitable one reverts, a healed position is decoded and not
retried, strangers are refused, a wallet that does not own it sends nothing, no route means not
executed."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from web3 import AsyncHTTPProvider, AsyncWeb3, Web3

from core.amm.routes import RouteBook
from core.chain.aave_artifacts import aave_abi
from core.chain.fee_oracle import FeeOracle
from core.deploy.devnet import Devnet
from core.detect.liquidations import (
    GAS_LIQUIDATION_V2,
    GAS_LIQUIDATION_V3,
    LiquidationGas,
    LiquidationOpportunity,
    best_liquidation,
    new_liquidation_id,
    swap_kind,
)
from core.engine.lending import owner_dev_key
from core.execute.dex import TxSender
from core.execute.liquidate import LiquidationExecutor, liquidator_decoder
from core.feeds.aave_reader import AaveReader, PositionRead, read_market, read_positions
from core.feeds.route_states import load_route_states, route_book_from_manifest
from core.feeds.sim.borrowers import BorrowerSim, BorrowerSpec
from core.journal import Journal
from core.lending.health_factor import account_data

GAS_PRICE_WEI = 2 * 10**9


def _underwater(devnet: Devnet, coll: str = "WETH", debt: str = "USDC") -> tuple[BorrowerSim, str]:
    sim = BorrowerSim(devnet.w3, devnet.manifest, seed=11)
    (user,) = sim.open_positions([BorrowerSpec({coll: 150_000}, debt, 1.05)])
    price = {"WETH": 3_400, "WBTC": 95_000}[coll]
    sim.set_prices({coll: Decimal(price) * Decimal("0.92")})  # HF ~0.966: 50% close factor
    return sim, user


def _opportunity(
    devnet: Devnet, user: str, routes: RouteBook | None = None
) -> LiquidationOpportunity:
    aave = devnet.manifest.aave
    assert aave is not None
    reader = AaveReader(aave)
    market, block = read_market(devnet.w3, reader)
    # Forecast at the next block's timestamp: that is when the liquidation will execute.
    market = market.with_timestamp(market.timestamp + 1)
    read = read_positions(devnet.w3, reader, [user], market, block)[user]
    assert isinstance(read, PositionRead)
    data = account_data(read.balances, market)
    assert data.liquidatable
    if routes is None:
        routes = route_book_from_manifest(devnet.manifest)
        load_route_states(routes, devnet.w3, block)
    plan = best_liquidation(
        market, read.balances, data, routes, aave.flash_loan_premium_bps, GAS_PRICE_WEI
    )
    assert plan is not None
    return LiquidationOpportunity(
        new_liquidation_id(), user, plan, data.health_factor_wad / 1e18, 0.0, 1e12, block
    )


def _executor(
    devnet: Devnet, journal: Journal | None = None, key: str | None = None
) -> LiquidationExecutor:
    """Signed locally with the owner's key (the devnet account that deployed the Liquidator)."""
    aave = devnet.manifest.aave
    assert aave is not None
    aw3: Any = AsyncWeb3(AsyncHTTPProvider(devnet.rpc_url))
    key = key or owner_dev_key(devnet.manifest)
    assert key is not None
    sender = TxSender(
        aw3, key, devnet.manifest.chain_id, FeeOracle(0.01, 200), liquidator_decoder()
    )
    return LiquidationExecutor(sender, aave, journal, gas=LiquidationGas())


def _next_timestamp(devnet: Devnet) -> None:
    """Make the next block exactly one second after the latest (the forecast's assumption)."""
    ts = devnet.w3.eth.get_block("latest")["timestamp"]
    devnet.w3.provider.make_request("evm_setNextBlockTimestamp", [ts + 1])  # type: ignore[arg-type]


async def test_liquidation_pays_owner_what_the_journal_says(
    clean_chain: Devnet, tmp_path: Path
) -> None:
    devnet = clean_chain
    _, user = _underwater(devnet)
    opp = _opportunity(devnet, user)
    assert opp.plan.swap is not None and opp.plan.profit_raw > 0
    aave = devnet.manifest.aave
    assert aave is not None
    usdc = devnet.w3.eth.contract(
        address=Web3.to_checksum_address(aave.reserves["USDC"].asset), abi=aave_abi("AToken")
    )
    owner = Web3.to_checksum_address(aave.liquidator_owner)
    before = usdc.functions.balanceOf(owner).call()
    with Journal(tmp_path / "j.sqlite") as journal:
        executor = _executor(devnet, journal)
        _next_timestamp(devnet)
        record = await executor.execute(opp, min_profit_raw=opp.plan.profit_raw)
        stored = journal.opportunity(opp.id)
    assert record.status == "liquidated", record.reason
    assert record.block is not None and record.gas_used is not None
    after = usdc.functions.balanceOf(owner).call(block_identifier=record.block)
    eth_before = devnet.w3.eth.get_balance(owner, record.block - 1)
    eth_after = devnet.w3.eth.get_balance(owner, record.block)
    assert usdc.functions.balanceOf(owner).call(block_identifier=record.block - 1) == before
    assert record.profit_raw == after - before
    assert record.profit_raw == opp.plan.profit_raw  # the forecast was exact
    assert stored is not None and stored["status"] == "liquidated"
    assert int(stored["data"]["profit_raw"]) == after - before
    assert stored["data"]["balance_changes"]["USDC"] == str(after - before)
    assert stored["data"]["balance_changes"]["ETH"] == str(eth_after - eth_before)
    assert record.gas_cost_wei == eth_before - eth_after
    # Signed locally: an EIP-1559 transaction from the owner, nonce from the manager.
    tx = devnet.w3.eth.get_transaction(record.tx_hash)  # type: ignore[arg-type]
    assert tx["from"] == owner and tx["type"] == 2
    # Gas measured: the estimate sized the limit, the receipt replaced it in the table.
    kind = swap_kind(opp.plan.swap)
    assert executor.gas.source[kind] == "receipt"
    assert executor.gas.units[kind] == record.gas_used
    assert record.gas_used != {"v2": GAS_LIQUIDATION_V2, "v3": GAS_LIQUIDATION_V3}[kind]
    assert executor.sent == 1


async def test_unprofitable_liquidation_reverts(clean_chain: Devnet) -> None:
    devnet = clean_chain
    _, user = _underwater(devnet)
    opp = _opportunity(devnet, user)
    executor = _executor(devnet)
    refused = await executor.execute(opp, min_profit_raw=opp.plan.profit_raw + 1)
    assert refused.status == "refused" and "ProfitTooLow" in refused.reason
    assert executor.sent == 0
    _next_timestamp(devnet)
    reverted = await executor.execute(opp, min_profit_raw=opp.plan.profit_raw + 1, preflight=False)
    assert reverted.status == "reverted"
    assert reverted.reason == f"ProfitTooLow({opp.plan.profit_raw}, {opp.plan.profit_raw + 1})"
    assert executor.sent == 1


async def test_position_healed_before_landing_is_decoded_not_retried(clean_chain: Devnet) -> None:
    devnet = clean_chain
    sim, user = _underwater(devnet)
    opp = _opportunity(devnet, user)
    sim.set_prices({"WETH": 3_400})  # healthy again before our transaction lands
    executor = _executor(devnet)
    record = await executor.execute(opp, min_profit_raw=0, preflight=False)
    assert record.status == "reverted"
    assert "45 HEALTH_FACTOR_NOT_BELOW_THRESHOLD" in record.reason
    assert executor.sent == 1
    again = await executor.execute(opp, min_profit_raw=0)  # the pre-flight catches it: no tx
    assert again.status == "refused" and "HEALTH_FACTOR_NOT_BELOW_THRESHOLD" in again.reason
    assert executor.sent == 1


async def test_stranger_cannot_call_the_liquidator(clean_chain: Devnet) -> None:
    devnet = clean_chain
    _, user = _underwater(devnet)
    opp = _opportunity(devnet, user)
    aave = devnet.manifest.aave
    assert aave is not None
    executor = _executor(devnet)
    contract = devnet.w3.eth.contract(
        address=Web3.to_checksum_address(aave.liquidator), abi=aave_abi("Liquidator")
    )
    stranger = devnet.manifest.accounts[3]
    fn = contract.functions.liquidate(executor.params(opp, 0))
    with pytest.raises(Exception) as caught:
        fn.call({"from": stranger.address})
    assert executor.decode(caught.value) == "NotOwner()"
    callback = contract.functions.executeOperation(
        aave.reserves["USDC"].asset, 1, 0, aave.liquidator, b""
    )
    with pytest.raises(Exception) as caught:
        callback.call({"from": stranger.address})
    assert executor.decode(caught.value) == "BadCallback()"
    # A wallet that is not the owner signs nothing.
    other = _executor(devnet, key=stranger.private_key)
    record = await other.execute(opp, min_profit_raw=0)
    assert record.status == "refused" and "does not own the Liquidator" in record.reason
    assert other.sent == 0


async def test_no_swap_route_is_shown_not_executed(clean_chain: Devnet) -> None:
    devnet = clean_chain
    _, user = _underwater(devnet)
    aave = devnet.manifest.aave
    assert aave is not None
    full = route_book_from_manifest(devnet.manifest)
    weth, usdc = aave.reserves["WETH"].asset, aave.reserves["USDC"].asset
    routes = RouteBook([p for p in full.pools if {p.token0, p.token1} != {weth, usdc}])
    load_route_states(routes, devnet.w3)
    opp = _opportunity(devnet, user, routes)
    assert opp.plan.swap is None and opp.plan.collateral_received > 0
    executor = _executor(devnet)
    record = await executor.execute(opp, min_profit_raw=0)
    assert record.status == "refused" and "no swap route" in record.reason
    assert executor.sent == 0
