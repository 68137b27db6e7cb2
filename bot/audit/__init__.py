"""The hash-chained audit log: append entries, verify the chain and the rows it vouches for.

Each entry's hash is ``sha256(prev_hash + canonical JSON of (seq, incident_id, at, kind, actor,
payload))``; payloads are scrubbed of secrets before hashing, so a secret never reaches the log.
With a seal attached to the store (``bot.audit.seal``), each entry is also signed (HMAC over its
hash, with a key the database does not hold) and every committed head is appended to an anchor
file outside the database, so that neither a consistent rewrite nor a truncation nor a wipe passes
``verify``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bot.audit.verify import RecordProblem, VerifyReport, verify_rows
from bot.store.models import AuditEntry, AuditKind
from tools.redact import redact_value as scrub

if TYPE_CHECKING:
    from bot.store.db import Store

__all__ = [
    "AuditEntry",
    "AuditKind",
    "RecordProblem",
    "VerifyReport",
    "append",
    "scrub",
    "verify",
]

# The anchor file is read before the database: an appender writes its anchor line just before its
# commit becomes visible, so a verify reading in between sees a head "missing" from the database
# for a moment; and a chain begun after the anchor read looks unanchored. Look again once.
_RECHECK_AFTER_S = 0.5
_RACY = ("truncated", "wiped", "unanchored")


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
    """Check the whole chain, and the proposal, approval and ledger rows against it.

    With a seal attached to ``store``: every row's signature and every anchored head too.
    """
    report = await _verify_once(store)
    if report.problem in _RACY:
        await asyncio.sleep(_RECHECK_AFTER_S)
        report = await _verify_once(store)
    return report


async def _verify_once(store: Store) -> VerifyReport:
    from bot.audit.records import check_records
    from bot.audit.seal import seal_of
    from bot.audit.snapshot import read_snapshot

    seal = seal_of(store.engine)
    anchors = seal.anchors.read(seal.chain_of(store.engine.sync_engine)) if seal else None
    snapshot = await read_snapshot(store)
    report = verify_rows(
        snapshot.rows,
        snapshot.head,
        key=seal.key if seal is not None else None,
        anchors=anchors.anchors if anchors is not None else None,
    )
    problems = check_records(
        snapshot.rows, snapshot.proposals, snapshot.approvals, snapshot.ledger, snapshot.votes
    )
    checked = len(snapshot.proposals) + len(snapshot.approvals) + len(snapshot.ledger)
    checked += len(snapshot.votes or [])
    report = report.model_copy(update={"records_checked": checked, "record_problems": problems})
    if report.ok and problems:
        first = problems[0]
        detail = f"{len(problems)} row(s) disagree with the chain; first: {first.table} {first.key}"
        report = report.model_copy(
            update={"ok": False, "problem": "records_differ", "detail": detail}
        )
    return report
