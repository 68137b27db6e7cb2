"""One consistent read of the chain and the tables it vouches for, as stored (for verify).

The rows are read raw, not through the store's models: a tampered row may no longer validate,
and verify must still be able to say what is wrong with it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from bot.audit.verify import ChainRow
from bot.store import tables as t
from bot.store.chain import HEAD_ID
from bot.store.db import Store
from bot.store.models import AuditHead


class ChainSnapshot(BaseModel):
    """The audit rows, the head, and the proposal / approval / ledger rows at one commit point."""

    rows: list[ChainRow]
    head: AuditHead
    proposals: list[dict[str, Any]]
    approvals: list[dict[str, Any]]
    ledger: list[dict[str, Any]]
    votes: list[dict[str, Any]] | None = None  # None: the schema has no approval_votes table


async def read_snapshot(store: Store) -> ChainSnapshot:
    """Read everything verify needs in one transaction (REPEATABLE READ on PostgreSQL)."""
    async with store.engine.connect() as conn:
        if store.dialect == "postgresql":
            # All reads must see the same commit point, or a concurrent append looks like
            # tampering.
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            head = (
                await conn.execute(select(t.audit_head).where(t.audit_head.c.id == HEAD_ID))
            ).one()
            audit = (await conn.execute(select(t.audit).order_by(t.audit.c.seq))).all()
            tables: list[list[dict[str, Any]] | None] = []
            for name in ("proposals", "approvals", "ledger", "approval_votes"):
                table = t.metadata.tables.get(name)
                if table is None:
                    tables.append(None)
                    continue
                result = await conn.execute(select(table))
                tables.append([dict(row._mapping) for row in result.all()])
    return ChainSnapshot(
        rows=[ChainRow.model_validate(dict(row._mapping)) for row in audit],
        head=AuditHead(seq=head.seq, hash=head.hash),
        proposals=tables[0] or [],
        approvals=tables[1] or [],
        ledger=tables[2] or [],
        votes=tables[3],
    )
