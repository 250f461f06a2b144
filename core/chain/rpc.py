"""JSON-RPC batches: many calls in one HTTP round trip (deployment, pool loading, tests)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from web3 import Web3


class RpcError(RuntimeError):
    """A JSON-RPC error object; `data` holds revert data when the node returns it."""

    def __init__(self, method: str, error: dict[str, Any]) -> None:
        self.method = method
        self.code = error.get("code")
        self.data = error.get("data")
        super().__init__(f"{method}: {error.get('message', error)}")


def batch(w3: Web3, requests: Sequence[tuple[str, list[Any]]]) -> list[Any]:
    """Send `requests` as one JSON-RPC batch; results in order, an RpcError where one failed."""
    if not requests:
        return []
    provider = cast(Any, w3.provider)
    responses = provider.make_batch_request([(m, p) for m, p in requests])
    if not isinstance(responses, list):  # the node rejected the whole batch
        raise RpcError("batch", responses.get("error", responses))
    by_id = sorted(responses, key=lambda r: int(r["id"]))
    out: list[Any] = []
    for (method, _), response in zip(requests, by_id, strict=True):
        error = response.get("error")
        out.append(RpcError(method, error) if error else response.get("result"))
    return out


def eth_calls(
    w3: Web3, calls: Sequence[tuple[str, bytes]], block: str | int = "latest"
) -> list[bytes | RpcError]:
    """eth_call each (to, calldata) at `block`; returns return data, or RpcError on revert."""
    tag = block if isinstance(block, str) else hex(block)
    results = batch(
        w3, [("eth_call", [{"to": to, "data": "0x" + d.hex()}, tag]) for to, d in calls]
    )
    return [r if isinstance(r, RpcError) else bytes.fromhex(r[2:]) for r in results]
