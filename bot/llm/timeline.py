"""An incident's audit trail as lines a person (or the LLM, fenced as data) reads."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from bot.store.models import AuditEntry

# What each kind of entry says, in the order the payload's keys are worth reading.
_KEYS: dict[str, tuple[str, ...]] = {
    "tool_call": ("tool", "status", "summary"),
    "diagnosis": ("id", "role", "explanation"),
    "proposal": ("tool", "params", "action", "risk"),
    "approval": ("proposal_id", "decision", "actor"),
    "rejection": ("proposal_id", "refusal", "message"),
    "execution_finished": ("tool", "status", "summary"),
    "verification": ("outcome", "summary"),
    "escalation": ("to", "reason"),
    "incident_closed": ("final_state", "escalation"),
    "llm_call": ("prompt", "outcome", "attempts"),
}


def _brief(kind: str, payload: dict[str, Any]) -> str:
    keys = _KEYS.get(kind) or tuple(payload)[:4]
    parts = []
    for key in keys:
        value = payload.get(key)
        if value in (None, "", [], {}):
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        parts.append(f"{key}={text[:300]}")
    return ", ".join(parts)


def timeline_line(entry: AuditEntry) -> str:
    return (
        f"#{entry.seq} {entry.at:%Y-%m-%d %H:%M:%S} {entry.kind} by {entry.actor}: "
        f"{_brief(entry.kind, entry.payload)}"
    )


def timeline(entries: Iterable[AuditEntry], limit_chars: int = 6000) -> str:
    """The newest entries that fit in ``limit_chars``, oldest first."""
    lines: list[str] = []
    size = 0
    for line in reversed([timeline_line(e) for e in entries]):
        if size + len(line) > limit_chars:
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join(reversed(lines))


def of_kind(entries: Sequence[AuditEntry], *kinds: str) -> list[AuditEntry]:
    return [e for e in entries if e.kind in kinds]
