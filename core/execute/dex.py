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

from core.amm.pools import DexPool
from core.chain.fee_oracle import FeeOracle
from core.chain.nonces import NonceManager
from core.chain.reverts import RevertDecoder, revert_data
from core.gas import Fees

TxStatus = Literal["mined", "reverted", "rejected"]
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
    ) -> None:
        self.w3 = w3
        self.account = Account.from_key(private_key)
        self.address: str = self.account.address
        self.chain_id = chain_id
        self.fees = fees
        self.decoder = decoder
        self.receipt_timeout_s = receipt_timeout_s
        self.nonces = NonceManager(self._pending_count)
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
    ) -> TxResult:
        """Send and wait for the receipt. Without `gas_limit` the call is simulated first and
        a revert there is returned as 'rejected' without sending anything. `gate` is asked
        right before signing (after every await of the preparation): a reason it gives is
        returned as 'rejected' ("not sent: ...") with nothing sent and no nonce used."""
        call = {"from": self.address, "to": to, "data": "0x" + data.hex(), "value": hex(value)}
        if gas_limit is None:
            estimate = await self._rpc("eth_estimateGas", [call])
            if "error" in estimate:
                return TxResult("rejected", self._reason(estimate["error"]))
            gas = int(int(estimate["result"], 16) * GAS_MARGIN)
        else:
            gas = gas_limit
        head = await self.w3.eth.block_number
        fees = await self.fees.update(self.w3, head)
        try:
            async with self.nonces.claim(self.address) as nonce:
                if gate is not None and (refusal := gate()):
                    raise _NotSent(refusal)  # leaves the claim unconsumed
                tx_hash, unknown = await self._send_signed(to, call, value, gas, fees, nonce)
        except _NotSent as exc:
            return TxResult("rejected", f"not sent: {exc}")
        self.sent += 1
        result = await self._wait(tx_hash, nonce, call)
        if unknown and result.outcome_unknown:
            # Maybe the node never got it: then the nonce is free again and must be reused.
            self._resync_soon()
            return replace(result, reason=f"{unknown}; {result.reason}")
        return result

    async def _send_signed(
        self, to: str, call: dict[str, Any], value: int, gas: int, fees: Fees, nonce: int
    ) -> tuple[str, str]:
        """Sign and send; (tx hash, '' or why the outcome is unknown). Raises TxSendError when
        the node refused it (the nonce is then not used)."""
        tx = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": nonce,
            "to": to_checksum_address(to),
            "data": call["data"],
            "value": value,
            "gas": gas,
            "maxFeePerGas": fees.max_fee_wei,
            "maxPriorityFeePerGas": fees.priority_fee_wei,
        }
        signed = self.account.sign_transaction(tx)
        tx_hash = "0x" + bytes(signed.hash).hex()  # known before sending: lost answers happen
        raw = "0x" + bytes(signed.raw_transaction).hex()
        try:
            answer = await self._rpc("eth_sendRawTransaction", [raw])
        except Exception as exc:  # noqa: BLE001 - transport: the node may have it all the same
            return tx_hash, f"send outcome unknown ({type(exc).__name__}: {exc})"
        if "error" in answer:
            error = answer["error"]
            message = str(error.get("message", error) if isinstance(error, dict) else error)
            lowered = message.lower()
            if "already known" in lowered:
                return tx_hash, ""  # this very transaction is in the node's pool: it was sent
            if "nonce" in lowered or "underpriced" in lowered:
                # Someone else used this account's nonce: re-read after leaving the lock.
                self._resync_soon()
            raise TxSendError(message)
        return str(answer.get("result") or tx_hash), ""

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
            tx = {
                "type": 2,
                "chainId": self.chain_id,
                "nonce": nonce,
                "data": "0x" + bytecode.hex(),
                "value": 0,
                "gas": int(int(gas["result"], 16) * GAS_MARGIN),
                "maxFeePerGas": fees.max_fee_wei,
                "maxPriorityFeePerGas": fees.priority_fee_wei,
            }
            signed = self.account.sign_transaction(tx)
            answer = await self._rpc(
                "eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()]
            )
            if "error" in answer:
                raise TxSendError(str(answer["error"]))
        result = await self._wait(answer["result"], nonce, {"from": self.address})
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
        return await self.sender.send(router, data, gas_limit=gas_limit, gate=gate)
