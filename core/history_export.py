"""`arbdesk history` output: journaled trades as JSON or CSV; `--stats`: the figures per route
kind and per venue (`core.trade_stats`) as a table or JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from core.money import opt_str
from core.records import (
    TradeRecord,
)
from core.trade_stats import RouteStats, TradeStats


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


def route_to_dict(route: RouteStats) -> dict[str, Any]:
    """JSON-ready: money as exact strings, counts and ratios as numbers."""
    return {
        "key": route.key,
        "opportunities": route.opportunities,
        "executed": route.executed,
        "successful": route.successful,
        "failed": route.failed,
        "success_rate": route.success_rate,
        "volume_usd": str(route.volume_usd),
        "profit_usd": str(route.profit_usd),
        "fees_usd": str(route.fees_usd),
        "avg_profit_usd": opt_str(route.avg_profit_usd),
        "avg_exec_s": route.avg_exec_s,
    }


def render_stats_json(stats: TradeStats) -> str:
    """One JSON document: `by_kind`, `by_venue` and the cumulative `pnl_series`."""
    return json.dumps(
        {
            "by_kind": [route_to_dict(r) for r in stats.routes if r.group == "kind"],
            "by_venue": [route_to_dict(r) for r in stats.routes if r.group == "venue"],
            "pnl_series": [
                {"at": _iso(at), "cumulative_pnl_usd": str(total)} for at, total in stats.pnl_series
            ],
        },
        indent=2,
    )


def render_stats_table(stats: TradeStats) -> str:
    """The per-kind block, then the per-venue block; money rounded to the cent (the JSON
    keeps every digit)."""
    lines = []
    for group in ("kind", "venue"):
        lines.append(
            f"{'by ' + group:<16} {'opps':>7} {'exec':>6} {'ok':>6} {'fail':>6} {'success':>7}"
            f" {'volume USD':>14} {'profit USD':>12} {'fees USD':>10} {'avg USD':>9}"
            f" {'avg s':>7}"
        )
        for r in (r for r in stats.routes if r.group == group):
            rate = "-" if r.success_rate is None else f"{r.success_rate:.1%}"
            avg = "-" if r.avg_profit_usd is None else f"{r.avg_profit_usd:+,.2f}"
            secs = "-" if r.avg_exec_s is None else f"{r.avg_exec_s:.3f}"
            lines.append(
                f"{r.key:<16} {r.opportunities:>7} {r.executed:>6} {r.successful:>6}"
                f" {r.failed:>6} {rate:>7} {r.volume_usd:>14,.2f} {r.profit_usd:>+12,.2f}"
                f" {r.fees_usd:>10,.2f} {avg:>9} {secs:>7}"
            )
        lines.append("")
    kinds = [r for r in stats.routes if r.group == "kind"]  # each trade has one kind
    profit = sum((r.profit_usd for r in kinds), Decimal(0))
    finished = sum(r.successful + r.failed for r in kinds)
    lines.append(f"-- realized PnL {profit:+,.2f} USD over {finished} finished trades")
    return "\n".join(lines)
