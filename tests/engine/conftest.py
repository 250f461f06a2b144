"""The on-chain engine rig (tests/engine/test_onchain_engine.py) for the other on-chain tests."""

from tests.engine.test_onchain_engine import rig  # noqa: F401 - a fixture
