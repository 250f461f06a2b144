"""A loopback Flashbots-style relay against the devnet: the sim's block builder.

It speaks the protocol of `core/chain/flashbots.py` (signed `eth_callBundle`, `eth_sendBundle`,
`eth_cancelBundle`) and gives a bundle what a real builder promises: all of it at the head of
its target block, or none of it, and then it costs nothing. The devnet has no builder, so this
one takes the chain's mining in hand for the moment of building:

- a bundle for block N is built once the head is N-1 and `build_delay_s` has passed since it
  arrived (the wait for the next slot, during which others may move the pools);
- mining off, then: others' transactions already pending take block N (mined first: the bundle
  missed its block); else the bundle is simulated again on the head state and, if every
  transaction still succeeds, sent and mined alone at the head of block N (anvil runs with
  `--order fifo`, so whatever arrives after ours goes after ours);
- mining back on in every case (automine, or interval mining when `block_time_s` > 0).

Simulation is anvil's `eth_simulateV1`. It does not check nonces (validation mode or not), so
the relay checks them itself; and it reports the simulated block's number as the state block's,
so the target number is passed as a block override. A bundle that cannot run at all (bad
nonce, no funds for gas, fee under the base fee) is a JSON-RPC error, as real relays answer; a
transaction that runs and reverts is a result with `error` and `revert`.

`coinbaseDiff` counts priority fees only (no direct payments to the fee recipient). anvil's
`evm_setIntervalMining` takes whole seconds, so a fractional `block_time_s` comes back rounded
(at least 1 s) after the first build.

One bundle per block: the first ready one (by arrival) takes it, the others miss. Whether a
bundle landed is the chain's word (receipts); the counters and `outcomes` are for figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import rlp
from aiohttp import web
from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from loguru import logger

from core.chain.flashbots import FLASHBOTS_HEADER, BadSignature, verify_signature

POLL_S = 0.02
"""How often the builder looks at the head while bundles wait."""
OUTCOMES_KEPT = 256


class _BadParams(ValueError):
    """JSON-RPC -32602: the request's params are not what the method takes."""


class _InvalidBundle(ValueError):
    """The bundle cannot run at all (nonce, funds, fee, chain id): JSON-RPC -32000."""


class NodeError(RuntimeError):
    """The devnet answered a relay's own request with an error."""


@dataclass(frozen=True, slots=True)
class BundleTx:
    """One signed transaction of a bundle, decoded."""

    raw: str
    hash: str
    sender: str
    nonce: int
    to: str | None
    value: int
    data: str
    gas: int
    max_fee: int
    priority_fee: int
    chain_id: int | None

    def call(self) -> dict[str, str]:
        """The eth_simulateV1 call that runs this transaction as signed."""
        call = {
            "from": self.sender,
            "value": hex(self.value),
            "nonce": hex(self.nonce),
            "gas": hex(self.gas),
            "maxFeePerGas": hex(self.max_fee),
            "maxPriorityFeePerGas": hex(self.priority_fee),
            "input": self.data,
        }
        if self.to:
            call["to"] = self.to
        return call


def _uint(value: bytes) -> int:
    return int.from_bytes(value, "big")


def decode_tx(raw: str) -> BundleTx:
    """Decode a signed legacy, type-1 or type-2 transaction; ValueError if it is not one."""
    try:
        data = HexBytes(raw)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not hex: {exc}") from None
    if not data:
        raise ValueError("empty transaction")
    try:
        sender = str(Account.recover_transaction(data))
        if data[0] >= 0xC0:  # legacy: rlp([nonce, gasPrice, gas, to, value, data, v, r, s])
            nonce, price, gas, to, value, payload, v, _, _ = rlp.decode(bytes(data))
            v_int = _uint(v)
            fields: dict[str, Any] = {
                "nonce": _uint(nonce),
                "maxFeePerGas": _uint(price),
                "maxPriorityFeePerGas": _uint(price),
                "gas": _uint(gas),
                "to": to,
                "value": _uint(value),
                "data": payload,
                "chainId": (v_int - 35) // 2 if v_int >= 35 else None,
            }
        elif data[0] in (1, 2):
            fields = dict(TypedTransaction.from_bytes(data).as_dict())
            if "gasPrice" in fields:  # type 1
                fields["maxFeePerGas"] = fields["maxPriorityFeePerGas"] = fields["gasPrice"]
        else:
            raise ValueError(f"transaction type {data[0]} is not supported (legacy, 1, 2)")
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - rlp and eth_account raise many types on garbage
        raise ValueError(f"cannot decode: {type(exc).__name__}: {exc}") from None
    to_bytes = bytes(fields["to"] or b"")
    return BundleTx(
        raw="0x" + bytes(data).hex(),
        hash="0x" + keccak(bytes(data)).hex(),
        sender=sender,
        nonce=int(fields["nonce"]),
        to=to_checksum_address(to_bytes) if to_bytes else None,
        value=int(fields["value"]),
        data="0x" + bytes(fields["data"]).hex(),
        gas=int(fields["gas"]),
        max_fee=int(fields["maxFeePerGas"]),
        priority_fee=int(fields["maxPriorityFeePerGas"]),
        chain_id=None if fields.get("chainId") is None else int(fields["chainId"]),
    )


def bundle_hash(txs: Sequence[BundleTx]) -> str:
    """keccak256 of the concatenated transaction hashes (what Flashbots relays return)."""
    return "0x" + keccak(b"".join(bytes.fromhex(t.hash[2:]) for t in txs)).hex()


@dataclass(frozen=True, slots=True)
class _Bundle:
    uuid: str
    block: int
    txs: tuple[BundleTx, ...]
    received: float
    hash: str
    signer: str


@dataclass(frozen=True, slots=True)
class BuildOutcome:
    """What became of one sent bundle (for figures and tests; the chain has the facts)."""

    uuid: str
    block: int
    bundle_hash: str
    included: bool
    reason: str
    """'included', or why not."""


def _number(value: Any, name: str, *, latest: bool = False) -> int | str:
    if latest and value in (None, "latest"):
        return "latest"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value[:2].lower() == "0x":
        with contextlib.suppress(ValueError):
            return int(value, 16)
    raise _BadParams(f"{name}: expected a 0x block number, got {value!r}")


def _txs(value: Any) -> tuple[BundleTx, ...]:
    if not isinstance(value, list) or not value:
        raise _BadParams("txs: expected a non-empty list of signed transactions")
    txs = []
    for i, raw in enumerate(value):
        if not isinstance(raw, str):
            raise _BadParams(f"txs[{i}]: expected a 0x hex string")
        try:
            txs.append(decode_tx(raw))
        except ValueError as exc:
            raise _BadParams(f"txs[{i}]: {exc}") from None
    return tuple(txs)


def _request_id(body: bytes) -> Any:
    with contextlib.suppress(ValueError, AttributeError):
        return json.loads(body).get("id")
    return None


Handler = Callable[[dict[str, Any], str], Awaitable[Any]]


class SimRelay:
    """The relay server and its builder task; `start()` binds `url`, `stop()` undoes it all."""

    def __init__(
        self,
        rpc_url: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        build_delay_s: float = 0.0,
        block_time_s: float = 0.0,
    ) -> None:
        self.rpc_url = rpc_url
        self.host = host
        self.port = port
        self.build_delay_s = build_delay_s
        self.block_time_s = block_time_s
        self.url = ""
        self.requests = 0
        self.bad_signatures = 0
        self.simulated = 0
        self.sent = 0
        self.included = 0
        self.not_included = 0
        self.cancelled = 0
        self.outcomes: deque[BuildOutcome] = deque(maxlen=OUTCOMES_KEPT)
        self._bundles: dict[str, _Bundle] = {}
        self._lock = asyncio.Lock()
        """Held while a bundle is built and while one is cancelled."""
        self._wake = asyncio.Event()
        self._mining_off = False
        self._unmined: tuple[str, ...] = ()
        """Hashes of bundle transactions sent to the node and not yet seen mined."""
        self._chain_id: int | None = None
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._builder: asyncio.Task[None] | None = None
        self._ids = 0
        self._methods: dict[str, Handler] = {
            "eth_callBundle": self._call_bundle,
            "eth_sendBundle": self._send_bundle,
            "eth_cancelBundle": self._cancel_bundle,
        }

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        app = web.Application()
        app.router.add_post("/", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://{self.host}:{self.port}"
        self._builder = asyncio.create_task(self._build_loop(), name="sim-relay-builder")
        if self.block_time_s > 0 and self.block_time_s != round(self.block_time_s):
            logger.warning(
                "sim relay: anvil restores interval mining in whole seconds: {}s becomes {}s",
                self.block_time_s,
                self._interval_s(),
            )

    async def stop(self) -> None:
        """Stop serving and building; if a build was cut short, its transactions leave the
        pool and the chain's mining is restored."""
        if self._builder is not None:
            self._builder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._builder
            self._builder = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            try:
                await self._restore_chain()
            except Exception as exc:  # noqa: BLE001 - stopping: say so, and close anyway
                logger.warning("sim relay: could not restore the devnet's mining: {}", exc)
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> SimRelay:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    # -- node access -----------------------------------------------------------------------

    async def _node(self, method: str, params: list[Any]) -> dict[str, Any]:
        """The devnet's whole JSON-RPC answer (result or error)."""
        assert self._session is not None, "SimRelay.start() first"
        self._ids += 1
        request = {"jsonrpc": "2.0", "id": self._ids, "method": method, "params": params}
        async with self._session.post(self.rpc_url, json=request) as response:
            answer: dict[str, Any] = await response.json(content_type=None)
        return answer

    async def _rpc(self, method: str, params: list[Any]) -> Any:
        answer = await self._node(method, params)
        if "error" in answer:
            error = answer["error"]
            raise NodeError(f"{method}: {error.get('message', error)}")
        return answer.get("result")

    async def _head(self) -> int:
        return int(await self._rpc("eth_blockNumber", []), 16)

    async def _chain(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(await self._rpc("eth_chainId", []), 16)
        return self._chain_id

    # -- the server --------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests += 1
        try:
            signer = verify_signature(body, request.headers.get(FLASHBOTS_HEADER))
        except BadSignature as exc:
            self.bad_signatures += 1
            message = f"invalid {FLASHBOTS_HEADER}: {exc}"
            return _error(_request_id(body), -32600, message, 403)
        try:
            call = json.loads(body)
        except ValueError:
            return _error(None, -32700, "parse error: the body is not JSON", 400)
        if not isinstance(call, dict) or not isinstance(call.get("method"), str):
            return _error(None, -32600, "invalid request: expected a JSON-RPC object", 400)
        rid = call.get("id")
        method = call["method"]
        handler = self._methods.get(method)
        if handler is None:
            return _error(rid, -32601, f"method not found: {method}", 400)
        params = call.get("params")
        if not isinstance(params, list) or len(params) != 1 or not isinstance(params[0], dict):
            return _error(rid, -32602, "invalid params: expected [ {…} ]", 400)
        try:
            result = await handler(params[0], signer)
        except _BadParams as exc:
            return _error(rid, -32602, f"invalid params: {exc}", 400)
        except _InvalidBundle as exc:
            return _error(rid, -32000, str(exc), 200)
        except Exception as exc:  # noqa: BLE001 - a relay answers, it does not crash
            logger.exception("sim relay: {} failed", method)
            return _error(rid, -32603, f"internal error: {type(exc).__name__}: {exc}", 500)
        return web.json_response({"jsonrpc": "2.0", "id": rid, "result": result})

    async def _call_bundle(self, params: dict[str, Any], signer: str) -> dict[str, Any]:
        txs = _txs(params.get("txs"))
        block = int(_number(params.get("blockNumber"), "blockNumber"))
        state = _number(params.get("stateBlockNumber"), "stateBlockNumber", latest=True)
        head = await self._head()
        if state == "latest":
            state = head
        elif int(state) > head:
            raise _BadParams(f"stateBlockNumber {state} is past the head {head}")
        self.simulated += 1
        return await self._simulate(txs, int(state), block)

    async def _send_bundle(self, params: dict[str, Any], signer: str) -> dict[str, Any]:
        txs = _txs(params.get("txs"))
        block = int(_number(params.get("blockNumber"), "blockNumber"))
        uuid = params.get("replacementUuid") or ""
        if not isinstance(uuid, str):
            raise _BadParams("replacementUuid: expected a string")
        digest = bundle_hash(txs)
        key = uuid or f"{digest}@{block}"
        self._bundles[key] = _Bundle(key, block, txs, time.monotonic(), digest, signer)
        self.sent += 1
        self._wake.set()
        return {"bundleHash": digest}

    async def _cancel_bundle(self, params: dict[str, Any], signer: str) -> None:
        uuid = params.get("replacementUuid")
        if not isinstance(uuid, str) or not uuid:
            raise _BadParams("replacementUuid: expected a non-empty string")
        async with self._lock:  # after this answer the bundle is built already or never
            if self._bundles.pop(uuid, None) is not None:
                self.cancelled += 1

    # -- simulation --------------------------------------------------------------------------

    async def _block_time(self, state: int) -> int:
        """The timestamp the block after `state` gets: one second past its parent's.
        Simulating with it and mining with it keep the two identical (a V2 pair's first swap
        in a new second writes its price accumulators: ~40k more gas)."""
        parent = await self._rpc("eth_getBlockByNumber", [hex(state), False])
        return int(parent["timestamp"], 16) + 1  # the chain's clock (a test may move it)

    async def _simulate(
        self, txs: Sequence[BundleTx], state: int, block: int, timestamp: int | None = None
    ) -> dict[str, Any]:
        """The Flashbots eth_callBundle result of `txs` run in order on the state after block
        `state`, as block `block` at `timestamp` (default: see _block_time); raises
        _InvalidBundle when they cannot run at all."""
        if timestamp is None:
            timestamp = await self._block_time(state)
        chain_id = await self._chain()
        next_nonce: dict[str, int] = {}
        for tx in txs:
            if tx.chain_id is not None and tx.chain_id != chain_id:
                raise _InvalidBundle(f"tx {tx.hash}: chain id {tx.chain_id}, not {chain_id}")
            if tx.sender not in next_nonce:
                count = await self._rpc("eth_getTransactionCount", [tx.sender, hex(state)])
                next_nonce[tx.sender] = int(count, 16)
            want = next_nonce[tx.sender]
            if tx.nonce != want:
                low_high = "low" if tx.nonce < want else "high"
                raise _InvalidBundle(f"tx {tx.hash}: nonce too {low_high}: {tx.nonce}, want {want}")
            next_nonce[tx.sender] = want + 1
        request = {
            "blockStateCalls": [
                {
                    "blockOverrides": {"number": hex(block), "time": hex(timestamp)},
                    "calls": [t.call() for t in txs],
                }
            ],
            "validation": True,
        }
        answer = await self._node("eth_simulateV1", [request, hex(state)])
        if "error" in answer:
            error = answer["error"]
            raise _InvalidBundle(f"bundle cannot run: {error.get('message', error)}")
        simulated = answer["result"][0]
        base_fee = int(simulated.get("baseFeePerGas") or "0x0", 16)
        results = []
        total_gas = fees = coinbase = 0
        for tx, call in zip(txs, simulated["calls"], strict=True):
            if tx.max_fee < base_fee:
                raise _InvalidBundle(f"tx {tx.hash}: max fee {tx.max_fee} < base fee {base_fee}")
            gas = int(call["gasUsed"], 16)
            tip = min(tx.priority_fee, tx.max_fee - base_fee)
            entry: dict[str, Any] = {
                "txHash": tx.hash,
                "gasUsed": gas,
                "fromAddress": tx.sender,
                "toAddress": tx.to or "",
                "gasPrice": str(base_fee + tip),
                "gasFees": str(gas * (base_fee + tip)),
                "coinbaseDiff": str(gas * tip),
                "ethSentToCoinbase": "0",
            }
            returned = call.get("returnData") or "0x"
            if int(call.get("status", "0x0"), 16) == 1:
                entry["value"] = returned
            elif returned != "0x":
                entry["error"] = "execution reverted"
                entry["revert"] = returned
            else:
                entry["error"] = "execution failed (no revert data: out of gas?)"
            results.append(entry)
            total_gas += gas
            fees += gas * (base_fee + tip)
            coinbase += gas * tip
        return {
            "results": results,
            "bundleHash": bundle_hash(txs),
            "bundleGasPrice": str(fees // total_gas if total_gas else 0),
            "coinbaseDiff": str(coinbase),
            "ethSentToCoinbase": "0",
            "gasFees": str(fees),
            "stateBlockNumber": state,
            "totalGasUsed": total_gas,
        }

    # -- building ----------------------------------------------------------------------------

    async def _build_loop(self) -> None:
        while True:
            if not self._bundles:
                self._wake.clear()
                await self._wake.wait()
                continue
            self._wake.clear()  # a bundle arriving from here on is looked at without delay
            try:
                await self._build_ready()
            except Exception as exc:  # noqa: BLE001 - the devnet hiccuped: keep building
                logger.warning("sim relay: building failed: {}: {}", type(exc).__name__, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_S)

    async def _build_ready(self) -> None:
        """Drop bundles whose block has passed; build the first one ready for the next."""
        head = await self._head()
        now = time.monotonic()
        for bundle in sorted(self._bundles.values(), key=lambda b: b.received):
            if bundle.block <= head:
                del self._bundles[bundle.uuid]
                self._record(bundle, False, f"block {bundle.block} passed (head {head})")
        for bundle in sorted(self._bundles.values(), key=lambda b: b.received):
            if bundle.block == head + 1 and now - bundle.received >= self.build_delay_s:
                await self._build(bundle)
                return

    async def _build(self, bundle: _Bundle) -> None:
        async with self._lock:
            if self._bundles.get(bundle.uuid) is not bundle:
                return  # cancelled or replaced while waiting for the lock
            del self._bundles[bundle.uuid]
            try:
                self._mining_off = True  # before the call: restore even if it half happened
                await self._rpc("evm_setAutomine", [False])
                if self.block_time_s > 0:
                    await self._rpc("evm_setIntervalMining", [0])
                included, reason = await self._build_locked(bundle)
            except Exception as exc:  # noqa: BLE001 - recorded; the chain is restored below
                included, reason = False, f"build failed: {type(exc).__name__}: {exc}"
            finally:
                await self._restore_chain()
        self._record(bundle, included, reason)

    async def _build_locked(self, bundle: _Bundle) -> tuple[bool, str]:
        """Put the bundle at the head of its block, or nothing; (included, reason)."""
        head = await self._head()
        if head != bundle.block - 1:
            return False, f"head moved to {head} before block {bundle.block} was built"
        pending = int((await self._rpc("txpool_status", []))["pending"], 16)
        if pending:
            await self._rpc("evm_mine", [])
            return False, f"block {bundle.block} taken by {pending} pending transaction(s)"
        timestamp = await self._block_time(head)
        simulation = await self._simulate_or_reason(bundle, head, timestamp)
        if simulation:
            return False, simulation
        ours = [tx.hash for tx in bundle.txs]
        for tx in bundle.txs:
            answer = await self._node("eth_sendRawTransaction", [tx.raw])
            if "error" in answer:
                await self._drop_unmined()
                return False, f"the node refused tx {tx.hash}: {answer['error'].get('message')}"
            self._unmined = (*self._unmined, tx.hash)
        block = await self._rpc("eth_getBlockByNumber", ["pending", False])
        order = [str(h).lower() for h in (block or {}).get("transactions", [])]
        if order[: len(ours)] != ours:
            await self._drop_unmined()
            if int((await self._rpc("txpool_status", []))["pending"], 16):
                await self._rpc("evm_mine", [])
            return False, f"others' transactions got ahead of the bundle in block {bundle.block}"
        await self._rpc("evm_mine", [timestamp])  # the block the bundle was simulated in
        return await self._verify(bundle, ours)

    async def _simulate_or_reason(self, bundle: _Bundle, head: int, timestamp: int) -> str:
        """'' when the bundle still succeeds on the head state, else why not."""
        try:
            result = await self._simulate(bundle.txs, head, bundle.block, timestamp)
        except _InvalidBundle as exc:
            return f"simulation failed: {exc}"
        for entry in result["results"]:
            if entry.get("error"):
                return f"simulation failed: tx {entry['txHash']}: {entry['error']}"
        return ""

    async def _verify(self, bundle: _Bundle, ours: list[str]) -> tuple[bool, str]:
        receipts = [await self._rpc("eth_getTransactionReceipt", [h]) for h in ours]
        self._unmined = tuple(h for h, r in zip(ours, receipts, strict=True) if r is None)
        if self._unmined:
            await self._drop_unmined()
            return False, f"the bundle was not mined whole in block {bundle.block}"
        block = await self._rpc("eth_getBlockByNumber", [hex(bundle.block), False])
        head_txs = [str(h).lower() for h in (block or {}).get("transactions", [])[: len(ours)]]
        if head_txs != ours:
            return False, f"the bundle is not at the head of block {bundle.block}"
        if any(int(r["status"], 16) != 1 for r in receipts):
            logger.warning("sim relay: bundle {} reverted on inclusion", bundle.hash)
            return False, f"reverted on inclusion in block {bundle.block}"
        return True, "included"

    async def _drop_unmined(self) -> None:
        for tx_hash in self._unmined:
            await self._rpc("anvil_dropTransaction", [tx_hash])
        self._unmined = ()

    async def _restore_chain(self) -> None:
        """Bundle transactions left in the pool by an interrupted build go; mining comes back."""
        if self._unmined:
            await self._drop_unmined()
        if not self._mining_off:
            return
        if self.block_time_s > 0:  # anvil takes whole seconds here
            await self._rpc("evm_setIntervalMining", [self._interval_s()])
        else:
            await self._rpc("evm_setAutomine", [True])
        self._mining_off = False

    def _interval_s(self) -> int:
        return max(1, round(self.block_time_s))

    def _record(self, bundle: _Bundle, included: bool, reason: str) -> None:
        if included:
            self.included += 1
        else:
            self.not_included += 1
        self.outcomes.append(BuildOutcome(bundle.uuid, bundle.block, bundle.hash, included, reason))
        logger.debug("sim relay: bundle {} for block {}: {}", bundle.hash, bundle.block, reason)


def _error(rid: Any, code: int, message: str, status: int) -> web.Response:
    body = {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}
    return web.json_response(body, status=status)
