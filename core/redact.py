"""Secret redaction: the one filter every text that may hold a secret passes through.

Whoever loads a secret registers it (`register_secret`); logs (through `redact_record`, the
loguru patcher/filter installed by core.logsetup), journal writers (`redact` on free-text
columns) and the console's error display (`format_exception`) then mask it. Anything shaped
like an EVM private key (64 hex digits, with or without 0x) is masked even if never registered.

Note: a transaction hash is also 64 hex digits. Free text is masked regardless; a writer that
stores a tx hash in its own column may call `redact(text, hex64=False)` on that column only.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from loguru import Record

MASK = "[redacted]"
MIN_SECRET_LEN = 4
"""Shorter values are not registered: masking every 'ab' in a log would ruin it and hide nothing."""

_HEX64 = re.compile(r"(?<![0-9a-fA-F])(?:0[xX])?[0-9a-fA-F]{64}(?![0-9a-fA-F])")
_EXC_TEXT = "redacted_exc"


class Redactor:
    """A thread-safe set of secrets and the compiled pattern that masks them."""

    def __init__(self, mask: str = MASK) -> None:
        self.mask = mask
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def register(self, value: str) -> None:
        """Mask `value` (and its URL-encoded and JSON-escaped forms) from now on."""
        if len(value) < MIN_SECRET_LEN:
            return
        forms = {value, quote(value, safe=""), json.dumps(value)[1:-1]}
        if _HEX64.fullmatch(value):  # a private key: both spellings, any case
            bare = value[2:] if value[:2].lower() == "0x" else value
            forms |= {bare, bare.lower(), bare.upper(), "0x" + bare.lower()}
        with self._lock:
            if forms <= self._secrets:
                return
            self._secrets |= forms
            # Longest first, so a secret that contains another is masked whole.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def redact(self, text: str, *, hex64: bool = True) -> str:
        """`text` with every registered secret (and, if `hex64`, every 64-hex key) masked."""
        pattern = self._pattern  # read once: register() swaps it atomically
        if pattern is not None:
            text = pattern.sub(self.mask, text)
        if hex64:
            text = _HEX64.sub(self.mask, text)
        return text

    def __len__(self) -> int:
        return len(self._secrets)


_default = Redactor()


def register_secret(value: str) -> None:
    """Mask `value` everywhere from now on (logs, journal text, console error display)."""
    _default.register(value)


def redact(text: str, *, hex64: bool = True) -> str:
    """Mask every registered secret and anything shaped like a private key in `text`."""
    return _default.redact(text, hex64=hex64)


def format_exception(exc: BaseException) -> str:
    """The full traceback of `exc` (with its chain), redacted: what the console may show."""
    return redact("".join(traceback.format_exception(exc)))


def redact_record(record: Record) -> None:
    """Loguru patcher: masks the message and moves a redacted traceback into
    `extra[redacted_exc]`, dropping the raw exception so no sink can format it unmasked.
    Idempotent.
    """
    extra = record["extra"]
    if extra.get("_redacted"):
        return
    record["message"] = redact(record["message"])
    exc = record["exception"]
    if exc is not None:
        lines = traceback.format_exception(exc.type, exc.value, exc.traceback)
        extra[_EXC_TEXT] = redact("".join(lines))
        record["exception"] = None
    extra["_redacted"] = True


def redact_filter(record: Record) -> bool:
    """The same as a loguru sink `filter`, for sinks that must stay safe on their own."""
    redact_record(record)
    return True


ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], Any]


def install_excepthook(stream: Any = None) -> ExceptHook:
    """Make uncaught exceptions print a redacted traceback; returns the previous hook."""
    previous = sys.excepthook

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        print(redact(text), end="", file=stream or sys.stderr)

    sys.excepthook = hook
    return previous
