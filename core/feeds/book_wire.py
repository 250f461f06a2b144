"""Normalized market-data messages as they cross a message bus (NATS JetStream) or sit in a
recording: one book snapshot or delta, or one collector heartbeat, as compact JSON.

A book message carries what the engine's book needs to rebuild the venue's book exactly and to
notice a gap: the venue's sequence (each delta's `prev` is the sequence it follows), the
exchange's and the collector's receive timestamps, and the levels as [price, size] numbers
(floats written shortest-repr by orjson, so they read back bit for bit; size 0 removes a level).

Subjects are per venue and symbol (`arbdesk.book.<venue>.<BASE_QUOTE>`), so a consumer takes
one venue, one symbol or everything with NATS wildcards; heartbeats go to
`arbdesk.heartbeat.<collector>`. A malformed message raises `BadMessage` naming what is wrong;
the consumer drops it and says so, it never takes a partial book.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

import orjson

BOOK_SUBJECT_PREFIX = "arbdesk.book"
HEARTBEAT_SUBJECT_PREFIX = "arbdesk.heartbeat"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")
_INF = math.inf

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
    return encode_book_fields(
        message.venue,
        message.symbol,
        message.kind,
        message.sequence,
        message.prev,
        message.exchange_ts,
        message.received_at,
        message.bids,
        message.asks,
    )


def encode_book_fields(
    venue: str,
    symbol: str,
    kind: Literal["snapshot", "delta"],
    sequence: int | None,
    prev: int | None,
    exchange_ts: float | None,
    received_at: float,
    bids: Sequence[Sequence[float]],
    asks: Sequence[Sequence[float]],
) -> bytes:
    """encode_book of the message with these fields, without building it (the collector's
    hot path); the levels may be lists or tuples."""
    data = {
        "v": venue,
        "s": symbol,
        "k": kind,
        "q": sequence,
        "p": prev,
        "e": exchange_ts,
        "r": received_at,
        "b": bids,
        "a": asks,
    }
    # orjson writes NaN and inf as null: it only gets numbers shown to be finite (a NaN or
    # inf anywhere makes the sum NaN or inf). Anything else takes the json module's path,
    # which refuses NaN/inf with a ValueError as this always did.
    try:
        total = received_at + sum(map(sum, bids)) + sum(map(sum, asks))
        if exchange_ts is not None:
            total += exchange_ts
        finite = -_INF < total < _INF
    except TypeError:
        finite = False
    if finite:
        return orjson.dumps(data)
    return _json_dumps(data)


def decode_book(raw: bytes) -> BookMessage:
    """The message in `raw`, or BadMessage naming the first thing wrong with it. Each field
    is checked inline for the common case; the helpers re-check a failing one for the reason
    (the checks run in the order the reasons have always been given)."""
    data = _object(raw)
    get = data.get
    kind = get("k")
    if kind != "delta" and kind != "snapshot":
        raise BadMessage(f"book message kind {kind!r} is neither snapshot nor delta")
    sequence, prev = get("q"), get("p")
    if sequence is not None and not (type(sequence) is int and sequence >= 0):
        sequence = _opt_int(data, "q")  # raises: the reason
    if prev is not None and not (type(prev) is int and prev >= 0):
        prev = _opt_int(data, "p")  # raises: the reason
    if kind == "delta" and sequence is not None and prev is not None and prev >= sequence:
        raise BadMessage(f"delta sequence {sequence} does not follow its prev {prev}")
    venue, symbol = get("v"), get("s")
    if type(venue) is not str or not venue:
        venue = _text(data, "v")
    if type(symbol) is not str or not symbol:
        symbol = _text(data, "s")
    exchange_ts, received_at = get("e"), get("r")
    if exchange_ts is not None and not (type(exchange_ts) is float and -_INF < exchange_ts < _INF):
        exchange_ts = _number(data, "e")
    if not (type(received_at) is float and -_INF < received_at < _INF):
        received_at = _number(data, "r")
    bids, asks = _levels(data, "b"), _levels(data, "a")
    return BookMessage(venue, symbol, kind, sequence, prev, exchange_ts, received_at, bids, asks)


def encode_heartbeat(beat: Heartbeat) -> bytes:
    data = {"c": beat.collector, "t": beat.at, "f": beat.feeds}
    if type(beat.at) is float and -_INF < beat.at < _INF:  # orjson would write NaN as null
        return orjson.dumps(data)
    return _json_dumps(data)


def decode_heartbeat(raw: bytes) -> Heartbeat:
    data = _object(raw)
    feeds = data.get("f")
    if not isinstance(feeds, list) or not all(
        isinstance(f, list) and len(f) == 3 and all(isinstance(x, str) for x in f) for f in feeds
    ):
        raise BadMessage("heartbeat feeds must be [venue, symbol, state] triples")
    return Heartbeat(_text(data, "c"), _number(data, "t"), tuple((a, b, c) for a, b, c in feeds))


def _json_dumps(data: dict[str, Any]) -> bytes:
    """The json module's encoding: refuses NaN and inf (ValueError)."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False).encode()


def _object(raw: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        # orjson is stricter than the json module (1e999, NaN, UTF-16, lone surrogates):
        # the json module reads what it can, so a bad message is refused for the same reason
        # as ever (1e999 and NaN as non-numbers) and anything json reads still reads.
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadMessage(f"not JSON: {exc}") from None
    if type(data) is not dict:
        raise BadMessage("not a JSON object")
    return data


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise BadMessage(f"field {key!r} must be a non-empty string, not {value!r}")
    return value


def _number(data: dict[str, Any], key: str) -> float:
    value = data.get(key)
    if not _finite(value):
        raise BadMessage(f"field {key!r} must be a finite number, not {value!r}")
    return float(value)


def _finite(value: object) -> TypeGuard[int | float]:
    """A JSON number (not a bool) that is finite as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float (the json module reads any size)
        return False


def _opt_int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadMessage(f"field {key!r} must be a non-negative integer, not {value!r}")
    return value


def _levels(data: dict[str, Any], key: str) -> tuple[Level, ...]:
    value = data.get(key)
    if type(value) is not list:
        raise BadMessage(f"field {key!r} must be a list of [price, size]")
    out: list[Level] = []
    append = out.append
    for level in value:
        # orjson reads every number with a fraction or exponent as a finite float: the common
        # level passes this one test (chained comparisons are False for NaN too).
        if type(level) is list and len(level) == 2:
            price, size = level
            if (
                type(price) is float
                and type(size) is float
                and 0.0 < price < _INF
                and 0.0 <= size < _INF
            ):
                append((price, size))
                continue
        append(_level(key, level))
    return tuple(out)


def _level(key: str, level: object) -> Level:
    """One level the fast test did not pass: converted (an int), or refused with the reason."""
    if not (isinstance(level, list) and len(level) == 2):
        raise BadMessage(f"{key!r}: level {level!r} is not [price, size]")
    price, size = level
    if not (_finite(price) and _finite(size)):
        raise BadMessage(f"{key!r}: level {level!r} holds a non-number")
    if price <= 0 or size < 0:
        raise BadMessage(f"{key!r}: level {level!r} has a price <= 0 or a negative size")
    return float(price), float(size)
