"""Liquidations through the engine (sim mode: the session devnet, reverted per test; the sim CEX): a
borrower pushed under HF 1 by the oracle following the sim's fair price shows up in the
watchlist and as a pending liquidation; the kill switch refuses it, nothing is sent; approval
liquidates it through Liquidator.sol, signed by the owner's key, and the journal's realized
profit is the owner's on-chain balance change to the wei; the breaker counts it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import pytest
from web3 import Web3

from core.chain.aave_artifacts import aave_abi
from core.deploy.devnet import Devnet
from core.engine.engine import Engine
from core.engine.lending import LendingService
from core.execute.liquidation_gate import LIQUIDATION_VENUE
from core.feeds.sim.borrowers import BorrowerSpec
from core.settings import (
    JournalSettings,
    LendingSettings,
    LoggingSettings,
    Settings,
    SimSettings,
    ThresholdSettings,
    VenueKind,
    VenueSettings,
)

pytestmark = [pytest.mark.devnet, pytest.mark.timeout(60)]

ETH_DROP = 0.93  # the sim's ETH fair price as the engine reads it: 7% lower


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        journal=JournalSettings(path=tmp_path / "journal.sqlite3"),
        sim=SimSettings(dislocation_rate_per_min=0.0),
        thresholds=ThresholdSettings(stale_after_ms=10_000),
        logging=LoggingSettings(path=tmp_path / "arbdesk.log"),
        venues=[
            VenueSettings(
                name="simex", kind=VenueKind.SIM, taker_fee_bps=10.0, symbols=["ETH/USDT"]
            )
        ],
        lending=LendingSettings(
            sim_borrowers=0,
            sim_new_borrower_every_s=0,
            min_profit_usd=1.0,
            poll_interval_s=0.2,
            opportunity_ttl_s=60.0,
        ),
    )


async def _wait(condition: Callable[[], object], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


@pytest.fixture
async def engine(clean_chain: Devnet, tmp_path: Path) -> AsyncIterator[Engine]:
    """The engine on the session's devnet, reverted to its snapshot after the test."""
    engine = Engine(_settings(tmp_path), devnet=clean_chain)
    await engine.start()
    try:
        assert engine.onchain is not None and engine.onchain.noise is not None
        engine.onchain.noise.enabled = False  # pools stay put: the forecast is the test's
        assert engine.lending is not None, "the lending service did not start"
        yield engine
    finally:
        await engine.stop()


async def test_underwater_position_liquidated_through_the_engine(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = engine.lending
    assert isinstance(service, LendingService) and service.executor is not None
    assert engine.onchain is not None and engine.onchain.devnet is not None
    (user,) = await service.sim_open([BorrowerSpec({"WETH": 150_000}, "USDC", 1.05)])
    await _wait(lambda: any(r.user == user for r in engine.liquidation_watchlist()))
    row = next(r for r in engine.liquidation_watchlist() if r.user == user)
    assert not row.liquidatable and engine.pending_liquidations() == []

    # The engine's sim loop moves the Aave oracle to the sim's fair price: drop ETH there.
    sim = engine.sim_market
    fair = sim.usd_price
    monkeypatch.setattr(sim, "usd_price", lambda a: fair(a) * (ETH_DROP if a == "ETH" else 1))
    await _wait(lambda: any(o.user == user for o in engine.pending_liquidations()))
    opportunity = next(o for o in engine.pending_liquidations() if o.user == user)
    row = next(r for r in engine.liquidation_watchlist() if r.user == user)
    assert row.liquidatable and row.profitable and row.opportunity_id == opportunity.id
    assert opportunity.health_factor < 1

    # Kill switch: refused by the breaker, nothing signed.
    engine.kill("test")
    text = await engine.approve(opportunity.id)
    assert "refused" in text and service.executor.sent == 0
    engine.resume()

    aave = engine.onchain.devnet.manifest.aave
    assert aave is not None
    w3 = engine.onchain.devnet.w3
    owner = Web3.to_checksum_address(aave.liquidator_owner)
    usdc = w3.eth.contract(
        address=Web3.to_checksum_address(aave.reserves["USDC"].asset), abi=aave_abi("AToken")
    )
    pnl_before = engine.pnl_today_usd()
    text = await engine.approve(opportunity.id)
    assert "liquidation liquidated" in text, text
    assert service.executor.sent == 1

    assert engine.journal is not None
    stored = engine.journal.opportunity(opportunity.id)
    assert stored is not None and stored["status"] == "liquidated"
    data = stored["data"]
    block = int(data["block"])
    # The owner's balances over the liquidation's block, read from the chain.
    usdc_change = usdc.functions.balanceOf(owner).call(
        block_identifier=block
    ) - usdc.functions.balanceOf(owner).call(block_identifier=block - 1)
    eth_change = w3.eth.get_balance(owner, block) - w3.eth.get_balance(owner, block - 1)
    assert usdc_change > 0
    assert int(data["profit_raw"]) == usdc_change
    assert data["balance_changes"]["USDC"] == str(usdc_change)
    assert data["balance_changes"]["ETH"] == str(eth_change) == str(-int(data["gas_cost_wei"]))
    tx = w3.eth.get_transaction(data["tx_hash"])
    assert tx["from"] == owner and tx["type"] == 2  # signed locally, EIP-1559
    # Realized PnL: the measured profit at the forecast's oracle price, less the gas paid.
    plan = opportunity.plan
    expected_pnl = (
        Decimal(usdc_change) * plan.debt_usd_per_raw - Decimal(-eth_change) / 10**18 * plan.eth_usd
    )
    assert Decimal(str(data["realized_pnl_usd"])) == expected_pnl
    # The breaker counted it: today's PnL moved by exactly that, the scope is closed.
    assert engine.pnl_today_usd() - pnl_before == expected_pnl
    assert engine.breaker is not None
    assert engine.breaker.check((LIQUIDATION_VENUE,), None).allowed
    # Gone from the board; the position is healthier now (half its debt repaid).
    await _wait(lambda: all(o.id != opportunity.id for o in engine.pending_liquidations()))
