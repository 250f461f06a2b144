"""DEX legs: locally signed EIP-1559 transactions (router swaps, FlashArbitrage calls) with a
nonce manager, receipts tracked, and revert reasons decoded.

A transaction is first simulated with eth_estimateGas: a revert there is reported with its
decoded reason and nothing is sent (no nonce used, no gas spent). A transaction that is mined
but reverts has its reason recovered by replaying the call on the parent block. Nothing here
retries a revert: the caller gets one `TxResult` and decides.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from eth_account import Account
from eth_utils import to_checksum_address
from loguru import logger

from core.amm.pools import DexPool
from core.chain.fee_oracle import FeeOracle
from core.chain.flashbots import BundleSimulation
from core.chain.nonces import NonceManager
from core.chain.reverts import RevertDecoder, revert_data
from core.execute.bundles import (
    BundleOutcome,
    BundleTerms,
    RelayRoute,
    block_span,
    submit_bundle,
)
from core.gas import Fees

TxStatus = Literal["mined", "reverted", "rejected", "not_included"]
OnSubmitted = Callable[[str, str, tuple[int, ...]], None]
"""(tx hash, "public" or "relay", target blocks so far): told each time a transaction goes out."""
Gate = Callable[[], str]
"""Asked right before a transaction is signed and sent: '' to go ahead, else why not."""
GAS_MARGIN = 1.25
"""Gas limit = estimate x this: room for state moving between estimate and inclusion."""
MAX_UINT = 2**256 - 1
_APPROVE = bytes.fromhex("095ea7b3")
_ALLOWANCE = bytes.fromhex("dd62ed3e")


@dataclass(frozen=True, slots=True)
class TxResult:
    status: TxStatus
    reason: str
    """'' when mined; the decoded revert reason otherwise."""
    tx_hash: str | None = None
    nonce: int | None = None
    gas_used: int = 0
    effective_gas_price_wei: int = 0
    block: int | None = None
    logs: tuple[dict[str, Any], ...] = ()
    submission: str = "public"
    """"relay" when it went (or was meant to go) out as a private bundle."""
    target_blocks: tuple[int, ...] = ()
    simulation_s: tuple[float, ...] = ()
    """Round trips of the relay simulations before it was sent (figures)."""

    @property
    def ok(self) -> bool:
        return self.status == "mined"

    @property
    def outcome_unknown(self) -> bool:
        """Sent, but no receipt before the timeout: it may still be mined."""
        return self.status == "rejected" and self.tx_hash is not None

    @property
    def gas_cost_wei(self) -> int:
        return self.gas_used * self.effective_gas_price_wei


class TxSender:
    """Signs with one key and sends through AsyncWeb3; safe to call concurrently."""

    def __init__(
        self,
        w3: Any,
        private_key: str,
        chain_id: int,
        fees: FeeOracle,
        decoder: RevertDecoder,
        *,
        receipt_timeout_s: float = 60.0,
        relay: RelayRoute | None = None,
    ) -> None:
        self.w3 = w3
        self.account = Account.from_key(private_key)
        self.address: str = self.account.address
        self.chain_id = chain_id
        self.fees = fees
        self.decoder = decoder
        self.receipt_timeout_s = receipt_timeout_s
        self.nonces = NonceManager(self._pending_count)
        self.relay = relay or RelayRoute("public", None)
        """How trade transactions (those sent with `bundle` terms) go out."""
        self.sent = 0
        self._resyncs: set[asyncio.Task[int]] = set()

    async def _pending_count(self, address: str) -> int:
        return int(await self.w3.eth.get_transaction_count(address, "pending"))

    async def _rpc(self, method: str, params: list[Any]) -> dict[str, Any]:
        response: dict[str, Any] = await self.w3.provider.make_request(method, params)
        return response

    async def send(
        self,
        to: str,
        data: bytes,
        value: int = 0,
        gas_limit: int | None = None,
        *,
        gate: Gate | None = None,
        bundle: BundleTerms | None = None,
        on_submitted: OnSubmitted | None = None,
    ) -> TxResult:
        """Send and wait for the receipt. Without `gas_limit` the call is simulated first and
        a revert there is returned as 'rejected' without sending anything. `gate` is asked
        right before signing (after every await of the preparation): a reason it gives is
        returned as 'rejected' ("not sent: ...") with nothing sent and no nonce used.

        With `bundle` (a trade's transaction) and a relay route that is not "public", the
        signed transaction goes to the private relays instead (core.execute.bundles); one that
        no block took comes back 'not_included' with its nonce still free. `on_submitted` is
        told (tx hash, "public" / "relay", target blocks) each time it goes out."""
        call = {"from": self.address, "to": to, "data": "0x" + data.hex(), "value": hex(value)}
        if gas_limit is None:  # the estimate needs the latest block's timestamp
            latest = await self.w3.eth.get_block("latest")
            head = int(latest["number"])
            estimate = await self._estimate(call, int(latest["timestamp"]))
            if "error" in estimate:
                return TxResult("rejected", self._reason(estimate["error"]))
            gas = int(int(estimate["result"], 16) * GAS_MARGIN)
        else:
            head = await self.w3.eth.block_number
            gas = gas_limit
        fees = await self.fees.update(self.w3, head)
        route = self.relay if bundle is not None and self.relay.mode != "public" else None
        note = ""
        try:
            async with self.nonces.claim(self.address) as nonce:
                if gate is not None and (refusal := gate()):
                    raise _NotSent(refusal)  # leaves the claim unconsumed
                raw, tx_hash = self._sign(to, call["data"], value, gas, fees, nonce)
                if route is not None and bundle is not None:
                    relayed = await self._relay(route, raw, tx_hash, bundle, gate, on_submitted)
                    if relayed.status == "included":
                        assert relayed.receipt is not None
                        result = await self._from_receipt(relayed.receipt, tx_hash, nonce, call)
                        return replace(
                            result,
                            submission="relay",
                            target_blocks=relayed.target_blocks,
                            simulation_s=relayed.simulation_s,
                        )
                    if relayed.status != "unavailable" or route.mode != "relay-then-public":
                        raise _NotIncluded(relayed)
                    note = f"sent to the mempool: {relayed.reason}"
                    logger.warning("relay unavailable, {}", note)
                unknown = await self._send_raw(raw, tx_hash)
                if on_submitted is not None:
                    on_submitted(tx_hash, "public", ())
        except _NotSent as exc:
            return TxResult("rejected", f"not sent: {exc}")
        except _NotIncluded as exc:
            out = exc.outcome
            status: TxStatus = "not_included" if out.status == "not_included" else "rejected"
            why = out.reason if status == "not_included" else f"not sent: {out.reason}"
            blocks = out.target_blocks
            if status == "not_included":
                why = f"bundle not included in block {block_span(blocks)}: {why}; nothing paid"
            return TxResult(
                status,
                why,
                tx_hash=tx_hash if blocks else None,
                submission="relay",
                target_blocks=blocks,
                simulation_s=out.simulation_s,
            )
        self.sent += 1
        result = await self._wait(tx_hash, nonce, call)
        if note:
            result = replace(result, reason=f"{note}; {result.reason}".rstrip("; "))
        if unknown and result.outcome_unknown:
            # Maybe the node never got it: then the nonce is free again and must be reused.
            self._resync_soon()
            return replace(result, reason=f"{unknown}; {result.reason}")
        return result

    async def _estimate(self, call: dict[str, Any], latest_timestamp: int) -> dict[str, Any]:
        """eth_estimateGas as in the next block: its timestamp past the latest one's. Estimated
        in the latest block's second, a Uniswap V2 pair skips its price-accumulator writes
        (~40k gas) that the mined swap then makes, and runs out of gas. A node that does not
        take block overrides is asked plainly."""
        next_block = {"time": hex(latest_timestamp + 1)}  # the chain's clock, not ours
        answer = await self._rpc("eth_estimateGas", [call, "latest", {}, next_block])
        error = answer.get("error")
        if isinstance(error, dict) and error.get("code") == -32602:  # invalid params
            answer = await self._rpc("eth_estimateGas", [call])
        return answer

    async def _relay(
        self,
        route: RelayRoute,
        raw: str,
        tx_hash: str,
        terms: BundleTerms,
        gate: Gate | None,
        on_submitted: OnSubmitted | None,
    ) -> BundleOutcome:
        def on_target(blocks: tuple[int, ...]) -> None:
            if on_submitted is not None:
                on_submitted(tx_hash, "relay", blocks)

        outcome = await submit_bundle(
            route,
            self._rpc,
            raw,
            tx_hash,
            terms,
            gate=gate,
            on_target=on_target,
            explain=self._explain,
        )
        if outcome.status == "included":
            self.sent += 1
        return outcome

    def _sign(
        self, to: str | None, data: str, value: int, gas: int, fees: Fees, nonce: int
    ) -> tuple[str, str]:
        """(raw signed EIP-1559 transaction, its hash), `to` None for a deployment: the hash
        is known before anything is sent."""
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": nonce,
            "data": data,
            "value": value,
            "gas": gas,
            "maxFeePerGas": fees.max_fee_wei,
            "maxPriorityFeePerGas": fees.priority_fee_wei,
        }
        if to is not None:
            tx["to"] = to_checksum_address(to)
        signed = self.account.sign_transaction(tx)
        return "0x" + bytes(signed.raw_transaction).hex(), "0x" + bytes(signed.hash).hex()

    async def _send_raw(self, raw: str, tx_hash: str) -> str:
        """Send a signed transaction to the node's mempool; '' or why the outcome is unknown.
        Raises TxSendError when the node refused it (the nonce is then not used)."""
        try:
            answer = await self._rpc("eth_sendRawTransaction", [raw])
        except Exception as exc:  # noqa: BLE001 - transport: the node may have it all the same
            return f"send outcome unknown ({type(exc).__name__}: {exc})"
        if "error" in answer:
            error = answer["error"]
            message = str(error.get("message", error) if isinstance(error, dict) else error)
            lowered = message.lower()
            if "already known" in lowered:
                return ""  # this very transaction is in the node's pool: it was sent
            if "nonce" in lowered or "underpriced" in lowered:
                # Someone else used this account's nonce: re-read after leaving the lock.
                self._resync_soon()
            raise TxSendError(message)
        return ""

    def _resync_soon(self) -> None:
        task = asyncio.get_running_loop().create_task(self.nonces.resync(self.address))
        self._resyncs.add(task)
        task.add_done_callback(self._resyncs.discard)

    async def send_create(self, bytecode: bytes) -> str:
        """Deploy a contract from this account; returns its address (raises if it fails)."""
        import rlp
        from eth_utils import keccak

        async with self.nonces.claim(self.address) as nonce:
            head = await self.w3.eth.block_number
            fees = await self.fees.update(self.w3, head)
            gas = await self._rpc(
                "eth_estimateGas", [{"from": self.address, "data": "0x" + bytecode.hex()}]
            )
            if "error" in gas:
                raise TxSendError(f"deployment would revert: {self._reason(gas['error'])}")
            limit = int(int(gas["result"], 16) * GAS_MARGIN)
            raw, tx_hash = self._sign(None, "0x" + bytecode.hex(), 0, limit, fees, nonce)
            answer = await self._rpc("eth_sendRawTransaction", [raw])
            if "error" in answer:
                raise TxSendError(str(answer["error"]))
        result = await self._wait(tx_hash, nonce, {"from": self.address})
        if not result.ok:
            raise TxSendError(f"deployment reverted: {result.reason}")
        address = keccak(rlp.encode([bytes.fromhex(self.address[2:]), nonce]))[12:]
        return str(to_checksum_address(address))

    async def _wait(self, tx_hash: str, nonce: int, call: dict[str, Any]) -> TxResult:
        deadline = time.monotonic() + self.receipt_timeout_s
        failed = ""
        while True:
            try:
                answer = await self._rpc("eth_getTransactionReceipt", [tx_hash])
            except Exception as exc:  # noqa: BLE001 - the RPC hiccuped: keep asking till the end
                answer = {}
                failed = f" (last lookup failed: {type(exc).__name__}: {exc})"
            receipt = answer.get("result")
            if receipt is not None:
                break
            if time.monotonic() > deadline:
                why = f"no receipt before the timeout{failed}"
                return TxResult("rejected", why, tx_hash, nonce)
            await asyncio.sleep(0.05)
        return await self._from_receipt(receipt, tx_hash, nonce, call)

    async def _from_receipt(
        self, receipt: dict[str, Any], tx_hash: str, nonce: int, call: dict[str, Any]
    ) -> TxResult:
        """Mined or reverted, from the chain's receipt (a revert's reason by replaying the
        call on the parent block)."""
        block = int(receipt["blockNumber"], 16)
        gas_used = int(receipt["gasUsed"], 16)
        price = int(receipt.get("effectiveGasPrice", "0x0"), 16)
        logs = tuple(receipt.get("logs", []))
        if int(receipt["status"], 16) == 1:
            return TxResult("mined", "", tx_hash, nonce, gas_used, price, block, logs)
        try:
            replay = await self._rpc("eth_call", [call, hex(block - 1)])
        except Exception:  # noqa: BLE001 - the reason is a nicety; the revert is the fact
            replay = {}
        reason = self._reason(replay["error"]) if "error" in replay else "reverted on inclusion"
        return TxResult("reverted", reason, tx_hash, nonce, gas_used, price, block, logs)

    def _explain(self, simulation: BundleSimulation) -> str:
        """The first failing transaction's revert reason, decoded as for a mined revert."""
        for result in simulation.results:
            if result.ok:
                continue
            if result.revert and result.revert not in ("0x", "0x0"):
                return self.decoder.decode(bytes.fromhex(result.revert.removeprefix("0x")))
            return result.error or "execution reverted"
        return ""

    def _reason(self, error: dict[str, Any]) -> str:
        data = revert_data(error)
        if data:
            return self.decoder.decode(data)
        return str(error.get("message", error))

    async def ensure_allowance(
        self, token: str, spender: str, amount: int, *, gate: Gate | None = None
    ) -> TxResult | None:
        """Approve `spender` for MAX once the allowance is below `amount`."""
        owner_word = bytes(12) + bytes.fromhex(self.address[2:])
        spender_word = bytes(12) + bytes.fromhex(to_checksum_address(spender)[2:])
        answer = await self._rpc(
            "eth_call",
            [
                {"to": token, "data": "0x" + (_ALLOWANCE + owner_word + spender_word).hex()},
                "latest",
            ],
        )
        if "error" not in answer and int(answer["result"], 16) >= amount:
            return None
        approve = _APPROVE + spender_word + MAX_UINT.to_bytes(32, "big")
        return await self.send(token, approve, gate=gate)


class _NotSent(Exception):
    """A send refused by its gate after the nonce was claimed (the claim is not consumed)."""


class _NotIncluded(Exception):
    """A relay bundle that did not land, or was never sent: the claim is not consumed."""

    def __init__(self, outcome: BundleOutcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


class TxSendError(RuntimeError):
    """The node refused the signed transaction (not a revert: nothing was mined)."""


class DexLegs:
    """Router swaps for a pool: exact input, `amountOutMin` = quote less `slippage_bps`."""

    def __init__(
        self,
        sender: TxSender,
        routers: dict[str, str],
        v3_router: str,
        *,
        slippage_bps: float,
        deadline_s: int,
    ) -> None:
        from core.chain.artifacts import load  # artifacts read once, at construction

        self.sender = sender
        self.routers = routers
        """V2 venue name -> its Router02 address."""
        self.v3_router = v3_router
        self.slippage_bps = slippage_bps
        self.deadline_s = deadline_s
        self._v2 = sender.w3.eth.contract(abi=load("UniswapV2Router02").abi)
        self._v3 = sender.w3.eth.contract(abi=load("SwapRouter").abi)

    def min_out(self, expected_out: int) -> int:
        """expected_out less slippage_bps, rounded down (integer, like the router compares)."""
        keep = 10**6 - round(self.slippage_bps * 100)
        return expected_out * keep // 10**6

    def router_for(self, pool: DexPool) -> str:
        return self.v3_router if pool.kind == "v3" else self.routers[pool.venue]

    def encode_swap(
        self, pool: DexPool, token_in: str, amount_in: int, min_out: int, deadline: int
    ) -> tuple[str, bytes]:
        """(router, calldata) of an exact-input swap on `pool` paying this account."""
        token_out = pool.token1 if token_in == pool.token0 else pool.token0
        me = self.sender.address
        if pool.kind == "v2":
            data = self._v2.encode_abi(
                "swapExactTokensForTokens",
                [amount_in, min_out, [token_in, token_out], me, deadline],
            )
        else:
            params = (token_in, token_out, pool.fee, me, deadline, amount_in, min_out, 0)
            data = self._v3.encode_abi("exactInputSingle", [params])
        return self.router_for(pool), bytes.fromhex(data[2:])

    async def estimate_swap_gas(self, pool: DexPool, token_in: str, amount_in: int) -> int | None:
        """eth_estimateGas of a router swap (allowance and balance must be in place); None when
        the node says it would revert."""
        block = await self.sender.w3.eth.get_block("latest")
        router, data = self.encode_swap(
            pool, token_in, amount_in, 0, int(block["timestamp"]) + self.deadline_s
        )
        call = {"from": self.sender.address, "to": router, "data": "0x" + data.hex()}
        answer = await self.sender._rpc("eth_estimateGas", [call])
        if "error" in answer:
            return None
        return int(answer["result"], 16)

    async def swap(
        self,
        pool: DexPool,
        token_in: str,
        amount_in: int,
        expected_out: int,
        gas_limit: int | None = None,
        *,
        gate: Gate | None = None,
        bundle: BundleTerms | None = None,
        on_submitted: OnSubmitted | None = None,
    ) -> TxResult:
        """Swap exactly `amount_in` of `token_in` on `pool` through its router; `gate` is
        asked right before each transaction goes out (see TxSender.send)."""
        router = self.router_for(pool)
        approval = await self.sender.ensure_allowance(token_in, router, amount_in, gate=gate)
        if approval is not None and not approval.ok:
            return approval
        block = await self.sender.w3.eth.get_block("latest")
        deadline = int(block["timestamp"]) + self.deadline_s
        _, data = self.encode_swap(pool, token_in, amount_in, self.min_out(expected_out), deadline)
        return await self.sender.send(
            router, data, gas_limit=gas_limit, gate=gate, bundle=bundle, on_submitted=on_submitted
        )
