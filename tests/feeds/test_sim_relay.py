"""The sim relay in front of the devnet keeps a builder's promise: a bundle lands whole at the
head of its block or not at all, and one that does not land costs its sender nothing (no gas,
nonce unchanged), whether its simulation reverts, a public swap moved the pool first, others'
transactions took the block, or it was cancelled. Requests not signed by the searcher are
refused. After every test the devnet mines on its own again."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from eth_abi import decode
from eth_account import Account

import core.chain.flashbots as flashbots
from core.chain.flashbots import RelayClient, RelayError, RelayUnavailable, signature_header
from core.deploy.devnet import Devnet
from core.feeds.sim.relay import BuildOutcome, SimRelay
from tests.support.chain import DEADLINE, MAX_UINT, balance, contract, send

pytestmark = [pytest.mark.devnet, pytest.mark.timeout(60)]

SEARCHER = "0x" + "5e" * 32
"""The searcher's identity key: a fresh key with no ETH, it signs requests, not transactions."""
TIP = 10**9
MAX_FEE = 20 * 10**9
WETH_IN = 10 * 10**18


def _rpc(devnet: Devnet, method: str, params: list[Any] | None = None) -> Any:
    answer = devnet.w3.provider.make_request(method, params or [])  # type: ignore[arg-type]
    assert "error" not in answer, answer
    return answer["result"]


@pytest.fixture(autouse=True)
def automine_back(clean_chain: Devnet) -> Iterator[None]:
    """Whatever a test did, the relay must have handed mining back."""
    yield
    assert _rpc(clean_chain, "anvil_getAutomine") is True


@pytest.fixture
async def relay(clean_chain: Devnet) -> AsyncIterator[SimRelay]:
    async with SimRelay(clean_chain.rpc_url) as server:
        yield server


class Trader:
    """A dev account that signs its own raw transactions (nonces counted here)."""

    def __init__(self, devnet: Devnet, index: int) -> None:
        self.devnet = devnet
        self.account = Account.from_key(devnet.manifest.accounts[index].private_key)
        self.address = self.account.address
        self.nonce = devnet.w3.eth.get_transaction_count(self.address)
        m = devnet.manifest
        self.router = contract(devnet.w3, "UniswapV2Router02", m.v2["uniswap_v2"].router)
        self.weth = contract(devnet.w3, "WETH9", m.weth)
        self.path = [m.weth, m.token("USDC").address]

    def sign(self, to: str, data: str, value: int = 0, gas: int = 300_000) -> str:
        tx = {
            "type": 2,
            "chainId": self.devnet.manifest.chain_id,
            "nonce": self.nonce,
            "to": to,
            "data": data,
            "value": value,
            "gas": gas,
            "maxFeePerGas": MAX_FEE,
            "maxPriorityFeePerGas": TIP,
        }
        self.nonce += 1
        return "0x" + bytes(self.account.sign_transaction(tx).raw_transaction).hex()

    def quote(self, amount_in: int) -> int:
        return int(self.router.functions.getAmountsOut(amount_in, self.path).call()[-1])

    def swap(self, amount_in: int, min_out: int) -> str:
        data = self.router.encode_abi(
            "swapExactTokensForTokens", [amount_in, min_out, self.path, self.address, DEADLINE]
        )
        return self.sign(self.router.address, data)

    def wrap_and_approve(self, amount: int) -> None:
        """Publicly, before the test: WETH in hand and the router allowed to take it."""
        send(self.devnet, self.weth.functions.deposit(), self.address, value=amount)
        send(self.devnet, self.weth.functions.approve(self.router.address, MAX_UINT), self.address)
        self.nonce += 2

    def chain_nonce(self) -> int:
        return int(self.devnet.w3.eth.get_transaction_count(self.address))

    def eth(self) -> int:
        return int(self.devnet.w3.eth.get_balance(self.address))


def _tx_hash(raw: str) -> str:
    from eth_utils import keccak

    return "0x" + keccak(bytes.fromhex(raw[2:])).hex()


def _impostor(body: bytes) -> str:
    """A header claiming to be the searcher, signed by someone else."""
    _, _, signature = signature_header(body, "0x" + "77" * 32).partition(":")
    return f"{Account.from_key(SEARCHER).address}:{signature}"


async def _outcomes(relay: SimRelay, count: int = 1, timeout_s: float = 5.0) -> list[BuildOutcome]:
    deadline = time.monotonic() + timeout_s
    while len(relay.outcomes) < count:
        assert time.monotonic() < deadline, f"no build outcome in {timeout_s}s"
        await asyncio.sleep(0.01)
    return list(relay.outcomes)


async def test_a_bundle_lands_whole_at_the_head_of_the_next_block(
    clean_chain: Devnet, relay: SimRelay
) -> None:
    trader = Trader(clean_chain, 1)
    usdc = clean_chain.manifest.token("USDC").address
    usdc_before = balance(clean_chain, usdc, trader.address)
    quote = trader.quote(WETH_IN)
    bundle = [  # wrap, approve, swap: only valid in this order, in one block
        trader.sign(trader.weth.address, trader.weth.encode_abi("deposit", []), WETH_IN),
        trader.sign(
            trader.weth.address,
            trader.weth.encode_abi("approve", [trader.router.address, MAX_UINT]),
        ),
        trader.swap(WETH_IN, quote * 99 // 100),
    ]
    head = clean_chain.w3.eth.block_number
    client = RelayClient([relay.url], SEARCHER)
    try:
        sim = await client.call_bundle(bundle, head + 1)
        assert sim.ok and [r.tx_hash for r in sim.results] == [_tx_hash(r) for r in bundle]
        assert sim.state_block == head and sim.total_gas_used == sum(
            r.gas_used for r in sim.results
        )
        assert sim.coinbase_diff == sim.total_gas_used * TIP
        assert await client.send_bundle(bundle, head + 1, replacement_uuid="a") == (relay.url,)
        [outcome] = await _outcomes(relay)
    finally:
        await client.close()
    assert outcome.included, outcome
    block = clean_chain.w3.eth.get_block(head + 1)
    assert ["0x" + bytes(h).hex() for h in block["transactions"][:3]] == [
        _tx_hash(r) for r in bundle
    ]
    for raw in bundle:
        assert clean_chain.w3.eth.get_transaction_receipt(_tx_hash(raw))["status"] == 1
    assert balance(clean_chain, usdc, trader.address) - usdc_before == quote
    assert (relay.simulated, relay.sent, relay.included, relay.not_included) == (1, 1, 1, 0)


async def test_a_reverting_bundle_is_reported_and_never_lands(
    clean_chain: Devnet, relay: SimRelay
) -> None:
    trader = Trader(clean_chain, 1)
    trader.wrap_and_approve(WETH_IN)
    nonce, eth = trader.chain_nonce(), trader.eth()
    bundle = [trader.swap(WETH_IN, 10**30)]  # no pool pays that much
    head = clean_chain.w3.eth.block_number
    client = RelayClient([relay.url], SEARCHER)
    try:
        sim = await client.call_bundle(bundle, head + 1)
        assert not sim.ok and sim.results[0].error == "execution reverted"
        assert sim.first_error == f"tx {_tx_hash(bundle[0])[:6]}…: execution reverted"
        [reason] = decode(["string"], bytes.fromhex(sim.results[0].revert[10:]))
        assert reason == "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT"
        await client.send_bundle(bundle, head + 1, replacement_uuid="r")  # sent anyway
        [outcome] = await _outcomes(relay)
    finally:
        await client.close()
    assert not outcome.included and "simulation failed" in outcome.reason
    assert clean_chain.w3.eth.block_number == head  # nothing mined at all
    assert (trader.chain_nonce(), trader.eth()) == (nonce, eth)


async def test_a_swap_that_moves_the_pool_first_leaves_the_bundle_out_for_free(
    clean_chain: Devnet,
) -> None:
    trader, rival = Trader(clean_chain, 1), Trader(clean_chain, 2)
    trader.wrap_and_approve(WETH_IN)
    rival.wrap_and_approve(100 * WETH_IN)
    nonce, eth = trader.chain_nonce(), trader.eth()
    bundle = [trader.swap(WETH_IN, trader.quote(WETH_IN))]  # not a wei of slippage allowed
    head = clean_chain.w3.eth.block_number
    async with SimRelay(clean_chain.rpc_url, build_delay_s=0.5) as relay:
        client = RelayClient([relay.url], SEARCHER)
        try:
            assert (await client.call_bundle(bundle, head + 1)).ok
            await client.send_bundle(bundle, head + 1, replacement_uuid="next")
            await client.send_bundle(bundle, head + 2, replacement_uuid="after")
            # While the relay waits for its slot, a public swap the same way takes block head+1.
            swap = rival.router.functions.swapExactTokensForTokens(
                100 * WETH_IN, 0, rival.path, rival.address, DEADLINE
            )
            await asyncio.to_thread(send, clean_chain, swap, rival.address)
            outcomes = {o.uuid: o for o in await _outcomes(relay, 2)}
        finally:
            await client.close()
    assert not any(o.included for o in outcomes.values())
    assert "block" in outcomes["next"].reason and "passed" in outcomes["next"].reason
    assert "simulation failed" in outcomes["after"].reason  # rebuilt on the moved pool
    assert clean_chain.w3.eth.block_number == head + 1  # the rival's block only
    assert (trader.chain_nonce(), trader.eth()) == (nonce, eth)


async def test_others_pending_transactions_take_the_block_first(clean_chain: Devnet) -> None:
    """With interval mining (block_time_s > 0) others' transactions wait in the pool for the
    next block; the relay mines them first, and the bundle has missed its block."""
    trader, rival = Trader(clean_chain, 1), Trader(clean_chain, 2)
    nonce = trader.chain_nonce()
    bundle = [trader.sign(trader.weth.address, trader.weth.encode_abi("deposit", []), 10**18)]
    head = clean_chain.w3.eth.block_number
    _rpc(clean_chain, "evm_setAutomine", [False])  # a long slot: nothing mines on its own
    try:
        public = rival.sign(rival.weth.address, rival.weth.encode_abi("deposit", []), 10**18)
        _rpc(clean_chain, "eth_sendRawTransaction", [public])
        async with SimRelay(clean_chain.rpc_url, block_time_s=3600) as relay:
            client = RelayClient([relay.url], SEARCHER)
            try:
                await client.send_bundle(bundle, head + 1, replacement_uuid="p")
                [outcome] = await _outcomes(relay)
            finally:
                await client.close()
        assert _rpc(clean_chain, "anvil_getIntervalMining") == 3600  # handed back as it was
    finally:
        _rpc(clean_chain, "evm_setAutomine", [True])
    assert not outcome.included and "taken by 1 pending" in outcome.reason
    block = clean_chain.w3.eth.get_block(head + 1)
    assert ["0x" + bytes(h).hex() for h in block["transactions"]] == [_tx_hash(public)]
    assert trader.chain_nonce() == nonce


async def test_requests_not_signed_by_the_searcher_are_refused(
    clean_chain: Devnet, relay: SimRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    trader = Trader(clean_chain, 1)
    bundle = [trader.sign(trader.weth.address, trader.weth.encode_abi("deposit", []), 10**18)]
    body = json.dumps(
        {"jsonrpc": "2.0", "id": 7, "method": "eth_sendBundle", "params": []}
    ).encode()
    impostor = _impostor(body)
    async with aiohttp.ClientSession() as http:
        for header in ({}, {flashbots.FLASHBOTS_HEADER: impostor}):
            async with http.post(relay.url, data=body, headers=header) as response:
                assert response.status == 403
                answer = await response.json()
            assert answer["id"] == 7 and answer["error"]["code"] == -32600
            assert answer["error"]["message"].startswith("invalid X-Flashbots-Signature: ")
        signed = {flashbots.FLASHBOTS_HEADER: signature_header(b"{nope", SEARCHER)}
        async with http.post(relay.url, data=b"{nope", headers=signed) as response:
            assert (await response.json())["error"]["code"] == -32700
        for method, params, code in [
            ("eth_mine", [{}], -32601),
            ("eth_sendBundle", [{}], -32602),
            ("eth_callBundle", [{"txs": ["0x1234"]}], -32602),
        ]:
            call = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
            signed = {flashbots.FLASHBOTS_HEADER: signature_header(call.encode(), SEARCHER)}
            async with http.post(relay.url, data=call, headers=signed) as response:
                assert (await response.json())["error"]["code"] == code, method

    # The client's header claims the searcher's name but carries another key's signature.
    monkeypatch.setattr(flashbots, "signature_header", lambda body, key: _impostor(body))
    client = RelayClient([relay.url], SEARCHER)
    try:
        with pytest.raises(RelayError, match="invalid X-Flashbots-Signature") as caught:
            await client.call_bundle(bundle, clean_chain.w3.eth.block_number + 1)
        assert not isinstance(caught.value, RelayUnavailable)
        with pytest.raises(RelayUnavailable, match="refused: invalid X-Flashbots-Signature"):
            await client.send_bundle(
                bundle, clean_chain.w3.eth.block_number + 1, replacement_uuid="x"
            )
    finally:
        await client.close()
    assert relay.bad_signatures == 4 and (relay.simulated, relay.sent) == (0, 0)


async def test_a_bundle_cancelled_before_its_build_never_lands(clean_chain: Devnet) -> None:
    trader = Trader(clean_chain, 1)
    nonce = trader.chain_nonce()
    bundle = [trader.sign(trader.weth.address, trader.weth.encode_abi("deposit", []), 10**18)]
    head = clean_chain.w3.eth.block_number
    async with SimRelay(clean_chain.rpc_url, build_delay_s=0.3) as relay:
        client = RelayClient([relay.url], SEARCHER)
        try:
            await client.send_bundle(bundle, head + 1, replacement_uuid="c")
            assert await client.cancel_bundle("c") == (relay.url,)
            await asyncio.sleep(0.5)  # past the build delay
        finally:
            await client.close()
        assert relay.cancelled == 1 and list(relay.outcomes) == []
    assert clean_chain.w3.eth.block_number == head and trader.chain_nonce() == nonce
