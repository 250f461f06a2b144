"""JSON-RPC batches: many calls in one HTTP round trip (deployment, pool loading, tests).

Sync (`Web3`) and async (`AsyncWeb3`) callers share the request building and response parsing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from web3 import AsyncWeb3, Web3

Call = tuple[str, bytes]
"""(contract address, calldata) for one eth_call."""


class RpcError(RuntimeError):
    """A JSON-RPC error object; `data` holds revert data when the node returns it."""

    def __init__(self, method: str, error: dict[str, Any]) -> None:
        self.method = method
        self.code = error.get("code")
        self.data = error.get("data")
        super().__init__(f"{method}: {error.get('message', error)}")


def _parse(requests: Sequence[tuple[str, list[Any]]], responses: Any) -> list[Any]:
    if not isinstance(responses, list):  # the node rejected the whole batch
        raise RpcError("batch", responses.get("error", responses))
    by_id = sorted(responses, key=lambda r: int(r["id"]))
    out: list[Any] = []
    for (method, _), response in zip(requests, by_id, strict=True):
        error = response.get("error")
        out.append(RpcError(method, error) if error else response.get("result"))
    return out


def batch(w3: Web3, requests: Sequence[tuple[str, list[Any]]]) -> list[Any]:
    """Send `requests` as one JSON-RPC batch; results in order, an RpcError where one failed."""
    if not requests:
        return []
    provider = cast(Any, w3.provider)
    return _parse(requests, provider.make_batch_request(list(requests)))


async def abatch(w3: AsyncWeb3[Any], requests: Sequence[tuple[str, list[Any]]]) -> list[Any]:
    """`batch` for AsyncWeb3."""
    if not requests:
        return []
    provider = cast(Any, w3.provider)
    return _parse(requests, await provider.make_batch_request(list(requests)))


def block_tag(block: str | int) -> str:
    return block if isinstance(block, str) else hex(block)


def call_requests(calls: Sequence[Call], block: str | int) -> list[tuple[str, list[Any]]]:
    tag = block_tag(block)
    return [("eth_call", [{"to": to, "data": "0x" + data.hex()}, tag]) for to, data in calls]


def call_results(results: list[Any]) -> list[bytes | RpcError]:
    return [r if isinstance(r, RpcError) else bytes.fromhex(r[2:]) for r in results]


def eth_calls(
    w3: Web3, calls: Sequence[Call], block: str | int = "latest"
) -> list[bytes | RpcError]:
    """eth_call each (to, calldata) at `block`; returns return data, or RpcError on revert."""
    return call_results(batch(w3, call_requests(calls, block)))


async def aeth_calls(
    w3: AsyncWeb3[Any], calls: Sequence[Call], block: str | int = "latest"
) -> list[bytes | RpcError]:
    """`eth_calls` for AsyncWeb3."""
    return call_results(await abatch(w3, call_requests(calls, block)))
