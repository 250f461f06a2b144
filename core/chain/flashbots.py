"""The Flashbots private-relay protocol, searcher side: signed JSON-RPC bundles.

A relay (or block builder) takes a bundle, an ordered list of signed transactions for one block,
and either puts all of it at the head of that block or none of it: a bundle that would revert is
never mined, so it costs no gas. `eth_callBundle` simulates one, `eth_sendBundle` submits it,
`eth_cancelBundle` withdraws it by its replacement uuid.

Every request carries `X-Flashbots-Signature: <address>:<signature>`, an EIP-191 personal_sign of
the text "0x" + keccak256(body) by the searcher's key. The key only identifies the searcher (its
reputation); it never holds funds and signs no transaction. `core/feeds/sim/relay.py` serves the
same protocol on loopback against the devnet.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import is_hex_address, keccak, to_checksum_address
from loguru import logger

from core.redact import register_secret

FLASHBOTS_HEADER = "X-Flashbots-Signature"
_ERROR_TEXT_MAX = 300
"""A relay's non-JSON error body is quoted up to this many characters."""


class BadSignature(ValueError):
    """The X-Flashbots-Signature header is missing, malformed, or not the claimed signer's."""


class RelayError(RuntimeError):
    """A relay answered with an error (JSON-RPC error, or an HTTP 4xx with a body); the
    message names the relay, `reason` is what it said."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


class RelayUnavailable(RelayError):
    """No relay took the request; `reasons` maps each relay URL to why not."""

    def __init__(self, message: str, reasons: dict[str, str]) -> None:
        super().__init__(message)
        self.reasons = reasons


def _body_text(body: bytes) -> str:
    return "0x" + keccak(body).hex()


def signature_header(body: bytes, private_key: str) -> str:
    """`<checksum address>:<0x signature>` of `body` (the exact bytes sent) by `private_key`."""
    account = Account.from_key(private_key)
    signed = account.sign_message(encode_defunct(text=_body_text(body)))
    return f"{account.address}:0x{bytes(signed.signature).hex()}"


def verify_signature(body: bytes, header: str | None) -> str:
    """The checksum address that signed `body`; raises BadSignature saying why not."""
    if not header:
        raise BadSignature(f"missing {FLASHBOTS_HEADER} header")
    claimed, sep, signature = header.strip().partition(":")
    if not sep or not is_hex_address(claimed):
        raise BadSignature("malformed header: expected '<address>:<0x signature>'")
    try:
        raw = bytes.fromhex(signature.removeprefix("0x"))
    except ValueError:
        raise BadSignature("malformed signature: not hex") from None
    if len(raw) != 65:
        raise BadSignature(f"malformed signature: {len(raw)} bytes, expected 65")
    try:
        signer = Account.recover_message(encode_defunct(text=_body_text(body)), signature=raw)
    except Exception as exc:  # noqa: BLE001 - eth_keys raises several types for bad (r, s, v)
        raise BadSignature(f"malformed signature: {exc}") from None
    address = to_checksum_address(claimed)
    if signer != address:
        raise BadSignature(f"signer {signer} is not the claimed address {address}")
    return str(signer)


def _int(value: Any) -> int:
    """A relay number: an int, a 0x-hex string or a decimal string (relays use all three)."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text, 16) if text[:2].lower() == "0x" else int(text)


@dataclass(frozen=True, slots=True)
class TxSimulation:
    tx_hash: str
    gas_used: int
    error: str
    """'' when the transaction succeeded."""
    revert: str
    """Hex return data of a revert ('' if none)."""
    value: str = ""
    """Hex return data of a success ('' if the relay did not say)."""

    @property
    def ok(self) -> bool:
        return not self.error and not self.revert


@dataclass(frozen=True, slots=True)
class BundleSimulation:
    results: tuple[TxSimulation, ...]
    state_block: int
    total_gas_used: int
    coinbase_diff: int
    """Wei the block's fee recipient gains from the bundle (priority fees and direct payments)."""
    relay: str
    """The URL of the relay that simulated it."""

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def first_error(self) -> str:
        """'' when every transaction succeeded, else e.g. 'tx 0x12ab…: execution reverted'."""
        for r in self.results:
            if not r.ok:
                return f"tx {r.tx_hash[:6]}…: {r.error or 'execution reverted'}"
        return ""

    @classmethod
    def from_result(cls, result: Any, relay: str) -> BundleSimulation:
        """Parse the Flashbots eth_callBundle result; raises RelayError if it is not one."""
        try:
            results = tuple(
                TxSimulation(
                    tx_hash=str(r.get("txHash", "")),
                    gas_used=_int(r.get("gasUsed")),
                    error=str(r.get("error") or ""),
                    revert=str(r.get("revert") or ""),
                    value=str(r.get("value") or ""),
                )
                for r in result["results"]
            )
            return cls(
                results=results,
                state_block=_int(result.get("stateBlockNumber")),
                total_gas_used=_int(result.get("totalGasUsed")),
                coinbase_diff=_int(result.get("coinbaseDiff")),
                relay=relay,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RelayError(f"{relay}: eth_callBundle: malformed result ({exc!r})") from None


class _Unreachable(Exception):
    """The request got no usable answer from one relay (transport error, timeout, 5xx)."""


class RelayClient:
    """Signs and sends bundle requests to relays; one aiohttp session, made on first use.
    With no URLs every call finds no relay (RelayUnavailable; cancel returns ())."""

    def __init__(self, urls: Sequence[str], searcher_key: str, *, timeout_s: float = 3.0) -> None:
        register_secret(searcher_key)
        self.urls = tuple(urls)
        self._key = searcher_key
        self.address: str = Account.from_key(searcher_key).address
        self.timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None
        self._ids = itertools.count(1)

    def __repr__(self) -> str:  # never the key
        return f"RelayClient(urls={self.urls!r}, searcher={self.address})"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.timeout_s)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def _post(self, url: str, method: str, params: list[Any]) -> Any:
        """The JSON-RPC result from `url`; RelayError for an error answer, _Unreachable when
        there was no usable answer (so the caller may try another relay)."""
        request = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        body = json.dumps(request, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            FLASHBOTS_HEADER: signature_header(body, self._key),
        }
        try:
            async with self._client().post(url, data=body, headers=headers) as response:
                status = response.status
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise _Unreachable(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        try:
            answer = json.loads(text)
        except ValueError:
            answer = None
        error = answer.get("error") if isinstance(answer, dict) else None
        if error is not None:
            message = error.get("message", error) if isinstance(error, dict) else error
            code = f" ({error['code']})" if isinstance(error, dict) and "code" in error else ""
            reason = f"{message}{code}"
            raise RelayError(f"{url}: {method}: {reason}", reason)
        if status >= 500:
            raise _Unreachable(f"HTTP {status}")
        if status >= 400 or not isinstance(answer, dict) or "result" not in answer:
            reason = f"HTTP {status}: {text[:_ERROR_TEXT_MAX] or 'no body'}"
            raise RelayError(f"{url}: {method}: {reason}", reason)
        return answer["result"]

    async def call_bundle(
        self, raw_txs: Sequence[str], block: int, state_block: int | str = "latest"
    ) -> BundleSimulation:
        """Simulate `raw_txs` for `block` on top of `state_block`, on the first relay that
        answers (in order). A relay's error answer is final: another relay simulating the same
        bundle would say the same."""
        state = state_block if isinstance(state_block, str) else hex(state_block)
        params = [{"txs": list(raw_txs), "blockNumber": hex(block), "stateBlockNumber": state}]
        reasons: dict[str, str] = {}
        for url in self.urls:
            try:
                result = await self._post(url, "eth_callBundle", params)
            except _Unreachable as exc:
                reasons[url] = str(exc)
                continue
            return BundleSimulation.from_result(result, url)
        raise RelayUnavailable(_listing("no relay simulated the bundle", reasons), reasons)

    async def send_bundle(
        self, raw_txs: Sequence[str], block: int, *, replacement_uuid: str
    ) -> tuple[str, ...]:
        """Submit to every relay at once (each may build the block); the URLs that accepted.
        Raises RelayUnavailable when none did, relays that refused it listed first."""
        params = [
            {"txs": list(raw_txs), "blockNumber": hex(block), "replacementUuid": replacement_uuid}
        ]
        answers = await self._to_all("eth_sendBundle", params)
        accepted: list[str] = []
        refused: dict[str, str] = {}
        unreachable: dict[str, str] = {}
        for url, answer in answers.items():
            if isinstance(answer, RelayError):
                refused[url] = f"refused: {answer.reason}"
            elif isinstance(answer, _Unreachable):
                unreachable[url] = f"unreachable: {answer}"
            elif isinstance(answer, dict) and answer.get("bundleHash"):
                accepted.append(url)
            else:
                refused[url] = f"refused: no bundleHash in {str(answer)[:_ERROR_TEXT_MAX]}"
        if not accepted:
            reasons = {**refused, **unreachable}
            raise RelayUnavailable(_listing("no relay accepted the bundle", reasons), reasons)
        return tuple(accepted)

    async def cancel_bundle(self, replacement_uuid: str) -> tuple[str, ...]:
        """Best effort: the URLs that acknowledged the cancel; never raises for a relay."""
        answers = await self._to_all("eth_cancelBundle", [{"replacementUuid": replacement_uuid}])
        acked = []
        for url, answer in answers.items():
            if isinstance(answer, Exception):
                logger.debug("eth_cancelBundle not acknowledged by {}: {}", url, answer)
            else:
                acked.append(url)
        return tuple(acked)

    async def _to_all(self, method: str, params: list[Any]) -> dict[str, Any]:
        """Each relay's result, or the RelayError / _Unreachable it gave, by URL."""

        async def one(url: str) -> Any:
            try:
                return await self._post(url, method, params)
            except (RelayError, _Unreachable) as exc:
                return exc

        results = await asyncio.gather(*(one(url) for url in self.urls))
        return dict(zip(self.urls, results, strict=True))


def _listing(what: str, reasons: dict[str, str]) -> str:
    if not reasons:
        return f"{what}: no relay configured"
    return f"{what}: " + "; ".join(f"{url}: {why}" for url, why in reasons.items())
