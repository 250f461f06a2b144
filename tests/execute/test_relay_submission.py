"""Trade transactions as private-relay bundles, through the real TxSender and router legs, to
the sim relay in front of the devnet: included at the head of the next block; a reverting
simulation never sent; a competing swap that moves the pool first leaves the bundle out with
no gas paid and the nonce free; the relay down decided by the submission setting; the kill
switch cancelling a pending bundle; a restart settling a pending bundle from the chain."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from web3 import AsyncHTTPProvider, AsyncWeb3

from core.amm.pools import DexPool
from core.amm.v2 import get_amount_out
from core.chain.artifacts import load
from core.chain.fee_oracle import FeeOracle
from core.chain.flashbots import RelayClient
from core.chain.reverts import RevertDecoder
from core.deploy.devnet import Devnet, free_port
from core.execute.bundles import BundleTerms, RelayRoute, Submission
from core.execute.chain_reconcile import ChainLookup
from core.execute.dex import DexLegs, TxSender
from core.execute.reconcile import reconcile
from core.feeds.pools import pools_from_manifest
from core.feeds.sim.relay import SimRelay
from core.journal import Journal
from core.records import OrderRecord, OrderStatus, TradeRecord, TradeStatus
from tests.support.chain import v2_reserves

pytestmark = pytest.mark.devnet

SEARCHER = "0x" + "5e" * 32  # signs relay requests only; holds nothing


@pytest.fixture
async def relay(clean_chain: Devnet) -> AsyncIterator[SimRelay]:
    server = SimRelay(clean_chain.rpc_url, build_delay_s=0.0)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(autouse=True)
async def _close_clients() -> AsyncIterator[None]:
    yield
    while CLIENTS:
        await CLIENTS.pop().close()


CLIENTS: list[RelayClient] = []


def _legs(devnet: Devnet, urls: list[str], mode: Submission = "relay") -> DexLegs:
    w3: Any = AsyncWeb3(AsyncHTTPProvider(devnet.rpc_url, request_kwargs={"timeout": 10}))
    m = devnet.manifest
    decoder = RevertDecoder([load("UniswapV2Router02").abi])
    client = RelayClient(urls, SEARCHER, timeout_s=1.0)
    CLIENTS.append(client)
    route = RelayRoute(mode, client)
    sender = TxSender(
        w3, m.accounts[3].private_key, m.chain_id, FeeOracle(0.01, 200), decoder, relay=route
    )
    routers = {"uni-v2": m.v2["uniswap_v2"].router, "sushi": m.v2["sushiswap"].router}
    return DexLegs(sender, routers, m.v3.swap_router, slippage_bps=0, deadline_s=60)


def _pair(devnet: Devnet) -> DexPool:
    return next(
        p
        for p in pools_from_manifest(devnet.manifest)
        if (p.venue, p.symbol) == ("sushi", "WETH/USDC")
    )


def _quote(devnet: Devnet, pair: DexPool, token_in: str, amount: int) -> int:
    r0, r1 = v2_reserves(devnet, pair.address)
    r_in, r_out = (r0, r1) if pair.token0 == token_in else (r1, r0)
    return get_amount_out(amount, r_in, r_out)


def _terms(seconds: float = 10.0) -> BundleTerms:
    return BundleTerms(time.time() + seconds)


async def _chain_facts(legs: DexLegs) -> tuple[int, int, int]:
    """(head, the trading account's nonce, its ETH balance)."""
    w3, me = legs.sender.w3, legs.sender.address
    return (
        await w3.eth.block_number,
        await w3.eth.get_transaction_count(me, "latest"),
        await w3.eth.get_balance(me),
    )


async def _approve(legs: DexLegs, pair: DexPool, token: str) -> None:
    """Router allowance outside the measured part (approvals go out publicly)."""
    approval = await legs.sender.ensure_allowance(token, legs.router_for(pair), 2**255)
    assert approval is None or approval.ok, approval


async def test_bundle_lands_at_the_head_of_the_next_block(
    clean_chain: Devnet, relay: SimRelay
) -> None:
    legs = _legs(clean_chain, [relay.url])
    pair = _pair(clean_chain)
    usdc = clean_chain.manifest.token("USDC").address
    await _approve(legs, pair, usdc)
    head, nonce, _ = await _chain_facts(legs)
    seen: list[tuple[str, str, tuple[int, ...]]] = []
    amount = 10_000 * 10**6
    expected = _quote(clean_chain, pair, usdc, amount)
    result = await legs.swap(
        pair,
        usdc,
        amount,
        expected,
        bundle=_terms(),
        on_submitted=lambda *note: seen.append(note),
    )
    assert result.ok, result
    assert result.submission == "relay" and result.target_blocks == (head + 1,)
    assert result.block == head + 1 and result.simulation_s
    assert seen == [(result.tx_hash, "relay", (head + 1,))]
    block = await legs.sender.w3.eth.get_block(head + 1)
    assert "0x" + bytes(block["transactions"][0]).hex() == result.tx_hash  # at its head
    _, after, _ = await _chain_facts(legs)
    assert after == nonce + 1 and relay.included == 1


async def test_a_reverting_simulation_is_never_sent(clean_chain: Devnet, relay: SimRelay) -> None:
    legs = _legs(clean_chain, [relay.url])
    pair = _pair(clean_chain)
    usdc = clean_chain.manifest.token("USDC").address
    await _approve(legs, pair, usdc)
    before = await _chain_facts(legs)
    amount = 10_000 * 10**6
    impossible = _quote(clean_chain, pair, usdc, amount) * 2  # amountOutMin it cannot meet
    # gas_limit given: no eth_estimateGas, so the relay's simulation is what refuses it
    result = await legs.swap(pair, usdc, amount, impossible, gas_limit=300_000, bundle=_terms())
    assert result.status == "rejected" and "simulation reverts" in result.reason, result
    assert "INSUFFICIENT_OUTPUT_AMOUNT" in result.reason
    assert result.target_blocks == () and relay.sent == 0
    assert await _chain_facts(legs) == before  # no block, no nonce, no gas


async def test_competing_swap_takes_the_pool_first_and_the_bundle_costs_nothing(
    clean_chain: Devnet,
) -> None:
    relay = SimRelay(clean_chain.rpc_url, build_delay_s=0.6)
    await relay.start()
    try:
        legs = _legs(clean_chain, [relay.url])
        rival = _legs(clean_chain, [], mode="public")
        rival.sender = TxSender(
            rival.sender.w3,
            clean_chain.manifest.accounts[4].private_key,
            clean_chain.manifest.chain_id,
            FeeOracle(0.01, 200),
            rival.sender.decoder,
        )
        pair = _pair(clean_chain)
        usdc = clean_chain.manifest.token("USDC").address
        await _approve(legs, pair, usdc)
        await _approve(rival, pair, usdc)
        _, nonce, eth = await _chain_facts(legs)
        amount = 10_000 * 10**6
        tight = _quote(clean_chain, pair, usdc, amount)  # no slippage room at all
        mine = asyncio.create_task(
            legs.swap(pair, usdc, amount, tight, gas_limit=300_000, bundle=_terms(3.0))
        )
        await asyncio.sleep(0.2)  # the bundle waits for its slot; the rival trades now
        first = await rival.swap(pair, usdc, 50_000 * 10**6, 0)
        assert first.ok, first
        result = await mine
        assert result.status == "not_included", result
        assert "nothing paid" in result.reason and result.target_blocks
        _, after, eth_after = await _chain_facts(legs)
        assert (after, eth_after) == (nonce, eth)  # no gas, and the nonce is still free
        assert legs.sender.nonces.peek(legs.sender.address) == nonce
        again = await legs.swap(
            pair, usdc, amount, _quote(clean_chain, pair, usdc, amount), bundle=_terms()
        )
        assert again.ok and again.nonce == nonce, again
    finally:
        await relay.stop()


async def test_relay_down_the_setting_decides(clean_chain: Devnet) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    pair = _pair(clean_chain)
    usdc = clean_chain.manifest.token("USDC").address
    amount = 1_000 * 10**6

    only = _legs(clean_chain, [down], mode="relay")
    await _approve(only, pair, usdc)
    before = await _chain_facts(only)
    refused = await only.swap(pair, usdc, amount, 0, bundle=_terms())
    assert refused.status == "rejected" and "relays unreachable" in refused.reason, refused
    assert down in refused.reason
    assert await _chain_facts(only) == before

    fallback = _legs(clean_chain, [down], mode="relay-then-public")
    public = await fallback.swap(pair, usdc, amount, 0, bundle=_terms())
    assert public.ok and public.submission == "public", public
    assert "sent to the mempool" in public.reason


async def test_kill_switch_cancels_a_pending_bundle(clean_chain: Devnet) -> None:
    relay = SimRelay(clean_chain.rpc_url, build_delay_s=1.5)
    await relay.start()
    try:
        legs = _legs(clean_chain, [relay.url])
        pair = _pair(clean_chain)
        usdc = clean_chain.manifest.token("USDC").address
        await _approve(legs, pair, usdc)
        _, nonce, eth = await _chain_facts(legs)
        killed: list[str] = []
        sent = asyncio.create_task(
            legs.swap(
                pair,
                usdc,
                1_000 * 10**6,
                0,
                bundle=_terms(),
                gate=lambda: killed[0] if killed else "",
            )
        )
        for _ in range(250):  # the bundle is with the relay, waiting for its slot
            if relay.sent or sent.done():
                break
            await asyncio.sleep(0.02)
        assert relay.sent == 1 and not sent.done(), sent
        killed.append("kill switch pressed")
        result = await sent
        assert result.status == "not_included" and "cancelled: kill switch" in result.reason
        assert relay.cancelled == 1
        await asyncio.sleep(1.7)  # past the build delay: a cancelled bundle never lands
        receipt = await legs.sender._rpc("eth_getTransactionReceipt", [result.tx_hash])
        assert receipt.get("result") is None
        _, after, eth_after = await _chain_facts(legs)
        assert (after, eth_after) == (nonce, eth)
    finally:
        await relay.stop()


def _leg(trade_id: str, role: str, tx_hash: str, blocks: tuple[int, ...]) -> OrderRecord:
    return OrderRecord(
        client_order_id=f"arb-{trade_id}-{role[0]}",
        trade_id=trade_id,
        role=role,
        venue="sushi",
        symbol="WETH/USDC",
        side=role,
        type="flash_v2",
        amount=Decimal("1"),
        price=None,
        status=OrderStatus.OPEN,
        created_at=time.time(),
        updated_at=time.time(),
        venue_order_id=tx_hash,
        submission="relay",
        target_blocks=blocks,
    )


async def test_restart_settles_a_pending_bundle_from_the_chain(
    clean_chain: Devnet, relay: SimRelay, tmp_path: Any
) -> None:
    legs = _legs(clean_chain, [relay.url])
    pair = _pair(clean_chain)
    usdc = clean_chain.manifest.token("USDC").address
    await _approve(legs, pair, usdc)
    landed = await legs.swap(pair, usdc, 1_000 * 10**6, 0, bundle=_terms())
    assert landed.ok
    head = await legs.sender.w3.eth.block_number
    never = "0x" + "ab" * 32  # a bundle's transaction no block took
    journal = Journal(tmp_path / "journal.sqlite")
    for trade_id, legs_of in (
        ("t1", [_leg("t1", "buy", never, (head,)), _leg("t1", "sell", never, (head,))]),
        ("t2", [_leg("t2", "buy", landed.tx_hash or "", (head,))]),
    ):
        journal.insert_trade(
            TradeRecord(
                id=trade_id,
                opportunity_id=f"o-{trade_id}",
                symbol="WETH/USDC",
                buy_venue="sushi",
                sell_venue="uni-v2",
                amount=Decimal(1),
                status=TradeStatus.SENDING,
                started_at=time.time(),
            )
        )
        for record in legs_of:
            journal.insert_order(record)
    lookup = ChainLookup(legs.sender._rpc, wait_s=2.0, poll_s=0.05)
    report = await reconcile(journal, {}, chain=lookup)
    assert {o.trade_id for o in report.unresolved} == {"t2"}  # landed: a human reads its logs
    t1 = journal.trade("t1")
    assert t1 is not None and t1.status is TradeStatus.FAILED
    assert all(o.status is OrderStatus.NOT_INCLUDED for o in t1.legs)
    assert "not included in block" in t1.reason and "nothing paid" in t1.reason
    t2 = journal.trade("t2")
    assert t2 is not None and t2.status is TradeStatus.NEEDS_ATTENTION
    assert t2.legs[0].landed_block == landed.block and "landed in block" in t2.legs[0].error
    journal.close()
