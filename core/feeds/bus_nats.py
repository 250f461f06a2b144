"""The NATS side of the book bus: connecting, the JetStream stream (the recording), a live
subscription and reading a recorded window back.

One stream holds every book and heartbeat subject, so one consumer sees all of them in the
order the server stored them: that order is what the engine applies, live or in a replay.
Snapshot requests are plain NATS messages (core.feeds.bus.SNAPSHOT_SUBJECT_PREFIX), never
stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from loguru import logger

from core.feeds.book_wire import BOOK_SUBJECT_PREFIX, HEARTBEAT_SUBJECT_PREFIX
from core.settings import BusSettings

STREAM_SUBJECTS = [BOOK_SUBJECT_PREFIX + ".>", HEARTBEAT_SUBJECT_PREFIX + ".>"]
OnMessage = Callable[[int, str, bytes], None]
"""(stream sequence, subject, data) of one stored message."""


class BusUnavailable(Exception):
    """The NATS server cannot be reached, or has no JetStream."""


async def connect(url: str, name: str, *, connect_timeout_s: float = 5.0) -> Any:
    """A client that reconnects forever once connected; a first connection that fails is a
    clear BusUnavailable (the command then says so and exits)."""
    import nats

    async def disconnected() -> None:
        logger.warning("NATS {}: disconnected; reconnecting", url)

    async def reconnected() -> None:
        logger.info("NATS {}: reconnected", url)

    async def error(exc: Exception) -> None:
        logger.debug("NATS {}: {}", url, exc)

    try:
        # The client retries a first connection as it would a lost one: bound it.
        return await asyncio.wait_for(
            _connect(nats, url, name, connect_timeout_s, disconnected, reconnected, error),
            connect_timeout_s * 2,
        )
    except Exception as exc:  # noqa: BLE001 - every failure to connect reads the same
        raise BusUnavailable(f"cannot reach NATS at {url}: {type(exc).__name__}: {exc}") from exc


async def _connect(
    nats: Any,
    url: str,
    name: str,
    connect_timeout_s: float,
    disconnected: Any,
    reconnected: Any,
    error: Any,
) -> Any:
    return await nats.connect(
        url,
        name=name,
        connect_timeout=connect_timeout_s,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.25,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
        error_cb=error,
    )


@dataclass(frozen=True, slots=True)
class StreamWindow:
    """What a stream holds: its first and last sequence and their times (epoch seconds)."""

    name: str
    tag: str
    first_seq: int
    last_seq: int
    messages: int
    bytes: int


async def ensure_stream(js: Any, bus: BusSettings) -> StreamWindow:
    """Create the stream, or bring an existing one's retention to the settings'."""
    from nats.js.api import DiscardPolicy, StorageType, StreamConfig
    from nats.js.errors import NotFoundError

    config = StreamConfig(
        name=bus.stream,
        subjects=STREAM_SUBJECTS,
        max_age=bus.max_age_h * 3600.0,
        max_bytes=bus.max_mb * 1024 * 1024,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
    )
    try:
        try:
            info = await js.stream_info(bus.stream)
        except NotFoundError:
            info = await js.add_stream(config)
        else:
            current = info.config
            if current.max_age != config.max_age or current.max_bytes != config.max_bytes:
                info = await js.update_stream(config)
    except Exception as exc:  # noqa: BLE001 - no JetStream, no permission, a timeout
        raise BusUnavailable(f"JetStream stream {bus.stream}: {type(exc).__name__}: {exc}") from exc
    return _window(info)


async def stream_window(js: Any, stream: str) -> StreamWindow:
    try:
        return _window(await js.stream_info(stream))
    except Exception as exc:  # noqa: BLE001
        raise BusUnavailable(f"JetStream stream {stream}: {type(exc).__name__}: {exc}") from exc


def _window(info: Any) -> StreamWindow:
    state = info.state
    return StreamWindow(
        name=info.config.name,
        tag=stream_tag(info.config.name, info.created),
        first_seq=state.first_seq,
        last_seq=state.last_seq,
        messages=state.messages,
        bytes=state.bytes,
    )


def stream_tag(name: str, created: datetime | None) -> str:
    """Six hex digits naming one stream (its name and creation time): the prefix of the
    opportunity ids found on it, so a recreated stream's ids are new ones."""
    stamp = created.isoformat() if created is not None else ""
    return hashlib.sha256(f"{name}@{stamp}".encode()).hexdigest()[:6]


async def follow(
    js: Any, stream: str, on_message: OnMessage, *, start_seq: int | None = None
) -> Any:
    """An ordered push consumer on the whole stream, from `start_seq` (None: new messages
    only). nats-py re-creates it past the last sequence it saw after a reconnect, so a
    server restart costs no message the server kept. Returns the subscription."""
    from nats.js.api import ConsumerConfig, DeliverPolicy

    config = ConsumerConfig(filter_subjects=STREAM_SUBJECTS)
    if start_seq is None:
        config.deliver_policy = DeliverPolicy.NEW
    else:
        config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
        config.opt_start_seq = start_seq

    async def on_msg(msg: Any) -> None:
        on_message(msg.metadata.sequence.stream, msg.subject, msg.data)

    return await js.subscribe(
        STREAM_SUBJECTS[0],
        stream=stream,
        cb=on_msg,
        config=config,
        ordered_consumer=True,
        idle_heartbeat=1.0,
        pending_msgs_limit=1_000_000,
        pending_bytes_limit=1024 * 1024 * 1024,
    )


@dataclass(frozen=True, slots=True)
class StoredMessage:
    seq: int
    subject: str
    data: bytes
    stored_at: float


async def read_window(
    js: Any,
    stream: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    batch: int = 2000,
) -> AsyncIterator[StoredMessage]:
    """The messages stored between `start` and `end` (server store times), in stream order,
    up to the last one stored when the read began."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
    from nats.js.errors import FetchTimeoutError

    window = await stream_window(js, stream)
    if window.messages == 0:
        return
    config = ConsumerConfig(
        filter_subjects=STREAM_SUBJECTS, ack_policy=AckPolicy.NONE, inactive_threshold=60.0
    )
    if start is None:
        config.deliver_policy = DeliverPolicy.ALL
    else:
        config.deliver_policy = DeliverPolicy.BY_START_TIME
        config.opt_start_time = start.astimezone(UTC)
    end_ts = end.timestamp() if end is not None else None
    sub = await js.pull_subscribe_bind(
        consumer=(await js.add_consumer(stream, config)).name, stream=stream
    )
    try:
        while True:
            try:
                msgs = await sub.fetch(batch, timeout=1.0)
            except FetchTimeoutError:
                return
            for msg in msgs:
                meta = msg.metadata
                stored_at = meta.timestamp.timestamp()
                if end_ts is not None and stored_at > end_ts:
                    return
                yield StoredMessage(meta.sequence.stream, msg.subject, msg.data, stored_at)
                if meta.sequence.stream >= window.last_seq:
                    return
    finally:
        await sub.unsubscribe()


def publisher(nc: Any) -> Callable[[str, bytes], Awaitable[None]]:
    """The collector's send: a plain publish to the stream's subjects (JetStream stores it;
    no per-message acknowledgement to wait for, which caps a publisher near 10k/s). Losses
    still show: each book stream carries its own sequence, and a gap asks for a snapshot."""

    async def send(subject: str, data: bytes) -> None:
        await nc.publish(subject, data)

    return send


async def wait_flushed(nc: Any, timeout_s: float = 5.0) -> None:
    """Everything published so far has reached the server."""
    await asyncio.wait_for(nc.flush(), timeout_s)


async def probe(url: str, stream: str | None = None) -> str:
    """Connect once (and look the stream up): '' when usable, else why not. Commands call
    this first, so a wrong URL is one clear line instead of a console that shows no books."""
    try:
        nc = await connect(url, "arbdesk-probe", connect_timeout_s=2.0)
    except BusUnavailable as exc:
        return str(exc)
    try:
        js = nc.jetstream()
        await js.account_info()
        if stream is not None:
            await stream_window(js, stream)
        return ""
    except BusUnavailable as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - no JetStream on that server
        return f"NATS at {url} has no JetStream: {type(exc).__name__}: {exc}"
    finally:
        with contextlib.suppress(Exception):
            await nc.close()
