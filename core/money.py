"""Exact Decimal from whatever a venue returns."""

from __future__ import annotations

from decimal import Decimal


def D(value: object) -> Decimal:
    """Exact Decimal of a venue number: floats go through ``repr`` so 0.1 stays 0.1."""
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def opt_dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def opt_str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
