"""Devnet fixtures for every test that needs a chain (a pytest plugin, listed in
tests/conftest.py): one anvil devnet per session (127.0.0.1, free port), snapshots
so each test that sends transactions leaves the chain as it found it."""

from __future__ import annotations

import warnings
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
    rpc = devnet.w3.provider.make_request
    snapshot = rpc("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    try:
        yield devnet
    finally:
        # A transaction left in the pool (a nonce gap, mining left off) would be mined into a
        # later test's block and move its pools: drop it, and say so.
        pool = rpc("txpool_status", [])["result"]  # type: ignore[arg-type]
        automine = rpc("anvil_getAutomine", [])["result"]  # type: ignore[arg-type]
        if int(pool["pending"], 16) or int(pool["queued"], 16) or not automine:
            warnings.warn(
                f"test left the devnet with pool {pool}, automine {automine}", stacklevel=1
            )
            rpc("anvil_dropAllTransactions", [])  # type: ignore[arg-type]
            rpc("evm_setAutomine", [True])  # type: ignore[arg-type]
        rpc("evm_revert", [snapshot])  # type: ignore[arg-type]
