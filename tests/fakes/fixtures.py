"""Pytest fixtures for the fake venues (loaded from tests/conftest.py)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest

from tests.fakes.binance import FakeBinance


@pytest.fixture
async def fake_binance() -> AsyncIterator[FakeBinance]:
    """A fake Binance spot venue on 127.0.0.1 (BTC/USDT, ETH/USDT), stopped after the test."""
    async with FakeBinance() as fake:
        yield fake


@pytest.fixture
def dead_port() -> int:
    """A loopback port with nothing listening on it (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
