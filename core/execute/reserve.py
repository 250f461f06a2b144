"""Funds promised to trades in flight, per (venue, currency), in this process.

A venue's `free` balance only drops once an order is placed, so two trades checked in the same
moment both see the whole balance and both pass. Each trade holds what it needs from the check
until it closes; the next check counts `free` less what is held. Holding is synchronous, so a
check and its hold cannot interleave with another trade's.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

Key = tuple[str, str]  # (venue, currency)
Hold = tuple[tuple[Key, Decimal], ...]


class Reservations:
    def __init__(self) -> None:
        self._held: dict[Key, Decimal] = {}

    def held(self, venue: str, currency: str) -> Decimal:
        return self._held.get((venue, currency), Decimal(0))

    def available(self, venue: str, currency: str, free: Decimal) -> Decimal:
        """`free` (as the venue says) less what trades in flight here hold."""
        return free - self.held(venue, currency)

    def hold(self, amounts: Iterable[tuple[str, str, Decimal]]) -> Hold:
        """Hold each (venue, currency, amount); give it back with `release`."""
        hold = tuple(((venue, ccy), amount) for venue, ccy, amount in amounts if amount > 0)
        for key, amount in hold:
            self._held[key] = self._held.get(key, Decimal(0)) + amount
        return hold

    def release(self, hold: Hold) -> None:
        for key, amount in hold:
            left = self._held.get(key, Decimal(0)) - amount
            if left > 0:
                self._held[key] = left
            else:
                self._held.pop(key, None)
