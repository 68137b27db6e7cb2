"""The audit chain's storage: append a link under the head-row lock, read the chain back.

How a link is hashed is ``bot.audit.hashing`` (pure, imports no store); this module only decides
where the previous hash comes from and writes the link and the new head in the caller's
transaction, so a state change and its audit row commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.audit.hashing import GENESIS_HASH, entry_hash, to_json_value
from bot.audit.seal import sign_entry
from bot.store import tables as t
from bot.store.engine import StoreBase
from bot.store.models import AuditEntry, AuditHead, AuditKind, AuditRow
from bot.store.rows import fetch_all
from tools.redact import redact_value

HEAD_ID = 1


async def ensure_head(conn: AsyncConnection) -> None:
    """Create the chain-head row (genesis) on a new database; leave an existing one alone."""
    head = await conn.execute(select(t.audit_head.c.id).where(t.audit_head.c.id == HEAD_ID))
    if head.first() is None:
        await conn.execute(insert(t.audit_head).values(id=HEAD_ID, seq=0, hash=GENESIS_HASH))


async def append_entry(
    conn: AsyncConnection,
    at: datetime,
    incident_id: str | None,
    kind: AuditKind,
    actor: str,
    payload: Mapping[str, Any],
) -> AuditEntry:
    """Append one link (payload scrubbed of secrets) in ``conn``'s transaction."""
    # The head row lock (PostgreSQL) or the write transaction (SQLite) makes appenders take
    # turns: each reads the true last hash, so two replicas can never fork the chain.
    head = (
        await conn.execute(
            select(t.audit_head).where(t.audit_head.c.id == HEAD_ID).with_for_update()
        )
    ).one()
    clean = redact_value(to_json_value(dict(payload)))
    seq = int(head.seq) + 1
    digest = entry_hash(head.hash, seq, incident_id, at, kind, actor, clean)
    entry = AuditEntry(
        seq=seq,
        incident_id=incident_id,
        at=at,
        kind=kind,
        actor=actor,
        payload=clean,
        prev_hash=head.hash,
        hash=digest,
        # Signed with the key of the seal attached to this engine (if any), and its head
        # anchored outside the database when the transaction commits (bot.audit.seal).
        signature=sign_entry(conn, seq, digest),
    )
    await conn.execute(insert(t.audit).values(**entry.model_dump()))
    await conn.execute(
        update(t.audit_head).where(t.audit_head.c.id == HEAD_ID).values(seq=seq, hash=digest)
    )
    return entry


class AuditChain(StoreBase):
    """Appending to and reading the hash chain."""

    async def _append(
        self,
        conn: AsyncConnection,
        incident_id: str | None,
        kind: AuditKind,
        actor: str,
        payload: Mapping[str, Any],
    ) -> AuditEntry:
        """Append in the caller's transaction, stamped with the store's clock."""
        return await append_entry(conn, self._clock(), incident_id, kind, actor, payload)

    async def append_audit(
        self, incident_id: str | None, kind: AuditKind, actor: str, payload: Mapping[str, Any]
    ) -> AuditEntry:
        """Append one entry to the hash chain in its own transaction (see ``bot.audit.append``)."""
        async with self.engine.begin() as conn:
            return await self._append(conn, incident_id, kind, actor, payload)

    async def list_audit(
        self, *, incident_id: str | None = None, after_seq: int = 0, limit: int | None = None
    ) -> list[AuditEntry]:
        """Audit entries in chain order."""
        query = select(t.audit).where(t.audit.c.seq > after_seq).order_by(t.audit.c.seq)
        if incident_id is not None:
            query = query.where(t.audit.c.incident_id == incident_id)
        if limit is not None:
            query = query.limit(limit)
        async with self.engine.connect() as conn:
            return await fetch_all(conn, query, AuditEntry)

    async def read_audit_chain(self) -> tuple[list[AuditRow], AuditHead]:
        """Every audit row as stored and the chain head, read in one snapshot (for verify)."""
        async with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                # Both reads must see the same commit point, or a concurrent append looks like
                # tampering.
                conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                head = (
                    await conn.execute(select(t.audit_head).where(t.audit_head.c.id == HEAD_ID))
                ).one()
                rows = await fetch_all(conn, select(t.audit).order_by(t.audit.c.seq), AuditRow)
        return rows, AuditHead(seq=head.seq, hash=head.hash)
