"""Exact order figures from what the venue actually sent, not from ccxt's floats.

ccxt parses a venue's decimal strings into floats (`filled`, `cost`, `average`, each trade's
`amount`, `price`, `fee.cost`). A float holds about 15-17 significant digits, so a figure like
"12345678.12345678" does not survive it, and a sum of float products is not the venue's sum.
The raw answer stays in `info`, so for venues whose fields we know we read the strings there:

Binance spot (``POST/GET/DELETE /api/v3/order``, ``GET /api/v3/myTrades``):

- order: ``executedQty`` (base filled) and ``cummulativeQuoteQty`` (quote moved, the venue's own
  sum over the fills), so ``average = cummulativeQuoteQty / executedQty`` exactly;
- ``fills[]`` (only in the answer to the order's placement, with ``newOrderRespType`` FULL, the
  default for market and limit orders): ``price``, ``qty``, ``commission``, ``commissionAsset``;
- a query or a cancel answers without fills, hence without fees: the fees are then read from the
  order's trades (``fetch_order_trades`` -> ``myTrades?orderId=``: ``price``, ``qty``,
  ``commission``, ``commissionAsset`` per trade). See `needs_trades` and `with_trades`.

Every number becomes a Decimal made from the venue's string; other venues' answers (and the
simulated venues, which put exact Decimals in their dicts already) pass through unchanged, and
core.journal.D turns any float left over into the Decimal of its shortest repr.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def exact_order(raw: dict[str, Any]) -> dict[str, Any]:
    """`raw` with filled / cost / average / trades / fee made exact from `info` when known."""
    info = raw.get("info")
    if not isinstance(info, dict) or "executedQty" not in info:
        return raw
    out = dict(raw)
    filled = Decimal(str(info["executedQty"]))
    out["filled"] = filled
    if info.get("cummulativeQuoteQty") is not None:
        cost = Decimal(str(info["cummulativeQuoteQty"]))
        if cost >= 0:  # Binance sends a negative figure when it does not have it (old orders)
            out["cost"] = cost
            out["average"] = cost / filled if filled else None
    if info.get("origQty") is not None:
        out["amount"] = Decimal(str(info["origQty"]))
    fills = info.get("fills")
    if fills:
        ccxt_trades = raw.get("trades") or []
        out["trades"] = [
            _exact_fill(fill, ccxt_trades[i] if i < len(ccxt_trades) else None)
            for i, fill in enumerate(fills)
        ]
        out["fee"], out["fees"] = None, []  # the trades carry the fees
    else:
        out["trades"] = []
    return out


def _exact_fill(fill: dict[str, Any], parsed: dict[str, Any] | None) -> dict[str, Any]:
    currency = ((parsed or {}).get("fee") or {}).get("currency") or fill.get("commissionAsset")
    return {
        "amount": Decimal(str(fill["qty"])),
        "price": Decimal(str(fill["price"])),
        "fee": {"cost": Decimal(str(fill.get("commission") or "0")), "currency": currency},
        "info": fill,
    }


def fee_known(raw: dict[str, Any]) -> bool:
    """Whether the order dict says what it was charged (a fee, or every trade's fee)."""
    trades = raw.get("trades") or []
    if trades:
        return all((t.get("fee") or {}).get("cost") is not None for t in trades)
    if (raw.get("fee") or {}).get("cost") is not None:
        return True
    return any((f or {}).get("cost") is not None for f in raw.get("fees") or [])


def needs_trades(raw: dict[str, Any]) -> bool:
    """A final order that filled something but does not say its fees: ask for its trades."""
    status = str(raw.get("status") or "").lower()
    filled = raw.get("filled")
    return (
        status in ("closed", "canceled", "cancelled", "expired", "rejected")
        and filled is not None
        and Decimal(str(filled)) > 0
        and not fee_known(raw)
    )


def with_trades(raw: dict[str, Any], trades: list[dict[str, Any]]) -> dict[str, Any]:
    """`raw` completed by its trades (from fetch_order_trades), made exact from their `info`.

    Used only when the trades add up to the order's filled amount; otherwise `raw` is kept
    (a trade list cut short by paging must not pass for the whole order).
    """
    exact = []
    for trade in trades:
        info = trade.get("info") or {}
        if "qty" in info and "price" in info:
            exact.append(_exact_fill(info, trade))
        else:
            exact.append(trade)
    total = sum((Decimal(str(t.get("amount") or 0)) for t in exact), Decimal(0))
    if not exact or total != Decimal(str(raw.get("filled") or 0)):
        return raw
    out = dict(raw)
    out["trades"] = exact
    out["fee"], out["fees"] = None, []
    return out
