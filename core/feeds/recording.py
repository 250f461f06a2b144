"""Recordings in a local file, for users without NATS: gzip-compressed JSON lines.

The first line is a header (`{"arbdesk_recording": 1, "tag": ..., "created": ...}`); each
other line is one bus message exactly as a stream would hold it:
`{"seq": 17, "t": 1765112345.123, "subject": "arbdesk.book.simex.BTC_USDT", "data": "..."}`,
`data` being the message's own JSON text (core.feeds.book_wire), `t` when it was stored. A
replay of the file applies the same messages in the same order as a replay of the stream.

A file cut short (a recorder killed mid-line) loses only its last line: reading stops there
with a warning, never with a traceback.
"""

from __future__ import annotations

import gzip
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from loguru import logger

from core.feeds.bus_nats import StoredMessage
from core.serialize import iso_utc

FORMAT_VERSION = 1


class RecordingError(ValueError):
    """Not a recording, or one this version cannot read."""


@dataclass(frozen=True, slots=True)
class RecordingHeader:
    tag: str
    """Names the recording: the prefix of the opportunity ids a replay finds (a recording
    copied from a stream keeps the stream's tag, so a replay of either gives the same ids)."""
    created: float
    source: str


class RecordingWriter:
    """Append messages to a new file; `close()` (or the with-block) finishes the gzip."""

    def __init__(self, path: Path, *, tag: str | None = None, source: str = "") -> None:
        self.path = path
        self.header = RecordingHeader(tag or secrets.token_hex(3), time.time(), source)
        self.count = 0
        self._file: IO[str] = gzip.open(path, "wt", encoding="utf-8", compresslevel=6)
        self._file.write(
            json.dumps(
                {
                    "arbdesk_recording": FORMAT_VERSION,
                    "tag": self.header.tag,
                    "created": iso_utc(self.header.created),
                    "created_ts": self.header.created,
                    "source": source,
                }
            )
            + "\n"
        )

    def write(self, message: StoredMessage) -> None:
        line = {
            "seq": message.seq,
            "t": message.stored_at,
            "subject": message.subject,
            "data": message.data.decode("utf-8"),
        }
        self._file.write(json.dumps(line, separators=(",", ":")) + "\n")
        self.count += 1

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_header(path: Path) -> RecordingHeader:
    with _open(path) as file:
        return _header(path, _first_line(path, file))


def read_recording(
    path: Path, *, start: float | None = None, end: float | None = None
) -> Iterator[StoredMessage]:
    """The messages stored in [start, end] (epoch seconds; None: open), in file order."""
    with _open(path) as file:
        _header(path, _first_line(path, file))
        number = 1
        try:
            for number, line in enumerate(file, start=2):  # noqa: B007 - reported below
                if not line.endswith("\n"):  # the recorder stopped mid-line
                    logger.warning("{}: line {} cut short; the rest is lost", path, number)
                    return
                message = _message(path, number, line)
                if start is not None and message.stored_at < start:
                    continue
                if end is not None and message.stored_at > end:
                    return
                yield message
        except EOFError:
            logger.warning("{}: cut short after line {}; the rest is lost", path, number)


def _open(path: Path) -> IO[str]:
    try:
        return gzip.open(path, "rt", encoding="utf-8")
    except OSError as exc:
        raise RecordingError(f"{path}: cannot open: {exc}") from exc


def _first_line(path: Path, file: IO[str]) -> str:
    try:
        return file.readline()
    except (OSError, EOFError, UnicodeDecodeError) as exc:  # not gzip, or not text
        raise RecordingError(f"{path}: not an arbdesk recording (gzip JSON lines)") from exc


def _header(path: Path, line: str) -> RecordingHeader:
    try:
        head: Any = json.loads(line)
    except (json.JSONDecodeError, OSError, EOFError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{path}: not an arbdesk recording (gzip JSON lines)") from exc
    if not isinstance(head, dict) or "arbdesk_recording" not in head:
        raise RecordingError(f"{path}: not an arbdesk recording (no header line)")
    if head["arbdesk_recording"] != FORMAT_VERSION:
        raise RecordingError(
            f"{path}: recording format {head['arbdesk_recording']}, this arbdesk reads "
            f"{FORMAT_VERSION}"
        )
    return RecordingHeader(
        str(head.get("tag", "")), float(head.get("created_ts", 0.0)), str(head.get("source", ""))
    )


def _message(path: Path, number: int, line: str) -> StoredMessage:
    try:
        raw = json.loads(line)
        return StoredMessage(
            int(raw["seq"]), str(raw["subject"]), str(raw["data"]).encode(), float(raw["t"])
        )
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise RecordingError(f"{path}: line {number} is not a recorded message: {exc}") from exc
