"""How one audit entry is hashed: sha256 over the previous hash and the entry's canonical JSON."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64


def to_json_value(value: Any) -> Any:
    """``value`` as plain JSON data, so what is stored and re-read is exactly what was hashed.

    Non-finite floats become strings because PostgreSQL's JSON type refuses NaN and Infinity.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json_value(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return to_json_value(value.model_dump(mode="json"))
    return str(value)


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, ASCII only: the same data always gives the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def canonical_time(at: datetime) -> str:
    """A timestamp as hashed: UTC, microseconds, independent of the database's time zone."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    prev_hash: str,
    seq: int,
    incident_id: str | None,
    at: datetime,
    kind: str,
    actor: str,
    payload: dict[str, Any],
) -> str:
    """``sha256(prev_hash + canonical JSON of (seq, incident_id, at, kind, actor, payload))``."""
    body = canonical_json([seq, incident_id, canonical_time(at), kind, actor, payload])
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()
