"""Devnet fixtures for every test that needs a chain (a pytest plugin, listed in
tests/conftest.py): one anvil devnet per session (127.0.0.1, free port), snapshots
so each test that sends transactions leaves the chain as it found it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.chain.artifacts import ArtifactError, anvil_binary, load
from core.deploy.devnet import Devnet


def missing_node_modules() -> str | None:
    try:
        anvil_binary()
        load("UniswapV3Pool")
    except ArtifactError as exc:
        return str(exc)
    return None


@pytest.fixture(scope="session")
def devnet() -> Iterator[Devnet]:
    missing = missing_node_modules()
    if missing:
        pytest.skip(f"devnet needs node_modules (run `make setup`): {missing}")
    net = Devnet.start()
    try:
        yield net
    finally:
        net.stop()


@pytest.fixture
def clean_chain(devnet: Devnet) -> Iterator[Devnet]:
    """The devnet, reverted to its state before the test when the test ends."""
    snapshot = devnet.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    try:
        yield devnet
    finally:
        devnet.w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
