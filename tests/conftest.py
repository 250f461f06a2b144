"""Shared fixtures. Keep this small: fixtures for one area live next to it and are listed here."""

# tests.fakes.fixtures: the fake Binance server on loopback; tests.support.devnet: the session
# devnet (`devnet`) and its per-test snapshot (`clean_chain`).
pytest_plugins = ["tests.fakes.fixtures", "tests.support.devnet"]
