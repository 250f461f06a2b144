"""On-chain trades through the engine (sim mode: the session devnet, reverted per test; sim CEX):
approval runs a CEX-DEX trade end to end, a DEX leg that reverts has its CEX leg unwound, a
DEX-DEX approval pays the owner exactly what the journal says, and the circuit breaker gates
all of it (kill switch, RPC down, failures counted); auto mode executes on-chain too."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from web3 import AsyncHTTPProvider, AsyncWeb3

from core.amm.pools import DexPool
from core.chain.artifacts import load
from core.chain.fee_oracle import FeeOracle
from core.chain.reverts import RevertDecoder
from core.deploy.devnet import Devnet
from core.detect.capital_source import FundingChoice, v3_flash_fee
from core.detect.dex_dex import DexDexPlan
from core.detect.opportunity import Opportunity
from core.engine.engine import Engine
from core.events import (
    BundleSettled,
    Event,
    FeedHealthChanged,
    FeedState,
    LegFailed,
    LegFilled,
    LegSent,
    TradeFinished,
    TradeRefused,
    TradeStarted,
    TradeUnwinding,
)
from core.execute.dex import DexLegs, TxSender
from core.execute.onchain_trader import OnChainTrader
from core.gas import GAS_V2_ROUTER_SWAP, GAS_V3_ROUTER_SWAP
from core.history_export import render_history_json
from core.journal import Journal
from core.records import OrderRecord, OrderStatus, TradeRecord, TradeStatus
from core.settings import Settings
from tests.support.devnet import missing_node_modules

pytestmark = [pytest.mark.devnet, pytest.mark.timeout(60)]

ETH_POOL = "ETH/USDT=USDC"


def _settings(tmp_path: Path, **execution: object) -> Settings:
    return Settings(
        journal={"path": tmp_path / "journal.sqlite3"},
        sim={"speed": 5.0, "dislocation_rate_per_min": 0.0},
        execution={"leg_timeout_s": 2.0, **execution},
        thresholds={"opportunity_ttl_s": 30.0, "stale_after_ms": 10_000},
        logging={"path": tmp_path / "arbdesk.log"},
        venues=[{"name": "simex", "kind": "sim", "taker_fee_bps": 10.0, "symbols": ["ETH/USDT"]}],
    )


class Rig:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.events: list[Event] = []
        engine.bus.listen(self.events.append)
        assert engine.onchain is not None and engine.onchain.devnet is not None
        self.onchain = engine.onchain
        self.manifest = engine.onchain.devnet.manifest
        w3: Any = AsyncWeb3(
            AsyncHTTPProvider(engine.onchain.devnet.rpc_url, request_kwargs={"timeout": 10})
        )
        decoder = RevertDecoder([load("UniswapV2Router02").abi])
        m = self.manifest
        # Account 3 moves pool prices (a "whale"); account 1 is the engine's trading wallet.
        sender = TxSender(w3, m.accounts[3].private_key, m.chain_id, FeeOracle(0.01, 200), decoder)
        routers = {"uni-v2": m.v2["uniswap_v2"].router, "sushi": m.v2["sushiswap"].router}
        self.whale = DexLegs(sender, routers, m.v3.swap_router, slippage_bps=0, deadline_s=60)
        self.w3 = w3

    def of(self, kind: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def pool(self, venue: str, symbol: str = "WETH/USDC") -> DexPool:
        assert self.onchain.feed is not None
        return next(
            p for p in self.onchain.feed.pools.values() if (p.venue, p.symbol) == (venue, symbol)
        )

    async def swap(self, venue: str, token_symbol: str, whole: int) -> None:
        """The whale swaps `whole` tokens into a WETH/USDC pool (no slippage guard)."""
        token = self.manifest.token(token_symbol)
        if token_symbol == "WETH":
            deposit = await self.whale.sender.send(
                self.manifest.weth, bytes.fromhex("d0e30db0"), value=whole * 10**18
            )
            assert deposit.ok
        result = await self.whale.swap(
            self.pool(venue), token.address, whole * 10**token.decimals, 0
        )
        assert result.ok, result.reason
        await self.onchain.feed.poll()  # type: ignore[union-attr]

    async def balance(self, token_symbol: str, owner: str) -> int:
        token = self.manifest.token(token_symbol).address
        data = bytes.fromhex("70a08231") + bytes(12) + bytes.fromhex(owner[2:])
        answer = await self.w3.provider.make_request(
            "eth_call", [{"to": token, "data": "0x" + data.hex()}, "latest"]
        )
        return int(answer["result"], 16)

    async def opportunity(
        self, match: Callable[[Opportunity], bool], timeout_s: float = 10.0
    ) -> Opportunity:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.engine.sweep()
            for opportunity in self.engine.pending_opportunities():
                if match(opportunity):
                    return opportunity
            await asyncio.sleep(0.1)
        raise AssertionError("no matching on-chain opportunity")

    def journal(self) -> Journal:
        assert self.engine.journal is not None
        return self.engine.journal


@contextlib.asynccontextmanager
async def _running(tmp_path: Path, devnet: Devnet | None) -> AsyncIterator[Rig]:
    """An engine in sim mode on `devnet` (None: a devnet of its own, stopped with it)."""
    engine = Engine(_settings(tmp_path), devnet=devnet)
    await engine.start()
    try:
        rig = Rig(engine)
        assert rig.onchain.noise is not None
        rig.onchain.noise.enabled = False  # the scene is set by the test alone
        await _wait(lambda: engine.books.get("ETH/USDT", {}).get("simex") is not None)
        await _wait(lambda: engine.books["ETH/USDT"]["simex"].best_bid_price is not None)
        yield rig
    finally:
        await engine.stop()
        if "rig" in locals():
            await rig.w3.provider.disconnect()


@pytest.fixture
async def rig(clean_chain: Devnet, tmp_path: Path) -> AsyncIterator[Rig]:
    """The engine on the session's devnet, reverted to its snapshot after the test."""
    async with _running(tmp_path, clean_chain) as rig:
        yield rig


@pytest.fixture
async def own_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """The engine on a devnet of its own (for a test that kills the node)."""
    missing = missing_node_modules()
    if missing:
        pytest.skip(f"devnet needs node_modules: {missing}")
    async with _running(tmp_path, None) as rig:
        yield rig


async def _wait(what: Callable[[], object], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not what():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def _sushi_dex_sell(o: Opportunity) -> bool:
    return (o.symbol, o.buy_venue, o.sell_venue) == (ETH_POOL, "simex", "sushi")


async def test_gas_is_measured_at_start_up(rig: Rig) -> None:
    gas = rig.onchain.gas
    # On the devnet a real 1 bp swap per pool kind is sent at start-up: gasUsed, not a guess.
    assert gas.source["v2"] == "receipt" and gas.source["v3"] == "receipt"
    assert 60_000 < gas.units["v2"] < 200_000 and 60_000 < gas.units["v3"] < 250_000
    assert gas.units["v2"] != GAS_V2_ROUTER_SWAP and gas.units["v3"] != GAS_V3_ROUTER_SWAP


async def test_cex_dex_trade_end_to_end(rig: Rig) -> None:
    me = rig.manifest.accounts[1].address
    await rig.swap("sushi", "USDC", 100_000)  # WETH ~10 % dearer on sushi than on the CEX
    opportunity = await rig.opportunity(_sushi_dex_sell)
    weth0, usdc0 = await rig.balance("WETH", me), await rig.balance("USDC", me)
    text = await rig.engine.approve(opportunity.id)
    assert "completed" in text, text
    (started,) = rig.of(TradeStarted)
    (finished,) = rig.of(TradeFinished)
    assert started.opportunity_id == opportunity.id and finished.trade_id == started.trade_id
    assert finished.status == "completed" and finished.realized_pnl > 0
    assert {e.venue for e in rig.of(LegSent)} == {"simex", "sushi"}
    assert {e.venue for e in rig.of(LegFilled)} == {"simex", "sushi"}
    record = rig.journal().trade(started.trade_id)
    assert record is not None and record.status is TradeStatus.COMPLETED
    dex = next(leg for leg in record.legs if leg.venue == "sushi")
    cex = next(leg for leg in record.legs if leg.venue == "simex")
    assert dex.venue_order_id and dex.venue_order_id.startswith("0x")
    assert len(dex.venue_order_id) == 66
    # Sent as a private bundle (the sim's default), landed where the chain says.
    assert dex.submission == "relay" and dex.target_blocks and dex.landed_block is not None
    assert dex.landed_block in dex.target_blocks and cex.submission == ""
    (settled,) = rig.of(BundleSettled)
    assert (settled.outcome, settled.landed_block) == ("included", dex.landed_block)
    assert settled.simulation_s and settled.trade_id == started.trade_id
    # The DEX leg's amounts are the wallet's balance changes, to the raw unit.
    weth1, usdc1 = await rig.balance("WETH", me), await rig.balance("USDC", me)
    assert Decimal(weth0 - weth1).scaleb(-18) == dex.filled
    assert Decimal(usdc1 - usdc0).scaleb(-6) == dex.cost
    assert dex.fee > 0 and dex.fee_currency == "USDT"  # gas, in quote
    # Realized PnL is exactly the legs' cash flows net of every fee, the dust at its price.
    residual = cex.filled - dex.filled
    expected = dex.cost - cex.cost - cex.fee - dex.fee - residual * (cex.cost / cex.filled)
    assert record.realized_pnl == expected
    assert abs(residual) < Decimal("0.0001")  # below the CEX amount step: dust
    # The console's trades pane and `arbdesk history` both show it.
    assert any(t.id == started.trade_id for t in rig.engine.finished_trades())
    assert started.trade_id in render_history_json(rig.journal().trades())
    # One order path: the on-chain trade ran on the CEX executor's, and is counted there.
    executor, trader = rig.engine.executor, rig.onchain.trader
    assert executor is not None and trader is not None and trader.path is executor.path
    stats = executor.stats()
    assert (stats.executed, stats.successful) == (1, 1) and stats.profit == record.realized_pnl


async def test_onchain_dust_is_valued(rig: Rig) -> None:
    await rig.swap("sushi", "WETH", 60)  # WETH cheap on sushi: the DEX buys, the CEX sells
    opportunity = await rig.opportunity(
        lambda o: (o.symbol, o.buy_venue, o.sell_venue) == (ETH_POOL, "sushi", "simex")
    )
    text = await rig.engine.approve(opportunity.id)
    assert "completed" in text, text
    (finished,) = rig.of(TradeFinished)
    view = next(t for t in rig.engine.finished_trades() if t.id == finished.trade_id)
    # The swap delivers 18-decimal WETH; the CEX sells it rounded to its step: dust is left.
    assert view.dust > 0
    record = rig.journal().trade(finished.trade_id)
    assert record is not None
    dex_buy = next(leg for leg in record.legs if leg.role == "buy")  # the leg that made it
    assert view.dust_value == view.dust * dex_buy.cost / dex_buy.filled
    assert view.dust_value > 0


async def test_dex_leg_revert_unwinds_the_cex_leg(rig: Rig) -> None:
    await rig.swap("sushi", "USDC", 100_000)
    opportunity = await rig.opportunity(_sushi_dex_sell)
    await rig.swap("sushi", "WETH", 40)  # the pool moves back before the approval
    text = await rig.engine.approve(opportunity.id)
    assert "hedged" in text, text
    (failed,) = [e for e in rig.of(LegFailed) if e.venue == "sushi"]
    assert "INSUFFICIENT_OUTPUT_AMOUNT" in failed.reason
    (unwinding,) = rig.of(TradeUnwinding)
    assert unwinding.venue == "simex" and unwinding.side == "sell"
    (finished,) = rig.of(TradeFinished)
    record = rig.journal().trade(finished.trade_id)
    assert record is not None and record.status is TradeStatus.HEDGED
    buy = next(leg for leg in record.legs if leg.role == "buy")
    unwind = next(leg for leg in record.legs if leg.role == "unwind")
    assert buy.filled > 0 and unwind.filled == buy.filled and record.residual == 0
    assert "INSUFFICIENT_OUTPUT_AMOUNT" in next(
        leg.error for leg in record.legs if leg.venue == "sushi"
    )
    assert record.realized_pnl is not None and record.realized_pnl < 0  # fees + spread paid
    view = rig.engine.breaker_view()
    assert view is not None
    scopes = {s.name: s for s in view.scopes}
    assert scopes["global"].consecutive_failures == 1  # a revert is a failure
    assert scopes["sushi"].consecutive_failures == 1


@pytest.mark.parametrize("funding", ["as detected", "flash_v2", "flash_v3"])
async def test_dex_dex_pays_the_owner_the_journaled_profit(rig: Rig, funding: str) -> None:
    me = rig.manifest.accounts[1].address
    await rig.swap("uni-v2", "WETH", 150)  # WETH cheap on uni-v2 against sushi and V3

    def dex_dex(o: Opportunity) -> bool:
        return o.symbol == "WETH/USDC" and o.buy_venue == "uni-v2"

    opportunity = await rig.opportunity(dex_dex)
    plan = rig.onchain._plans[opportunity.key]
    assert isinstance(plan, DexDexPlan)
    if funding != "as detected":  # the other routes, forced
        lender = rig.pool("uni-v3-500", "WBTC/USDC")  # holds USDC, is neither hop
        premium = v3_flash_fee(plan.amount_in, lender.fee) if funding == "flash_v3" else 0
        choice = FundingChoice(funding, 215_000, premium, 0.0, lender.address, "forced")  # type: ignore[arg-type]
        plan = dataclasses.replace(plan, funding=choice)
        rig.onchain._plans[opportunity.key] = plan
    mode = plan.funding.mode
    usdc0 = await rig.balance("USDC", me)
    text = await rig.engine.approve(opportunity.id)
    assert "completed" in text, text
    (finished,) = rig.of(TradeFinished)
    record = rig.journal().trade(finished.trade_id)
    assert record is not None and record.status is TradeStatus.COMPLETED
    buy = next(leg for leg in record.legs if leg.role == "buy")
    sell = next(leg for leg in record.legs if leg.role == "sell")
    assert buy.venue_order_id == sell.venue_order_id and buy.filled == sell.filled
    assert buy.submission == sell.submission == "relay"
    assert buy.landed_block == sell.landed_block and sell.landed_block in sell.target_blocks
    gained = (await rig.balance("USDC", me)) - usdc0
    # To the raw unit: what the hops moved, less the flash premium (buy leg's fee).
    assert Decimal(gained).scaleb(-6) == sell.cost - buy.cost - buy.fee
    assert gained > 0
    assert record.realized_pnl == sell.cost - buy.cost - buy.fee - sell.fee  # less the gas
    assert sell.fee > 0
    assert buy.type == mode  # the funding route is journaled with the legs
    if mode == "flash_v3":
        assert buy.fee == Decimal(premium).scaleb(-6) and premium > 0
    assert rig.onchain.gas.source[mode] == "receipt"  # its gas now comes from the receipt


async def test_kill_switch_refuses_an_onchain_opportunity(rig: Rig) -> None:
    await rig.swap("sushi", "USDC", 100_000)
    opportunity = await rig.opportunity(_sushi_dex_sell)
    rig.engine.kill("test")
    text = await rig.engine.approve(opportunity.id)
    assert "kill switch" in text
    (refused,) = rig.of(TradeRefused)
    assert refused.opportunity_id == opportunity.id
    assert rig.of(TradeStarted) == [] and rig.journal().trades() == []


async def test_a_kill_during_the_balance_checks_sends_nothing(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    await rig.swap("sushi", "USDC", 100_000)
    opportunity = await rig.opportunity(_sushi_dex_sell)
    wallet_balance = OnChainTrader._wallet_balance

    async def balance_then_kill(trader: OnChainTrader, token: str) -> int:
        have = await wallet_balance(trader, token)
        rig.engine.kill("pressed while the wallet balance was read")
        return have

    monkeypatch.setattr(OnChainTrader, "_wallet_balance", balance_then_kill)
    text = await rig.engine.approve(opportunity.id)
    assert "kill switch" in text and "not sent" in text, text
    assert rig.of(TradeStarted) == [] and rig.of(LegSent) == []
    assert rig.journal().trades() == []
    breaker = rig.engine.breaker
    assert breaker is not None and breaker._active == {}  # the permit was given back


async def test_funds_held_by_a_cex_trade_in_flight_are_not_spent_again(rig: Rig) -> None:
    await rig.swap("sushi", "USDC", 100_000)
    opportunity = await rig.opportunity(_sushi_dex_sell)
    executor = rig.engine.executor
    assert executor is not None
    # A CEX trade in flight holds all the USDT simex has free (the CEX leg buys ETH with it).
    balance = await executor.exchanges["simex"].fetch_balance()
    held = executor.reservations.hold([("simex", "USDT", Decimal(str(balance["free"]["USDT"])))])
    text = await rig.engine.approve(opportunity.id)
    assert "refused" in text and "USDT free" in text, text
    assert rig.of(TradeStarted) == []
    executor.reservations.release(held)
    assert executor.reservations._held == {}


async def test_an_error_after_the_onchain_permit_releases_it(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    await rig.swap("sushi", "USDC", 100_000)
    opportunity = await rig.opportunity(_sushi_dex_sell)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(rig.journal(), "insert_trade", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        await rig.engine.approve(opportunity.id)
    breaker = rig.engine.breaker
    assert breaker is not None and breaker._active == {}
    executor = rig.engine.executor
    assert executor is not None and executor.reservations._held == {}


async def test_rpc_down_opens_the_dex_venue_and_refuses(own_rig: Rig) -> None:
    rig = own_rig
    await rig.swap("sushi", "USDC", 100_000)
    opportunity = await rig.opportunity(_sushi_dex_sell)
    devnet = rig.onchain.devnet
    assert devnet is not None and devnet.process is not None
    devnet.process.kill()  # the RPC endpoint is gone
    devnet.process.wait()

    def down() -> bool:
        return any(
            e.venue == "sushi" and e.state is FeedState.DOWN for e in rig.of(FeedHealthChanged)
        )

    await _wait(down)
    text = await rig.engine.approve(opportunity.id)
    assert "refused" in text and "sushi" in text, text
    breaker = rig.engine.breaker
    assert breaker is not None and breaker.state("sushi").value.upper() == "OPEN"
    assert rig.of(TradeStarted) == []


async def test_auto_mode_executes_onchain(rig: Rig) -> None:
    await rig.swap("sushi", "USDC", 100_000)
    rig.engine.set_auto_execute(True)

    def cex_dex_done() -> bool:
        return any(
            t.symbol == ETH_POOL and t.status is TradeStatus.COMPLETED
            for t in rig.journal().trades()
        )

    await _wait(cex_dex_done, 15.0)
    # One trade at a time per pool: nothing raced the CEX-DEX trade on sushi.
    on_sushi = [t for t in rig.journal().trades() if "sushi" in (t.buy_venue, t.sell_venue)]
    spans = sorted((t.started_at, t.finished_at or float("inf")) for t in on_sushi)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))


async def test_a_reverting_arbitrage_fails_and_counts_against_the_breaker(rig: Rig) -> None:
    me = rig.manifest.accounts[1].address
    await rig.swap("uni-v2", "WETH", 150)

    def dex_dex(o: Opportunity) -> bool:
        return o.symbol == "WETH/USDC" and o.buy_venue == "uni-v2"

    opportunity = await rig.opportunity(dex_dex)
    plan = rig.onchain._plans[opportunity.key]
    assert isinstance(plan, DexDexPlan)
    rig.onchain._plans[opportunity.key] = dataclasses.replace(plan, min_profit=10**30)
    usdc0 = await rig.balance("USDC", me)
    text = await rig.engine.approve(opportunity.id)
    assert "failed" in text and "ProfitTooLow" in text, text
    assert {e.venue for e in rig.of(LegFailed)} == {"uni-v2", opportunity.sell_venue}
    (finished,) = rig.of(TradeFinished)
    record = rig.journal().trade(finished.trade_id)
    assert record is not None and record.status is TradeStatus.FAILED
    assert record.realized_pnl == 0  # refused by the node before sending: no gas spent
    assert await rig.balance("USDC", me) == usdc0
    view = rig.engine.breaker_view()
    assert view is not None
    scopes = {s.name: s for s in view.scopes}
    assert scopes["global"].consecutive_failures == 1
    assert scopes["uni-v2"].consecutive_failures == 1


async def test_the_kill_switch_cancels_a_pending_bundle_and_nothing_is_paid(rig: Rig) -> None:
    """The engine's own relay path: the bundle waits for its slot, the trader presses the
    kill switch, the bundle is cancelled at the relay and never lands; the trade is withdrawn
    (nothing paid, the breaker not charged) with its leg journaled not_included."""
    me = rig.manifest.accounts[1].address
    await rig.swap("uni-v2", "WETH", 150)
    relay = rig.onchain.sim_relay
    assert relay is not None
    relay.build_delay_s = 3.0  # a slow slot, so the kill comes while the bundle waits

    def dex_dex(o: Opportunity) -> bool:
        return o.symbol == "WETH/USDC" and o.buy_venue == "uni-v2"

    opportunity = await rig.opportunity(dex_dex)
    usdc0, eth0 = await rig.balance("USDC", me), await rig.onchain.w3.eth.get_balance(me)
    approving = asyncio.create_task(rig.engine.approve(opportunity.id))
    await _wait(lambda: relay.sent == 1)
    rig.engine.kill("pressed while the bundle waited")
    text = await approving
    assert "failed" in text and "cancelled: kill switch" in text, text
    assert relay.cancelled == 1 and relay.included == 0
    (finished,) = rig.of(TradeFinished)
    record = rig.journal().trade(finished.trade_id)
    assert record is not None and record.status is TradeStatus.FAILED
    assert {leg.status for leg in record.legs} == {OrderStatus.NOT_INCLUDED}
    assert all(leg.target_blocks and leg.landed_block is None for leg in record.legs)
    assert record.realized_pnl == 0
    (settled,) = rig.of(BundleSettled)
    assert settled.outcome == "not_included"
    await asyncio.sleep(3.2)  # past the slot: a cancelled bundle never lands
    assert rig.onchain.legs is not None
    tx_hash = record.legs[0].venue_order_id
    receipt = await rig.onchain.legs.sender._rpc("eth_getTransactionReceipt", [tx_hash])
    assert receipt.get("result") is None
    assert await rig.balance("USDC", me) == usdc0
    assert await rig.onchain.w3.eth.get_balance(me) == eth0
    view = rig.engine.breaker_view()
    assert view is not None
    assert {s.name: s for s in view.scopes}["global"].consecutive_failures == 0


async def test_a_restart_settles_a_bundle_left_pending_from_the_chain(
    clean_chain: Devnet, tmp_path: Path
) -> None:
    """The last run stopped with a relay bundle in flight (journaled with its target block);
    that block has passed without it, so the engine's start finds it not included, from the
    chain alone, and the trade failed with nothing paid, not left for a human."""
    head = clean_chain.w3.eth.block_number
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.insert_trade(
        TradeRecord(
            "t-crash", "o-crash", "WETH/USDC", "uni-v2", "sushi", Decimal(1),
            TradeStatus.SENDING, time.time(),
        )
    )  # fmt: skip
    for role in ("buy", "sell"):
        journal.insert_order(
            OrderRecord(
                f"arb-t-crash-{role[0]}", "t-crash", role, "uni-v2", "WETH/USDC", role,
                "flash_v2", Decimal(1), None, OrderStatus.OPEN, time.time(), time.time(),
                venue_order_id="0x" + "cd" * 32, submission="relay", target_blocks=(head,),
            )
        )  # fmt: skip
    journal.close()
    async with _running(tmp_path, clean_chain) as rig:
        record = rig.journal().trade("t-crash")
        assert record is not None and record.status is TradeStatus.FAILED, record
        assert {leg.status for leg in record.legs} == {OrderStatus.NOT_INCLUDED}
        assert f"not included in block {head}" in record.reason
