"""LendingService on the devnet: watchlist, executable opportunities, and the bad inputs —
a stale oracle gates execution, an RPC error mid-scan keeps positions marked stale."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from core.chain.borrowers import BorrowerSim, BorrowerSpec
from core.chain.devnet import Devnet
from core.chain.rpc import RpcError, batch
from core.feeds import lending as lending_feed
from core.lending.health import account_data
from core.lending.service import LendingService
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


def test_watchlist_and_execute(clean_chain: Devnet) -> None:
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
    record = service.execute_sync(opp)
    assert record.status == "liquidated", record.reason
    assert record.profit_raw is not None and record.profit_raw > 0


def test_stale_oracle_gates_execution(clean_chain: Devnet) -> None:
    service, user = _service(clean_chain, oracle_stale_after_s=600)
    service.scan_once()
    (opp,) = service.opportunities()
    batch(clean_chain.w3, [("evm_increaseTime", [3_600]), ("evm_mine", [])])
    service.scan_once()
    row = next(r for r in service.watchlist() if r.user == user)
    assert row.oracle_stale and row.liquidatable and row.opportunity_id is None
    assert service.opportunities() == []
    record = service.execute_sync(opp)  # an opportunity offered before the oracle went quiet
    assert record.status == "refused" and "oracle price stale" in record.reason
    assert service.executor.sent == 0


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
