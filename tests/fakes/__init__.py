"""Fake venues for integration tests: loopback servers that real ccxt code talks to."""
