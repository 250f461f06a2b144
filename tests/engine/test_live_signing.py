"""Live mode signs with the keyring's wallet, asked for once per run; the devnet never does."""

from __future__ import annotations

import asyncio

from core.engine.engine import Engine
from core.engine.onchain import OnChain
from core.redact import redact
from core.settings import Settings

WALLET = "0x" + "4c" * 32


def _onchain(signer_key=None) -> OnChain:  # type: ignore[no-untyped-def]
    return OnChain(Settings(), lambda event: None, {}, {}, signer_key=signer_key)


def test_live_signer_comes_from_the_keyring_and_is_redacted() -> None:
    onchain = _onchain(signer_key=lambda: WALLET)
    key = asyncio.run(onchain._trading_key())
    assert key == WALLET
    assert WALLET not in redact(f"signing with {WALLET}")


def test_devnet_signer_without_a_manifest_is_a_clear_error() -> None:
    onchain = _onchain()

    class NoAccounts:
        accounts: list[object] = []

    onchain.manifest = NoAccounts()  # type: ignore[assignment]
    try:
        asyncio.run(onchain._trading_key())
    except RuntimeError as exc:
        assert "no signer" in str(exc)
    else:
        raise AssertionError("a manifest without accounts must not yield a signer")


def test_engine_opens_the_keyring_once_per_run() -> None:
    engine = Engine(Settings())
    first = engine._key_store()
    assert engine._key_store() is first
