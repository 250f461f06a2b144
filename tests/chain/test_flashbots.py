"""The Flashbots relay protocol, searcher side: the signature scheme relays check, and the
client's answers to relays that simulate, accept, refuse, hang or are down (tiny aiohttp relays
on 127.0.0.1; the protocol against a relay that builds blocks is tests/feeds/test_sim_relay.py)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from eth_account import Account

from core.chain.flashbots import (
    FLASHBOTS_HEADER,
    BadSignature,
    RelayClient,
    RelayError,
    RelayUnavailable,
    signature_header,
    verify_signature,
)

KEY = "0x" + "11" * 32
OTHER_KEY = "0x" + "22" * 32
RAW = ["0x02f86b", "0x02f86c"]

Answer = Callable[[dict[str, Any]], tuple[int, Any]]
"""A fake relay's reply to one JSON-RPC request: (HTTP status, body: JSON or text)."""


class FakeRelay:
    """Records each request (its JSON, exact body and signer) and answers with `answer`."""

    def __init__(self, answer: Answer, delay_s: float = 0.0) -> None:
        self.answer = answer
        self.delay_s = delay_s
        self.seen: list[tuple[dict[str, Any], str, str]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        signer = verify_signature(body, request.headers.get(FLASHBOTS_HEADER))
        call = json.loads(body)
        self.seen.append((call, signer, request.content_type))
        await asyncio.sleep(self.delay_s)
        status, reply = self.answer(call)
        if isinstance(reply, str):
            return web.Response(status=status, text=reply)
        return web.json_response({"jsonrpc": "2.0", "id": call["id"], **reply}, status=status)

    async def start(self) -> FakeRelay:
        app = web.Application()
        app.router.add_post("/", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def _down_url() -> str:
    """A loopback URL nobody listens on (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
async def relays() -> AsyncIterator[Callable[..., Any]]:
    started: list[FakeRelay] = []

    async def make(answer: Answer, delay_s: float = 0.0) -> FakeRelay:
        relay = await FakeRelay(answer, delay_s).start()
        started.append(relay)
        return relay

    yield make
    for relay in started:
        await relay.stop()


def _ok(result: Any) -> Answer:
    return lambda call: (200, {"result": result})


def test_signature_round_trip_and_refusals() -> None:
    body = b'{"jsonrpc":"2.0","id":1,"method":"eth_sendBundle","params":[]}'
    header = signature_header(body, KEY)
    address, _, signature = header.partition(":")
    assert address == Account.from_key(KEY).address  # checksummed
    assert signature.startswith("0x") and len(signature) == 2 + 130
    assert verify_signature(body, header) == address
    assert verify_signature(body, f" {address.lower()}:{signature} ") == address

    with pytest.raises(BadSignature, match="is not the claimed address"):
        verify_signature(body + b" ", header)  # tampered body: another signer recovers
    other = Account.from_key(OTHER_KEY).address
    with pytest.raises(BadSignature, match=f"is not the claimed address {other}"):
        verify_signature(body, f"{other}:{signature}")  # someone else's reputation
    for missing in (None, ""):
        with pytest.raises(BadSignature, match="missing X-Flashbots-Signature"):
            verify_signature(body, missing)
    for bad in (signature, "0x1234:" + signature, f"{address}:0xzz", f"{address}:0x1234"):
        with pytest.raises(BadSignature, match="malformed"):
            verify_signature(body, bad)


async def test_call_bundle_sends_the_flashbots_request_and_parses_both_number_styles(
    relays: Any,
) -> None:
    hex_style = {
        "results": [
            {"txHash": "0xaa", "gasUsed": "0x5208", "value": "0x"},
            {"txHash": "0x12ab34", "gasUsed": "0xc350", "error": "execution reverted",
             "revert": "0x08c379a0"},
        ],
        "stateBlockNumber": "0x10", "totalGasUsed": "0x11558", "coinbaseDiff": "0x3e8",
        "bundleHash": "0xbb",
    }  # fmt: skip
    int_style = {
        "results": [{"txHash": "0xaa", "gasUsed": 21000}],
        "stateBlockNumber": 16, "totalGasUsed": 21000, "coinbaseDiff": "21000000000000",
    }  # fmt: skip
    relay_hex = await relays(_ok(hex_style))
    relay_int = await relays(_ok(int_style))
    client = RelayClient([relay_hex.url], KEY)
    try:
        sim = await client.call_bundle(RAW, 17)
        assert [(r.gas_used, r.ok) for r in sim.results] == [(21000, True), (50000, False)]
        assert (sim.state_block, sim.total_gas_used, sim.coinbase_diff) == (16, 71000, 1000)
        assert not sim.ok and sim.first_error == "tx 0x12ab…: execution reverted"
        assert sim.results[1].revert == "0x08c379a0" and sim.relay == relay_hex.url
        call, signer, content_type = relay_hex.seen[0]
        assert call["jsonrpc"] == "2.0" and call["method"] == "eth_callBundle"
        assert call["params"] == [{"txs": RAW, "blockNumber": "0x11", "stateBlockNumber": "latest"}]
        assert signer == client.address and content_type == "application/json"
    finally:
        await client.close()
    client = RelayClient([_down_url(), relay_int.url], KEY)
    try:  # the first relay is down: the next one answers
        sim = await client.call_bundle(RAW, 17, state_block=16)
        assert sim.ok and sim.first_error == "" and sim.relay == relay_int.url
        assert (sim.state_block, sim.coinbase_diff) == (16, 21 * 10**12)
        assert relay_int.seen[0][0]["params"][0]["stateBlockNumber"] == "0x10"
    finally:
        await client.close()


async def test_a_json_rpc_error_is_a_relay_error_at_once(relays: Any) -> None:
    refusing = await relays(lambda call: (403, {"error": {"code": -32600, "message": "no way"}}))
    spare = await relays(_ok({"results": []}))
    client = RelayClient([refusing.url, spare.url], KEY)
    try:
        with pytest.raises(RelayError, match="no way") as caught:
            await client.call_bundle(RAW, 5)
        assert not isinstance(caught.value, RelayUnavailable)
        assert refusing.url in str(caught.value) and spare.seen == []  # not asked
        assert KEY[2:] not in str(caught.value) and KEY[2:] not in repr(client)
    finally:
        await client.close()


async def test_send_bundle_goes_to_every_relay_and_reports_who_took_it(relays: Any) -> None:
    taking = await relays(_ok({"bundleHash": "0xbb"}))
    down = _down_url()
    client = RelayClient([down, taking.url], KEY)
    try:
        assert await client.send_bundle(RAW, 9, replacement_uuid="u-1") == (taking.url,)
        assert taking.seen[0][0]["method"] == "eth_sendBundle"
        assert taking.seen[0][0]["params"] == [
            {"txs": RAW, "blockNumber": "0x9", "replacementUuid": "u-1"}
        ]
    finally:
        await client.close()

    client = RelayClient([down, _down_url()], KEY)
    try:
        with pytest.raises(RelayUnavailable) as caught:
            await client.send_bundle(RAW, 9, replacement_uuid="u-1")
        assert set(caught.value.reasons) == set(client.urls)
        assert all(url in str(caught.value) for url in client.urls)
    finally:
        await client.close()

    refusing = await relays(lambda call: (403, {"error": {"code": -32600, "message": "bad sig"}}))
    client = RelayClient([down, refusing.url], KEY)
    try:  # one down, one refusing: the refusal is what the caller must see
        with pytest.raises(RelayUnavailable, match=r"no relay accepted.*refused: bad sig"):
            await client.send_bundle(RAW, 9, replacement_uuid="u-1")
    finally:
        await client.close()


async def test_timeouts_and_5xx_are_unavailable_4xx_text_is_an_error(relays: Any) -> None:
    slow = await relays(_ok({"bundleHash": "0xbb"}), delay_s=0.5)
    sick = await relays(lambda call: (502, "bad gateway"))
    rude = await relays(lambda call: (429, "slow down"))
    client = RelayClient([slow.url, sick.url], KEY, timeout_s=0.2)
    try:
        with pytest.raises(RelayUnavailable) as caught:
            await client.call_bundle(RAW, 5)
        assert "TimeoutError" in caught.value.reasons[slow.url]
        assert caught.value.reasons[sick.url] == "HTTP 502"
    finally:
        await client.close()
    client = RelayClient([rude.url], KEY)
    try:
        with pytest.raises(RelayError, match="HTTP 429: slow down"):
            await client.call_bundle(RAW, 5)
    finally:
        await client.close()


async def test_cancel_is_best_effort(relays: Any) -> None:
    acking = await relays(_ok(None))
    refusing = await relays(lambda call: (400, {"error": {"code": -32602, "message": "what"}}))
    client = RelayClient([_down_url(), acking.url, refusing.url], KEY, timeout_s=0.5)
    try:
        assert await client.cancel_bundle("u-1") == (acking.url,)
        assert acking.seen[0][0]["params"] == [{"replacementUuid": "u-1"}]
    finally:
        await client.close()
    client = RelayClient([_down_url()], KEY, timeout_s=0.5)
    try:
        assert await client.cancel_bundle("u-1") == ()
    finally:
        await client.close()


async def test_no_relay_configured_is_unavailable() -> None:
    client = RelayClient([], KEY)
    with pytest.raises(RelayUnavailable, match="no relay configured"):
        await client.call_bundle(RAW, 5)
    with pytest.raises(RelayUnavailable, match="no relay configured"):
        await client.send_bundle(RAW, 5, replacement_uuid="u-1")
    assert await client.cancel_bundle("u-1") == ()
    await client.close()
