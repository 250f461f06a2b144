"""LendingService on the devnet: watchlist, executable opportunities, and the bad inputs —
a stale oracle gates execution, an RPC error mid-scan keeps positions marked stale."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from web3 import Web3

from core.amm.pools import V2State
from core.amm.routes import ROUTE_V2
from core.chain.rpc import RpcError, batch
from core.deploy.devnet import Devnet
from core.engine.lending import LendingService
from core.feeds import lending as lending_feed
from core.feeds.aave_reader import AaveReader, PositionRead, read_market, read_positions
from core.feeds.sim.borrowers import BorrowerSim, BorrowerSpec
from core.lending.health_factor import account_data
from core.settings import LendingSettings

T0 = 1_000.0


def _service(devnet: Devnet, **overrides: Any) -> tuple[LendingService, str]:
    settings = LendingSettings(min_profit_usd=1.0, gas_price_gwei=1.0, **overrides)
    service = LendingService(settings, devnet.w3, devnet.manifest, clock=lambda: T0)
    sim = BorrowerSim(devnet.w3, devnet.manifest, seed=21)
    sim.open_positions([sim.random_spec(1.3, 1.45) for _ in range(5)])
    (user,) = sim.open_positions([BorrowerSpec({"WETH": 120_000}, "USDC", 1.05)])
    sim.set_prices({"WETH": Decimal(3_400) * Decimal("0.93")})
    return service, user


async def test_watchlist_and_execute(clean_chain: Devnet) -> None:
    service, user = _service(clean_chain)
    service.scan_once()
    rows = service.watchlist()
    assert len(rows) >= 2 and rows[0].user == user
    assert [r.health_factor for r in rows] == sorted(r.health_factor for r in rows)
    top = rows[0]
    assert top.liquidatable and top.profitable and not top.stale and not top.no_route
    assert top.collateral_usd["WETH"] > 100_000 and "USDC" in top.debt_usd
    healthy = rows[-1]
    assert not healthy.liquidatable
    for row in (top, healthy):  # the move shown brings HF to 1.0 in the exact model
        assert row.liquidation_move is not None
        symbol, move = row.liquidation_move
        market = service.feed.market
        assert market is not None
        price = market.prices[market.by_symbol(symbol).id]
        moved = market.with_price(symbol, round(price * (1 + move)))
        hf = account_data(service.feed.positions[row.user].balances, moved).health_factor_wad
        assert abs(hf / 1e18 - 1) < 1e-6
    (opp,) = service.opportunities()
    assert opp.id == top.opportunity_id and opp.to_json_dict()["kind"] == "liquidation"
    # The new opportunity's call was sized with eth_estimateGas: the forecast uses it.
    kind = "v2" if opp.plan.swap and opp.plan.swap.pool.kind == 0 else "v3"
    assert service.gas.source[kind] == "estimate"
    assert opp.plan.gas_units == service.gas.units[kind]
    record = await service.execute_opportunity(opp)
    assert record.status == "liquidated", record.reason
    assert record.profit_raw is not None and record.profit_raw > 0
    assert service.gas.source[kind] == "receipt" and service.gas.units[kind] == record.gas_used
    await service.stop()


async def test_stale_oracle_gates_execution(clean_chain: Devnet) -> None:
    service, user = _service(clean_chain, oracle_stale_after_s=600)
    service.scan_once()
    (opp,) = service.opportunities()
    batch(clean_chain.w3, [("evm_increaseTime", [3_600]), ("evm_mine", [])])
    service.scan_once()
    row = next(r for r in service.watchlist() if r.user == user)
    assert row.oracle_stale and row.liquidatable and row.opportunity_id is None
    assert service.opportunities() == []
    # An opportunity offered before the oracle went quiet:
    record = await service.execute_opportunity(opp)
    assert record.status == "refused" and "oracle price stale" in record.reason
    assert service.executor is not None and service.executor.sent == 0
    await service.stop()


def test_rpc_error_mid_scan_keeps_positions_stale(
    clean_chain: Devnet, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, user = _service(clean_chain)
    service.scan_once()
    before = {r.user: r for r in service.watchlist()}
    assert service.opportunities()

    def failing(*args: object, **kwargs: object) -> object:
        raise RpcError("eth_call", {"code": -32000, "message": "upstream timeout"})

    monkeypatch.setattr(lending_feed, "read_positions", failing)  # market read fine, then this
    service.scan_once()
    after = {r.user: r for r in service.watchlist()}
    assert after.keys() == before.keys()
    assert all(r.stale for r in after.values())
    assert after[user].health_factor == before[user].health_factor
    assert "upstream timeout" in service.last_error
    assert service.opportunities() == []


def test_pool_feed_states_replace_own_reads(
    clean_chain: Devnet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given the pool feed's states, the service prices routes on them and reads no pool."""
    devnet = clean_chain
    own, _ = _service(devnet)
    own.scan_once()
    (expected,) = own.opportunities()
    feed_states: dict[str, Any] = {}
    for p in own.routes.pools:  # what PoolFeed.states holds: checksum address -> state
        address = Web3.to_checksum_address(p.address)
        if p.kind == ROUTE_V2:
            feed_states[address] = V2State(*own.routes.v2[p.address])
        else:
            feed_states[address] = own.routes.v3[p.address]
    settings = LendingSettings(min_profit_usd=1.0, gas_price_gwei=1.0)
    shared = LendingService(
        settings, devnet.w3, devnet.manifest, clock=lambda: T0, pool_states=lambda: feed_states
    )

    def must_not_read(*_: object) -> None:
        raise AssertionError("the service read the chain instead of the feed's states")

    monkeypatch.setattr("core.engine.lending.load_route_states", must_not_read)
    shared.scan_once()
    assert shared.last_error == ""
    (opp,) = shared.opportunities()
    assert opp.plan.swap == expected.plan.swap and opp.plan.profit_raw == expected.plan.profit_raw


def test_edge_borrowers_open_near_liquidation(clean_chain: Devnet) -> None:
    """The sim opens positions below the LTV limit's HF (borrow, then withdraw collateral)."""
    devnet = clean_chain
    sim = BorrowerSim(devnet.w3, devnet.manifest, seed=5)
    specs = [sim.edge_spec() for _ in range(6)]
    users = sim.open_positions(specs)
    reader = AaveReader(sim.aave)
    market, block = read_market(devnet.w3, reader)
    reads = read_positions(devnet.w3, reader, users, market, block)
    for user, spec in zip(users, specs, strict=True):
        read = reads[user]
        assert isinstance(read, PositionRead)
        hf = read.chain.health_factor_wad / 1e18
        assert 1.0 < hf < 1.031 and abs(hf - spec.target_hf) < 0.002, (hf, spec.target_hf)
    assert len(sim.session_specs(40)) == 40
    assert sum(s.target_hf <= 1.03 for s in sim.session_specs(40)) >= 12
