"""A plain structural diff of two JSON-like values: what a mutation would change, path by path."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Change(BaseModel):
    """A changed leaf at a dotted path, list items by index (``routes.0.traffic_percentage``)."""

    path: str
    before: Any = None
    after: Any = None


def diff(before: Any, after: Any, path: str = "") -> list[Change]:
    """Every leaf that differs between ``before`` and ``after``, in a stable order.

    Dicts are compared key by key (a missing key is ``None``), lists item by item; anything else
    (including a change of type) is one change at ``path``.
    """
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[Change] = []
        for key in [*before, *(k for k in after if k not in before)]:
            changes += diff(before.get(key), after.get(key), _join(path, str(key)))
        return changes
    if isinstance(before, list) and isinstance(after, list):
        changes = []
        for index in range(max(len(before), len(after))):
            left = before[index] if index < len(before) else None
            right = after[index] if index < len(after) else None
            changes += diff(left, right, _join(path, str(index)))
        return changes
    if before == after and type(before) is type(after):
        return []
    return [Change(path=path or "$", before=before, after=after)]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
