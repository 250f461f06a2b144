"""Normalized market-data messages as they cross a message bus (NATS JetStream) or sit in a
recording: one book snapshot or delta, or one collector heartbeat, as compact JSON.

A book message carries what the engine's book needs to rebuild the venue's book exactly and to
notice a gap: the venue's sequence (each delta's `prev` is the sequence it follows), the
exchange's and the collector's receive timestamps, and the levels as [price, size] numbers
(floats written with `repr`, so they read back bit for bit; size 0 removes a level).

Subjects are per venue and symbol (`arbdesk.book.<venue>.<BASE_QUOTE>`), so a consumer takes
one venue, one symbol or everything with NATS wildcards; heartbeats go to
`arbdesk.heartbeat.<collector>`. A malformed message raises `BadMessage` naming what is wrong;
the consumer drops it and says so, it never takes a partial book.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

BOOK_SUBJECT_PREFIX = "arbdesk.book"
HEARTBEAT_SUBJECT_PREFIX = "arbdesk.heartbeat"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")

Level = tuple[float, float]


class BadMessage(ValueError):
    """A bus message that is not a well-formed book message or heartbeat."""


@dataclass(frozen=True, slots=True)
class BookMessage:
    venue: str
    symbol: str
    kind: Literal["snapshot", "delta"]
    sequence: int | None
    """The venue's sequence after this message (None: the venue has none)."""
    prev: int | None
    """A delta's predecessor: the sequence it applies on (a gap when the book is elsewhere)."""
    exchange_ts: float | None
    received_at: float
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


@dataclass(frozen=True, slots=True)
class Heartbeat:
    collector: str
    at: float
    feeds: tuple[tuple[str, str, str], ...]
    """(venue, symbol, feed state) of every feed the collector runs."""


def book_subject(venue: str, symbol: str) -> str:
    """`arbdesk.book.binance.BTC_USDT`: NATS tokens cannot hold '/' or '.'."""
    return f"{BOOK_SUBJECT_PREFIX}.{_token(venue)}.{_token(symbol.replace('/', '_'))}"


def heartbeat_subject(collector: str) -> str:
    return f"{HEARTBEAT_SUBJECT_PREFIX}.{_token(collector)}"


def _token(text: str) -> str:
    if not _TOKEN.match(text):
        raise ValueError(f"{text!r} cannot be a subject token (letters, digits, _ and - only)")
    return text


def encode_book(message: BookMessage) -> bytes:
    data = {
        "v": message.venue,
        "s": message.symbol,
        "k": message.kind,
        "q": message.sequence,
        "p": message.prev,
        "e": message.exchange_ts,
        "r": message.received_at,
        "b": message.bids,
        "a": message.asks,
    }
    return json.dumps(data, separators=(",", ":"), allow_nan=False).encode()


def decode_book(raw: bytes) -> BookMessage:
    data = _object(raw)
    kind = data.get("k")
    if kind not in ("snapshot", "delta"):
        raise BadMessage(f"book message kind {kind!r} is neither snapshot nor delta")
    sequence, prev = _opt_int(data, "q"), _opt_int(data, "p")
    if kind == "delta" and sequence is not None and prev is not None and prev >= sequence:
        raise BadMessage(f"delta sequence {sequence} does not follow its prev {prev}")
    return BookMessage(
        venue=_text(data, "v"),
        symbol=_text(data, "s"),
        kind=kind,
        sequence=sequence,
        prev=prev,
        exchange_ts=_opt_number(data, "e"),
        received_at=_number(data, "r"),
        bids=_levels(data, "b"),
        asks=_levels(data, "a"),
    )


def encode_heartbeat(beat: Heartbeat) -> bytes:
    data = {"c": beat.collector, "t": beat.at, "f": beat.feeds}
    return json.dumps(data, separators=(",", ":"), allow_nan=False).encode()


def decode_heartbeat(raw: bytes) -> Heartbeat:
    data = _object(raw)
    feeds = data.get("f")
    if not isinstance(feeds, list) or not all(
        isinstance(f, list) and len(f) == 3 and all(isinstance(x, str) for x in f) for f in feeds
    ):
        raise BadMessage("heartbeat feeds must be [venue, symbol, state] triples")
    return Heartbeat(_text(data, "c"), _number(data, "t"), tuple((a, b, c) for a, b, c in feeds))


def _object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadMessage(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadMessage("not a JSON object")
    return data


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise BadMessage(f"field {key!r} must be a non-empty string, not {value!r}")
    return value


def _number(data: dict[str, Any], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadMessage(f"field {key!r} must be a finite number, not {value!r}")
    return float(value)


def _opt_number(data: dict[str, Any], key: str) -> float | None:
    return None if data.get(key) is None else _number(data, key)


def _opt_int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadMessage(f"field {key!r} must be a non-negative integer, not {value!r}")
    return value


def _levels(data: dict[str, Any], key: str) -> tuple[Level, ...]:
    value = data.get(key)
    if not isinstance(value, list):
        raise BadMessage(f"field {key!r} must be a list of [price, size]")
    out: list[Level] = []
    for level in value:
        if not (isinstance(level, list) and len(level) == 2):
            raise BadMessage(f"{key!r}: level {level!r} is not [price, size]")
        price, size = level
        for x in level:
            if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
                raise BadMessage(f"{key!r}: level {level!r} holds a non-number")
        if price <= 0 or size < 0:
            raise BadMessage(f"{key!r}: level {level!r} has a price <= 0 or a negative size")
        out.append((float(price), float(size)))
    return tuple(out)
