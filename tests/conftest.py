"""Shared fixtures. Keep this small: fixtures for one area live next to it and are listed here."""

pytest_plugins = ["tests.fakes.fixtures"]
