"""Private-relay submission of one signed transaction as a bundle, block by block.

The order of things, and why:
- `eth_callBundle` first: a bundle that reverts, or whose simulated gas eats the profit the
  contract guarantees (`BundleTerms.worth`), is never sent, so a losing attempt costs nothing.
- `eth_sendBundle` to every relay for the next block; when that block passes without our
  transaction, simulate again on the new head and re-target, until the transaction lands or the
  opportunity's TTL passes.
- Inclusion is read from the chain (the transaction's receipt), never from a relay's answer.
- The gate (the breaker's send check: the kill switch, a trip) is asked on every poll; when it
  refuses, `eth_cancelBundle` goes to every relay and the receipt is looked up once more.

The caller (core.execute.dex.TxSender) holds the account's nonce for the whole submission and
consumes it only when the transaction landed, so a dropped bundle leaves the nonce free.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from core.chain.flashbots import BundleSimulation, RelayClient, RelayError, RelayUnavailable

Rpc = Callable[[str, list[Any]], Awaitable[dict[str, Any]]]
Submission = Literal["relay", "public", "relay-then-public"]


@dataclass(frozen=True, slots=True)
class BundleTerms:
    """What a trade tells the relay path about one of its transactions."""

    expires_at: float
    """The opportunity's TTL on `clock`: no block is targeted after it."""
    clock: Callable[[], float] = time.time
    worth: Callable[[BundleSimulation], str] | None = None
    """Asked with each simulation: '' to send, else why the bundle is not worth sending."""


@dataclass(frozen=True, slots=True)
class BundleOutcome:
    status: Literal["included", "not_included", "not_sent", "unavailable"]
    reason: str
    target_blocks: tuple[int, ...] = ()
    receipt: dict[str, Any] | None = None
    simulation_s: tuple[float, ...] = ()
    """Round trip of each eth_callBundle, for the figures."""


@dataclass(frozen=True, slots=True)
class RelayRoute:
    """How a TxSender's trade transactions go out: `mode` and the relays' client."""

    mode: Submission
    client: RelayClient | None
    poll_s: float = 0.05


async def submit_bundle(
    route: RelayRoute,
    rpc: Rpc,
    raw: str,
    tx_hash: str,
    terms: BundleTerms,
    *,
    gate: Callable[[], str] | None = None,
    on_target: Callable[[tuple[int, ...]], None] | None = None,
    explain: Callable[[BundleSimulation], str] | None = None,
) -> BundleOutcome:
    """Simulate, send and re-target one transaction's bundle; see the module docstring.
    `explain` turns a failed simulation into its reason (decoded revert data)."""
    if route.client is None:
        return BundleOutcome("unavailable", "no relay configured")
    run = _BundleRun(route, route.client, rpc, raw, tx_hash, terms, gate, on_target, explain)
    return await run.run()


@dataclass
class _BundleRun:
    route: RelayRoute
    client: RelayClient
    rpc: Rpc
    raw: str
    tx_hash: str
    terms: BundleTerms
    gate: Callable[[], str] | None
    on_target: Callable[[tuple[int, ...]], None] | None
    explain: Callable[[BundleSimulation], str] | None
    targets: list[int] = field(default_factory=list)
    sims: list[float] = field(default_factory=list)
    replacement: str = field(default_factory=lambda: str(uuid.uuid4()))

    def outcome(
        self, status: Any, reason: str, receipt: dict[str, Any] | None = None
    ) -> BundleOutcome:
        return BundleOutcome(status, reason, tuple(self.targets), receipt, tuple(self.sims))

    def refusal(self) -> str:
        return self.gate() if self.gate is not None else ""

    async def run(self) -> BundleOutcome:
        head = await chain_head(self.rpc)
        while True:
            if self.terms.clock() >= self.terms.expires_at:
                why = "opportunity expired before the bundle was sent"
                return self.outcome("not_included" if self.targets else "not_sent", why)
            stop = await self.send_for(head + 1, head)
            if stop is not None:
                return stop
            waited = await self.wait_past(head + 1)
            if isinstance(waited, BundleOutcome):
                return waited
            head = waited

    async def send_for(self, target: int, head: int) -> BundleOutcome | None:
        """Simulate on the head and send for `target`; an outcome when it stops here."""
        started = time.perf_counter()
        try:
            simulation = await self.client.call_bundle([self.raw], target)
        except RelayUnavailable as exc:
            return await self.given_up("unavailable", f"relays unreachable: {exc}")
        except RelayError as exc:
            return await self.given_up("not_sent", f"relay refused the simulation: {exc}")
        self.sims.append(time.perf_counter() - started)
        why = ""
        if not simulation.ok:
            detail = self.explain(simulation) if self.explain else simulation.first_error
            why = f"simulation reverts: {detail}"
        if not why and self.terms.worth is not None:
            why = self.terms.worth(simulation)
        if why:  # after a first target: it no longer pays on the new head, the rest are past
            status = "not_included" if self.targets else "not_sent"
            return self.outcome(status, f"{why} (on block {head})" if self.targets else why)
        if refusal := self.refusal():
            return await self.given_up("not_sent", refusal, cancel=True)
        try:
            await self.client.send_bundle([self.raw], target, replacement_uuid=self.replacement)
        except RelayUnavailable as exc:
            return await self.given_up("unavailable", f"relays unreachable: {exc}")
        self.targets.append(target)
        if self.on_target is not None:
            self.on_target(tuple(self.targets))
        return None

    async def wait_past(self, target: int) -> BundleOutcome | int:
        """Wait for block `target` to pass: the outcome if it took the bundle (or the trade
        gave up), else the new head."""
        while True:
            receipt = await _receipt(self.rpc, self.tx_hash)
            if receipt is not None:
                return self.outcome("included", "", receipt)
            if refusal := self.refusal():
                return await self.given_up("not_included", refusal, cancel=True)
            head = await chain_head(self.rpc)
            if head >= target:
                receipt = await _receipt(self.rpc, self.tx_hash)  # in the block just seen
                if receipt is not None:
                    return self.outcome("included", "", receipt)
                return head
            if self.terms.clock() >= self.terms.expires_at:
                # The target block is still to come and may yet take it: cancel, then look.
                return await self.given_up("not_included", "opportunity expired", cancel=True)
            await asyncio.sleep(self.route.poll_s)

    async def given_up(self, status: Any, why: str, *, cancel: bool = False) -> BundleOutcome:
        """Stop. Before any target nothing went out (`status` stands); after one, what was
        sent may still land, so the relays are told to cancel and the chain decides."""
        if not self.targets:
            return self.outcome(status, why)
        if cancel:
            await self.client.cancel_bundle(self.replacement)
            why = f"cancelled: {why}"
        receipt = await _receipt(self.rpc, self.tx_hash)
        if receipt is not None:
            return self.outcome("included", "", receipt)
        return self.outcome("not_included", why)


def block_span(blocks: tuple[int, ...]) -> str:
    """`123` or `123-125`: the target blocks of a bundle, for reasons and the journal."""
    return str(blocks[0]) if len(blocks) == 1 else f"{blocks[0]}-{blocks[-1]}"


async def chain_head(rpc: Rpc) -> int:
    """The chain's head block number (the node's, never a relay's); raises on an error."""
    answer = await rpc("eth_blockNumber", [])
    if "error" in answer:
        raise RuntimeError(f"eth_blockNumber: {answer['error']}")
    return int(answer["result"], 16)


async def _receipt(rpc: Rpc, tx_hash: str) -> dict[str, Any] | None:
    try:
        answer = await rpc("eth_getTransactionReceipt", [tx_hash])
    except Exception:  # noqa: BLE001 - a lookup hiccup: the next poll asks again
        return None
    receipt: dict[str, Any] | None = answer.get("result")
    return receipt
