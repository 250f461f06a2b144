"""The attach protocol: versioned JSON frames between `arbdesk serve` and `arbdesk attach`.

Every frame is one websocket text message, a JSON object with `v` (the protocol version) and
`kind`. The engine sends:

- `hello`    on connect: the protocol version, the engine's pid, the settings the console
             edits and a first snapshot;
- `frame`    at the engine's refresh rate: a snapshot of the books the client asked for and
             the door events since the last frame (`core.door_events`);
- `settings` after any console changed a setting or the theme, to every client;
- `result`   the answer to one command, by the client's id;
- `error`    a frame the engine could not take (bad JSON, unknown version or kind, too large,
             an unknown command), by id when it had one. The connection stays open.

A client sends `view` (the symbols whose books it draws, and the depth) and `command` (an id
and one `core.door.Command`). The values inside are `core.door.to_wire` forms, so Decimals
keep every digit. Decoding never trusts the peer: anything that does not fit is a
`WireError`, answered with an `error` frame, never an exception in the engine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.door import (
    COMMANDS,
    Command,
    CommandResult,
    SettingField,
    Snapshot,
    decode_as,
    to_wire,
)
from core.door_events import DOOR_EVENTS
from core.events import Event

VERSION = 1
MAX_CLIENT_FRAME = 64 * 1024  # a command or a view is a few hundred bytes
MAX_SOCKET_MESSAGE = 1024 * 1024  # aiohttp drops the connection past this (guards memory)
MAX_VIEW_SYMBOLS = 64
MAX_DEPTH = 50

_EVENT_TYPES: dict[str, type[Event]] = {cls.__name__: cls for cls in DOOR_EVENTS}
_COMMAND_TYPES: dict[str, type] = {cls.__name__: cls for cls in COMMANDS}


class WireError(ValueError):
    """A frame that does not fit the protocol; `frame_id` is the client's id when it sent one."""

    def __init__(self, message: str, frame_id: int | None = None) -> None:
        super().__init__(message)
        self.frame_id = frame_id


# -- what the engine sends -------------------------------------------------------------------


def encode(kind: str, **body: Any) -> str:
    return json.dumps({"v": VERSION, "kind": kind, **body}, separators=(",", ":"))


def hello_frame(pid: int, fields: tuple[SettingField, ...], snapshot: Snapshot) -> str:
    return encode("hello", pid=pid, fields=[to_wire(f) for f in fields], snapshot=to_wire(snapshot))


def snapshot_frame(snapshot: Snapshot, events: list[Event]) -> str:
    return encode("frame", snapshot=to_wire(snapshot), events=[to_wire(e) for e in events])


def settings_frame(fields: tuple[SettingField, ...]) -> str:
    return encode("settings", fields=[to_wire(f) for f in fields])


def result_frame(frame_id: int, result: CommandResult) -> str:
    return encode("result", id=frame_id, result=to_wire(result))


def error_frame(message: str, frame_id: int | None = None) -> str:
    return encode("error", id=frame_id, error=message)


# -- what the engine receives ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ViewRequest:
    symbols: tuple[str, ...]
    depth: int


@dataclass(frozen=True, slots=True)
class CommandRequest:
    id: int
    command: Command


def parse_client_frame(text: str | bytes) -> ViewRequest | CommandRequest:
    """One frame from a console, checked field by field."""
    if len(text) > MAX_CLIENT_FRAME:
        raise WireError(f"frame of {len(text)} bytes is over the {MAX_CLIENT_FRAME}-byte limit")
    data = _object(text)
    frame_id = data.get("id")
    if not isinstance(frame_id, int) or isinstance(frame_id, bool):
        frame_id = None
    version = data.get("v")
    if version != VERSION:
        raise WireError(
            f"protocol version {version!r} is not supported (this engine speaks {VERSION})",
            frame_id,
        )
    kind = data.get("kind")
    if kind == "view":
        return _view(data)
    if kind == "command":
        if frame_id is None:
            raise WireError("a command needs an integer id")
        return CommandRequest(frame_id, _command(data.get("command"), frame_id))
    raise WireError(f"unknown frame kind {kind!r}", frame_id)


def _view(data: dict[str, Any]) -> ViewRequest:
    symbols, depth = data.get("symbols"), data.get("depth", 10)
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        raise WireError("view: symbols must be a list of strings")
    if len(symbols) > MAX_VIEW_SYMBOLS:
        raise WireError(f"view: at most {MAX_VIEW_SYMBOLS} symbols")
    if not isinstance(depth, int) or isinstance(depth, bool) or not 1 <= depth <= MAX_DEPTH:
        raise WireError(f"view: depth must be an integer from 1 to {MAX_DEPTH}")
    return ViewRequest(tuple(symbols), depth)


def _command(body: Any, frame_id: int) -> Command:
    if not isinstance(body, dict) or body.get("type") not in _COMMAND_TYPES:
        name = body.get("type") if isinstance(body, dict) else body
        raise WireError(f"unknown command {str(name)[:60]!r}", frame_id)
    try:
        command: Command = decode_as(_COMMAND_TYPES[body["type"]], body)
    except ValueError as exc:
        raise WireError(f"bad command: {exc}", frame_id) from exc
    return command


# -- what the console receives ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    pid: int
    fields: tuple[SettingField, ...]
    snapshot: Snapshot


@dataclass(frozen=True, slots=True)
class Frame:
    snapshot: Snapshot
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class SettingsUpdate:
    fields: tuple[SettingField, ...]


@dataclass(frozen=True, slots=True)
class Result:
    id: int
    result: CommandResult


@dataclass(frozen=True, slots=True)
class ErrorReply:
    id: int | None
    error: str


ServerFrame = Hello | Frame | SettingsUpdate | Result | ErrorReply


def parse_server_frame(text: str | bytes) -> ServerFrame:
    data = _object(text)
    if data.get("v") != VERSION:
        raise WireError(f"the engine speaks protocol {data.get('v')!r}; this console {VERSION}")
    try:
        match data.get("kind"):
            case "hello":
                return Hello(
                    int(data["pid"]), _fields(data["fields"]), decode_as(Snapshot, data["snapshot"])
                )
            case "frame":
                return Frame(
                    decode_as(Snapshot, data["snapshot"]),
                    tuple(_event(e) for e in data["events"]),
                )
            case "settings":
                return SettingsUpdate(_fields(data["fields"]))
            case "result":
                return Result(int(data["id"]), decode_as(CommandResult, data["result"]))
            case "error":
                frame_id = data.get("id")
                return ErrorReply(
                    frame_id if isinstance(frame_id, int) else None, str(data["error"])
                )
    except (KeyError, TypeError, ValueError) as exc:
        raise WireError(f"bad {data.get('kind')} frame from the engine: {exc}") from exc
    raise WireError(f"unknown frame kind {data.get('kind')!r} from the engine")


def _fields(items: Any) -> tuple[SettingField, ...]:
    return tuple(decode_as(SettingField, f) for f in items)


def _event(data: Any) -> Event:
    if not isinstance(data, dict) or data.get("type") not in _EVENT_TYPES:
        raise ValueError(f"unknown event {str(data)[:60]}")
    event: Event = decode_as(_EVENT_TYPES[data["type"]], data)
    return event


def _object(text: str | bytes) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise WireError("a frame must be a JSON object")
    return data
