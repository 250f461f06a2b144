"""`arbdesk history` output: journaled trades as JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from core.money import opt_str
from core.records import (
    TradeRecord,
)


def parse_since(text: str) -> float:
    """`--since` ISO date or datetime (naive means UTC) to epoch seconds."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def trade_to_dict(trade: TradeRecord) -> dict[str, Any]:
    """A JSON-ready dict; Decimals as strings so no precision is lost."""
    return {
        "id": trade.id,
        "opportunity_id": trade.opportunity_id,
        "symbol": trade.symbol,
        "buy_venue": trade.buy_venue,
        "sell_venue": trade.sell_venue,
        "amount": str(trade.amount),
        "status": str(trade.status),
        "reason": trade.reason,
        "realized_pnl": opt_str(trade.realized_pnl),
        "realized_pnl_usd": opt_str(trade.realized_pnl_usd),
        "fees": str(trade.fees),
        "volume": str(trade.volume),
        "unwind_cost": str(trade.unwind_cost),
        "residual": str(trade.residual),
        "started_at": _iso(trade.started_at),
        "finished_at": _iso(trade.finished_at),
        "legs": [
            {
                "client_order_id": leg.client_order_id,
                "role": leg.role,
                "venue": leg.venue,
                "side": leg.side,
                "type": leg.type,
                "amount": str(leg.amount),
                "price": opt_str(leg.price),
                "status": str(leg.status),
                "venue_order_id": leg.venue_order_id,
                "filled": str(leg.filled),
                "average": opt_str(leg.average),
                "cost": str(leg.cost),
                "fee": str(leg.fee),
                "fee_currency": leg.fee_currency,
                "other_fees": {currency: str(amount) for currency, amount in leg.other_fees},
                "error": leg.error,
            }
            for leg in trade.legs
        ],
    }


def render_history_json(trades: Iterable[TradeRecord]) -> str:
    """One JSON document: a list of trades, each with its legs."""
    return json.dumps([trade_to_dict(t) for t in trades], indent=2)


HISTORY_CSV_COLUMNS = (
    "trade_id",
    "started_at",
    "finished_at",
    "symbol",
    "buy_venue",
    "sell_venue",
    "status",
    "realized_pnl",
    "fees",
    "volume",
    "unwind_cost",
    "residual",
    "reason",
    "leg_role",
    "leg_venue",
    "leg_side",
    "leg_type",
    "leg_amount",
    "leg_price",
    "leg_status",
    "leg_filled",
    "leg_average",
    "leg_cost",
    "leg_fee",
    "leg_fee_currency",
    "leg_client_order_id",
)


def render_history_csv(trades: Iterable[TradeRecord]) -> str:
    """One row per leg (trade columns repeated); a trade without legs gets one row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HISTORY_CSV_COLUMNS)
    for trade in trades:
        d = trade_to_dict(trade)
        head = [
            d["id"],
            d["started_at"],
            d["finished_at"] or "",
            d["symbol"],
            d["buy_venue"],
            d["sell_venue"],
            d["status"],
            d["realized_pnl"] or "",
            d["fees"],
            d["volume"],
            d["unwind_cost"],
            d["residual"],
            d["reason"],
        ]
        legs: list[Mapping[str, Any]] = d["legs"] or [{}]
        for leg in legs:
            writer.writerow(
                head
                + [
                    leg.get(k) or ""
                    for k in (
                        "role",
                        "venue",
                        "side",
                        "type",
                        "amount",
                        "price",
                        "status",
                        "filled",
                        "average",
                        "cost",
                        "fee",
                        "fee_currency",
                        "client_order_id",
                    )
                ]
            )
    return out.getvalue()
