"""Events and records as JSON-ready dicts (headless output, `scan --json`, the journal)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from decimal import Decimal
from typing import Any


def iso_utc(ts: float) -> str:
    """Epoch seconds as ISO-8601 UTC with millisecond precision and a 'Z'."""
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def to_jsonable(value: Any) -> Any:
    if hasattr(value, "to_json_dict"):
        return value.to_json_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def event_to_dict(event: Any) -> dict[str, Any]:
    """{'event': 'OpportunityFound', 'at': ISO, ...fields}."""
    body = to_jsonable(event)
    at = body.pop("at", None)
    out: dict[str, Any] = {"event": type(event).__name__}
    if isinstance(at, int | float):
        out["at"] = iso_utc(at)
    out.update(body)
    return out
