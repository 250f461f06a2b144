"""Revert data -> a readable reason: Error(string), Panic(uint256) and custom errors by ABI.

Nodes hand revert data back in different shapes (a hex string in the JSON-RPC error's `data`,
sometimes nested one level, or a web3 exception carrying it); `revert_data` digs it out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector

_ERROR_STRING = bytes.fromhex("08c379a0")
_PANIC = bytes.fromhex("4e487b71")
_PANICS = {
    0x01: "assert failed",
    0x11: "arithmetic overflow/underflow",
    0x12: "division by zero",
    0x21: "bad enum value",
    0x31: "pop on empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to a zero function",
}


def _signature(entry: dict[str, Any]) -> str:
    types = ",".join(_type(i) for i in entry.get("inputs", []))
    return f"{entry['name']}({types})"


def _type(param: dict[str, Any]) -> str:
    kind: str = param["type"]
    if kind.startswith("tuple"):
        inner = ",".join(_type(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


class RevertDecoder:
    """Decodes revert data with the custom errors of the given ABIs."""

    def __init__(self, abis: Iterable[list[dict[str, Any]]] = ()) -> None:
        self._errors: dict[bytes, tuple[str, list[str]]] = {}
        for abi in abis:
            for entry in abi:
                if entry.get("type") == "error":
                    selector = function_signature_to_4byte_selector(_signature(entry))
                    types = [_type(i) for i in entry.get("inputs", [])]
                    self._errors[selector] = (entry["name"], types)

    def decode(self, data: bytes | None) -> str:
        """A one-line reason: 'UniswapV2: K', 'ProfitTooLow(12, 40)', 'panic: ...'."""
        if not data:
            return "reverted without a reason"
        selector, body = data[:4], data[4:]
        try:
            if selector == _ERROR_STRING:
                return str(decode(["string"], body)[0])
            if selector == _PANIC:
                code = int(decode(["uint256"], body)[0])
                return f"panic: {_PANICS.get(code, hex(code))}"
            if selector in self._errors:
                name, types = self._errors[selector]
                args = decode(types, body) if types else ()
                return f"{name}({', '.join(str(a) for a in args)})"
        except Exception:  # noqa: S110 - malformed data: fall through to the raw form
            pass
        return f"reverted with data 0x{data.hex()}"


def revert_data(error: Any) -> bytes | None:
    """Revert bytes from a JSON-RPC error object, an RpcError, or a web3 exception."""
    candidates: list[Any] = []
    if isinstance(error, dict):
        candidates.append(error.get("data"))
    for attr in ("data", "args"):
        value = getattr(error, attr, None)
        candidates.extend(value if isinstance(value, tuple) else [value])
    for value in candidates:
        if isinstance(value, dict):
            value = value.get("data") or value.get("result")
        if isinstance(value, bytes):
            return value
        if isinstance(value, str) and value.startswith("0x"):
            try:
                return bytes.fromhex(value[2:])
            except ValueError:
                continue
    return None
