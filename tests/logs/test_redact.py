"""The redactor: registered secrets and key-shaped hex never reach logs, journal text or screen."""

from __future__ import annotations

import io
import logging
import secrets
import sqlite3
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from loguru import logger

from core.logsetup import setup_logging, shutdown_logging
from core.redact import (
    MASK,
    Redactor,
    format_exception,
    install_excepthook,
    redact,
    register_secret,
)
from core.settings import LoggingSettings, Settings


def _secret() -> str:
    return "S3cr" + secrets.token_urlsafe(24)


def test_registered_secret_is_masked_everywhere_in_text() -> None:
    secret = _secret()
    register_secret(secret)
    text = f"apiKey={secret}; again {secret}"
    assert redact(text) == f"apiKey={MASK}; again {MASK}"


def test_encoded_forms_are_masked_too() -> None:
    r = Redactor()
    secret = 'ab+/=c"d\\e'
    r.register(secret)
    assert secret not in r.redact(f"x {secret} y")
    assert "ab%2B%2F%3Dc" not in r.redact("q=ab%2B%2F%3Dc%22d%5Ce")  # URL-encoded
    assert 'ab+/=c\\"d\\\\e' not in r.redact('{"k": "ab+/=c\\"d\\\\e"}')  # JSON-escaped


def test_longer_secret_masked_whole_when_it_contains_a_shorter_one() -> None:
    r = Redactor()
    r.register("abcd")
    r.register("abcdefgh")
    assert r.redact("<abcdefgh>") == f"<{MASK}>"


def test_values_shorter_than_four_chars_are_not_registered() -> None:
    r = Redactor()
    r.register("abc")
    assert len(r) == 0
    assert r.redact("abc") == "abc"


def test_anything_shaped_like_a_private_key_is_masked_even_unregistered() -> None:
    key = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
    r = Redactor()
    for text in (key, "0x" + key, key.upper(), f"key:{key}."):
        assert key.lower() not in r.redact(text).lower()
    assert r.redact("ab" * 31) == "ab" * 31  # 62 hex digits: not a key
    assert r.redact("a" * 66) == "a" * 66  # longer hex (calldata): left alone
    tx_hash = "0x" + key
    assert r.redact(f"tx {tx_hash}", hex64=False) == f"tx {tx_hash}"


def test_registered_hex_key_is_masked_in_any_spelling_even_when_hex64_is_off() -> None:
    key = "4C0883A69102937D6231471B5DBB6204FE5129617082792AE468D01A3F362318"
    r = Redactor()
    r.register("0x" + key)
    for spelling in (key, key.lower(), "0x" + key.lower()):
        assert r.redact(spelling, hex64=False) == MASK


@given(
    secret=st.text(alphabet=st.sampled_from("abcXYZ0189+/=_-"), min_size=4, max_size=40),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
)
def test_property_a_registered_secret_never_survives(secret: str, before: str, after: str) -> None:
    r = Redactor()
    r.register(secret)
    # The alphabet shares no character with "[]", so no occurrence can straddle a mask.
    assert secret not in r.redact(before + secret + after)


def test_format_exception_masks_the_message_and_the_chained_cause() -> None:
    secret = _secret()
    register_secret(secret)
    try:
        try:
            raise KeyError(f"inner {secret}")
        except KeyError as inner:
            raise RuntimeError(f"outer {secret}") from inner
    except RuntimeError as exc:
        text = format_exception(exc)
    assert secret not in text
    assert "RuntimeError: outer [redacted]" in text
    assert "inner [redacted]" in text


def test_excepthook_prints_a_redacted_traceback() -> None:
    secret = _secret()
    register_secret(secret)
    stream = io.StringIO()
    previous = install_excepthook(stream)
    try:
        try:
            raise ValueError(f"bad {secret}")
        except ValueError as exc:
            sys.excepthook(type(exc), exc, exc.__traceback__)
    finally:
        sys.excepthook = previous
    assert "ValueError: bad [redacted]" in stream.getvalue()
    assert secret not in stream.getvalue()


@pytest.fixture
def log_path(tmp_path: Path) -> Iterator[Path]:
    settings = Settings(logging=LoggingSettings(path=tmp_path / "logs" / "arbdesk.log"))
    path = setup_logging(settings)
    yield path
    shutdown_logging()
    logger.configure(patcher=lambda record: None)
    logger.add(sys.stderr)  # loguru's default sink back, for whoever runs next


def test_secrets_never_reach_the_log_file_nor_the_terminal(
    log_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    secret = _secret()
    key = secrets.token_hex(32)
    register_secret(secret)
    logger.info("placing order with apiKey={} and wallet {}", secret, key)
    try:
        raise ConnectionError(f"venue rejected key {secret}")
    except ConnectionError:
        logger.exception("order failed")
    logging.getLogger("ccxt.base.exchange").warning("request headers X-MBX-APIKEY: %s", secret)
    shutdown_logging()

    text = log_path.read_text()
    assert secret not in text
    assert key not in text
    assert "placing order with apiKey=[redacted] and wallet [redacted]" in text
    assert "ConnectionError: venue rejected key [redacted]" in text  # traceback kept, masked
    assert "X-MBX-APIKEY: [redacted]" in text  # stdlib logging routed through the filter
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # never the terminal the TUI draws on
    assert stat.S_IMODE(log_path.stat().st_mode) == 0o600


def test_journal_text_through_the_redactor_keeps_no_secret(tmp_path: Path) -> None:
    # Integration point: core.journal must pass every free-text column (order messages,
    # refusal reasons, error text) through core.redact.redact before INSERT.
    secret = _secret()
    register_secret(secret)
    db_path = tmp_path / "journal.sqlite3"
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE orders (client_id TEXT, venue TEXT, message TEXT)")
    venue_error = f'binance {{"code":-2015,"msg":"Invalid API-key {secret}"}}'
    db.execute("INSERT INTO orders VALUES (?, ?, ?)", ("c1", "binance", redact(venue_error)))
    db.commit()
    (message,) = db.execute("SELECT message FROM orders").fetchone()
    db.close()
    assert message == 'binance {"code":-2015,"msg":"Invalid API-key [redacted]"}'
    for file in tmp_path.iterdir():  # the database and any WAL/SHM left behind
        assert secret.encode() not in file.read_bytes()
