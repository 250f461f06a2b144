"""What a mined transaction actually moved: ERC-20 `Transfer` logs summed per token and party.

Trade accounting reads amounts from here (raw token units, exact) rather than from the quote
the transaction was built on: a pool that moved between quote and inclusion delivers what its
logs say, and that is what the journal records. WETH9's `Transfer(src, dst, wad)` has the same
signature, so it is read the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


@dataclass(frozen=True, slots=True)
class Transfer:
    token: str  # lower-case address
    sender: str
    recipient: str
    amount: int


def _address(topic: Any) -> str:
    text = topic if isinstance(topic, str) else "0x" + bytes(topic).hex()
    return "0x" + text[-40:].lower()


def transfers(logs: Iterable[Mapping[str, Any]]) -> list[Transfer]:
    """Every ERC-20 Transfer in receipt logs (JSON-RPC dicts with hex strings)."""
    out: list[Transfer] = []
    for log in logs:
        topics = log.get("topics") or []
        if len(topics) != 3:
            continue
        first = topics[0] if isinstance(topics[0], str) else "0x" + bytes(topics[0]).hex()
        if first.lower() != TRANSFER_TOPIC:
            continue
        data = log.get("data") or "0x"
        raw = data if isinstance(data, str) else "0x" + bytes(data).hex()
        out.append(
            Transfer(
                str(log["address"]).lower(),
                _address(topics[1]),
                _address(topics[2]),
                int(raw, 16) if len(raw) > 2 else 0,
            )
        )
    return out


def received(moves: Iterable[Transfer], token: str, party: str) -> int:
    """Raw units of `token` sent to `party`."""
    token, party = token.lower(), party.lower()
    return sum(t.amount for t in moves if t.token == token and t.recipient == party)


def sent(moves: Iterable[Transfer], token: str, party: str) -> int:
    """Raw units of `token` sent by `party`."""
    token, party = token.lower(), party.lower()
    return sum(t.amount for t in moves if t.token == token and t.sender == party)


def units(raw: int, decimals: int) -> Decimal:
    """Raw token units as an exact Decimal of whole tokens."""
    return Decimal(raw).scaleb(-decimals)
