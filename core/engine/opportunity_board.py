"""The pending-opportunity board: one live opportunity per (symbol, buy venue, sell venue).

A re-detection of the same route while it is pending refreshes it in place (same id, new
size/prices, a new expiry), so the trader sees one row whose TTL restarts while the spread
persists, instead of a new row every book update. A route not re-detected before its expiry
leaves the board.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from core.detect.opportunity import Opportunity

Key = tuple[str, str, str]


class OpportunityBoard:
    def __init__(self) -> None:
        self._by_id: dict[str, Opportunity] = {}
        self._id_by_key: dict[Key, str] = {}

    def offer(self, opportunity: Opportunity) -> tuple[Opportunity, bool]:
        """Add or refresh. Returns the stored opportunity and whether it refreshed one."""
        existing_id = self._id_by_key.get(opportunity.key)
        if existing_id is not None and existing_id in self._by_id:
            refreshed = dataclasses.replace(opportunity, id=existing_id)
            self._by_id[existing_id] = refreshed
            return refreshed, True
        self._by_id[opportunity.id] = opportunity
        self._id_by_key[opportunity.key] = opportunity.id
        return opportunity, False

    def take(self, opportunity_id: str) -> Opportunity | None:
        """Remove and return it (approved, rejected)."""
        opportunity = self._by_id.pop(opportunity_id, None)
        if opportunity is not None:
            self._id_by_key.pop(opportunity.key, None)
        return opportunity

    def get(self, opportunity_id: str) -> Opportunity | None:
        return self._by_id.get(opportunity_id)

    def expire(self, now: float) -> list[Opportunity]:
        """Remove and return every opportunity whose expiry has passed."""
        gone = [o for o in self._by_id.values() if o.expires_at <= now]
        for opportunity in gone:
            self.take(opportunity.id)
        return gone

    def pending(self) -> list[Opportunity]:
        """Best first: by USD net profit."""
        return sorted(self._by_id.values(), key=lambda o: o.net_profit_usd, reverse=True)

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterable[Opportunity]:
        return iter(list(self._by_id.values()))
