"""Opportunity detectors: CEX-CEX spreads (spread.py), with quote -> USD conversion (usd.py)."""
