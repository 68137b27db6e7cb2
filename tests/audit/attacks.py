"""What someone with write access to the database does to the audit chain and its tables.

Each attack is plain SQL against the real database, using the project's own hash function where
a careful attacker would: the point is that the bot's defences hold against exactly that.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update

from bot import audit
from bot.audit.hashing import GENESIS_HASH, entry_hash
from bot.store import Store
from bot.store import tables as t

APPROVER = "alice"
INTRUDER = "mallory"


async def seed_incident(store: Store) -> dict[str, Any]:
    """A whole approved and executed change: incident, proposal, approval, ledger, audit rows."""
    incident = await store.create_incident("fraud", {"alertname": "Endpoint5xx", "actor": "bob"})
    await audit.append(store, incident.id, "tool_call", "bot", {"tool": "endpoint_status"})
    proposal = await store.create_proposal(
        incident.id,
        action="Roll back fraud to v3",
        tool="rollback_to_previous_champion",
        params={"model": "main.ml.fraud", "endpoint": "fraud", "to_version": "3"},
        dry_run={"diff": [{"field": "version", "from": "4", "to": "3"}]},
        risk="medium",
        ttl_s=600,
    )
    decided = await store.decide(
        proposal.proposal_id, "approved", APPROVER, "cli", approvers=[APPROVER]
    )
    assert decided.accepted, decided
    entry = await store.ledger_begin(
        proposal.idempotency_key,
        tool=proposal.tool,
        params=proposal.params,
        proposal_id=proposal.proposal_id,
    )
    assert entry.claimed
    await store.ledger_finish(proposal.idempotency_key, "succeeded", {"status": "ok", "v": "3"})
    await audit.append(store, incident.id, "verification", "bot", {"outcome": "recovered"})
    return {"incident_id": incident.id, "proposal": proposal}


async def audit_rows(store: Store) -> list[Any]:
    async with store.engine.connect() as conn:
        return list((await conn.execute(select(t.audit).order_by(t.audit.c.seq))).all())


async def rewrite_consistently(store: Store, kind: str, **changes: Any) -> int:
    """Change the first ``kind`` entry, recompute every hash from there on, move the head.

    The stored signatures are left as they were (the attacker cannot compute new ones). Returns
    the seq of the changed entry.
    """
    rows = await audit_rows(store)
    start = next(i for i, row in enumerate(rows) if row.kind == kind)
    prev_hash = rows[start - 1].hash if start else GENESIS_HASH
    async with store.engine.begin() as conn:
        for i, row in enumerate(rows[start:], start=start):
            values = dict(row._mapping) | (changes if i == start else {})
            digest = entry_hash(
                prev_hash,
                values["seq"],
                values["incident_id"],
                values["at"],
                values["kind"],
                values["actor"],
                values["payload"],
            )
            written = {"prev_hash": prev_hash, "hash": digest} | (changes if i == start else {})
            await conn.execute(update(t.audit).where(t.audit.c.seq == row.seq).values(**written))
            prev_hash = digest
        await conn.execute(update(t.audit_head).values(seq=rows[-1].seq, hash=prev_hash))
    return int(rows[start].seq)


async def truncate_with_head_moved_back(store: Store, keep: int) -> None:
    """Drop every entry after seq ``keep`` and point the head at the last one kept."""
    rows = await audit_rows(store)
    async with store.engine.begin() as conn:
        await conn.execute(delete(t.audit).where(t.audit.c.seq > keep))
        await conn.execute(update(t.audit_head).values(seq=keep, hash=rows[keep - 1].hash))


async def wipe_with_head_reset(store: Store) -> None:
    """Empty the chain and reset the head to genesis, as on a fresh database."""
    async with store.engine.begin() as conn:
        await conn.execute(delete(t.audit))
        await conn.execute(update(t.audit_head).values(seq=0, hash=GENESIS_HASH))


async def edit_row(store: Store, table: str, where: dict[str, Any], **values: Any) -> None:
    """An UPDATE of one proposals / approvals / ledger row, behind the chain's back."""
    target = t.metadata.tables[table]
    condition = [target.c[name] == value for name, value in where.items()]
    async with store.engine.begin() as conn:
        result = await conn.execute(update(target).where(*condition).values(**values))
        assert result.rowcount == 1, f"{table} {where} matched {result.rowcount} rows"
