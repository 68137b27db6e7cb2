"""The hash-chained audit log: append entries, verify the chain.

Each entry's hash is ``sha256(prev_hash + canonical JSON of (seq, incident_id, at, kind, actor,
payload))``; payloads are scrubbed of secrets before hashing, so a secret never reaches the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bot.audit.scrub import scrub
from bot.audit.verify import VerifyReport, verify_rows
from bot.store.models import AuditEntry, AuditKind

if TYPE_CHECKING:
    from bot.store.db import Store

__all__ = ["AuditEntry", "AuditKind", "VerifyReport", "append", "scrub", "verify"]


async def append(
    store: Store,
    incident_id: str | None,
    kind: AuditKind,
    actor: str,
    payload: Mapping[str, Any],
) -> AuditEntry:
    """Append one entry (secrets scrubbed) to the chain; safe under concurrent appenders."""
    return await store.append_audit(incident_id, kind, actor, payload)


async def verify(store: Store) -> VerifyReport:
    """Recompute the whole chain and report the first row that breaks it."""
    rows, head = await store.read_audit_chain()
    return verify_rows(rows, head)
