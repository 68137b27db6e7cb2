"""The execution ledger: each side effect keyed once, claimed by one executor, then finished.

``ledger_begin`` (when it wins) is audited as ``execution_started`` and ``ledger_finish`` as
``execution_finished``, each in the transaction that changes the row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.audit.hashing import to_json_value
from bot.store import tables as t
from bot.store.chain import AuditChain
from bot.store.engine import NotFoundError, StoreError
from bot.store.models import LedgerEntry, LedgerState
from bot.store.rows import fetch_all, fetch_one


async def _incident_of(conn: AsyncConnection, proposal_id: str | None) -> str | None:
    """The incident a proposal belongs to, so ledger audit rows land in that incident's log."""
    if proposal_id is None:
        return None
    row = (
        await conn.execute(select(t.proposals.c.incident_id).where(t.proposals.c.id == proposal_id))
    ).first()
    return cast(str, row.incident_id) if row else None


def _may_take_over(
    existing: LedgerEntry, now: datetime, *, retry_failed: bool, stale_after_s: float | None
) -> bool:
    """Whether a claim may take ``existing`` over: its owner is surely gone, or a retry is asked.

    A leased ``started`` row is taken over only once its lease ran out: the owner renews it
    while the tool runs, however many requests, retries and deadlines that takes. A row without
    a lease (written before leases existed) falls back to ``stale_after_s`` since it started.
    """
    if existing.state == "failed":
        return retry_failed
    if existing.state != "started":
        return False
    if existing.lease_expires_at is not None:
        return now >= existing.lease_expires_at
    return stale_after_s is not None and now - existing.started_at >= timedelta(
        seconds=stale_after_s
    )


class Ledger(AuditChain):
    """The ledger table."""

    async def ledger_begin(
        self,
        idempotency_key: str,
        *,
        tool: str,
        params: Mapping[str, Any],
        proposal_id: str | None = None,
        retry_failed: bool = False,
        stale_after_s: float | None = None,
        owner: str | None = None,
        lease_s: float | None = None,
        actor: str = "bot",
    ) -> LedgerEntry:
        """Claim the right to run a side effect once.

        Inserts a ``started`` row and returns it with ``claimed=True``: the caller runs the effect
        and then calls ``ledger_finish``. With ``owner`` and ``lease_s`` the row is leased to
        ``owner`` for ``lease_s`` seconds, and the caller keeps it with ``ledger_renew`` while the
        effect runs. If the key exists, returns the existing row with ``claimed=False``
        (``state`` says whether it already succeeded), except that a ``failed`` row (when
        ``retry_failed``) or a ``started`` row whose owner is gone (lease expired; for a row
        without a lease, older than ``stale_after_s``) is taken over atomically. Of any number of
        concurrent callers exactly one wins.
        """
        now = self._clock()
        lease_expires_at = now + timedelta(seconds=lease_s) if lease_s is not None else None
        entry = LedgerEntry(
            idempotency_key=idempotency_key,
            proposal_id=proposal_id,
            tool=tool,
            params=to_json_value(dict(params)),
            state="started",
            started_at=now,
            owner=owner,
            lease_expires_at=lease_expires_at,
        )
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(t.ledger).values(**entry.model_dump(exclude={"claimed"})))
                await self._append_execution_started(conn, entry, actor, retry=False)
            return entry.model_copy(update={"claimed": True})
        except IntegrityError:
            pass
        by_key = t.ledger.c.idempotency_key == idempotency_key
        async with self.engine.begin() as conn:
            existing = await fetch_one(
                conn, select(t.ledger).where(by_key).with_for_update(), LedgerEntry
            )
            assert existing is not None  # the insert above collided with it; rows are never deleted
            if not _may_take_over(
                existing, now, retry_failed=retry_failed, stale_after_s=stale_after_s
            ):
                return existing
            restart = {
                "state": "started",
                "started_at": now,
                "finished_at": None,
                "result": None,
                "owner": owner,
                "lease_expires_at": lease_expires_at,
            }
            await conn.execute(update(t.ledger).where(by_key).values(**restart))
            taken = existing.model_copy(update=restart)
            await self._append_execution_started(conn, taken, actor, retry=True)
            return taken.model_copy(update={"claimed": True})

    async def ledger_renew(self, idempotency_key: str, owner: str, lease_s: float) -> bool:
        """Extend ``owner``'s lease on a ``started`` row to ``lease_s`` from now.

        False when the row is no longer ``owner``'s to renew (finished, or taken over after the
        lease ran out): the caller has lost the claim. Not audited: a renewal changes no outcome.
        """
        query = (
            update(t.ledger)
            .where(
                t.ledger.c.idempotency_key == idempotency_key,
                t.ledger.c.state == "started",
                t.ledger.c.owner == owner,
            )
            .values(lease_expires_at=self._clock() + timedelta(seconds=lease_s))
        )
        async with self.engine.begin() as conn:
            return (await conn.execute(query)).rowcount == 1

    async def _append_execution_started(
        self, conn: AsyncConnection, entry: LedgerEntry, actor: str, *, retry: bool
    ) -> None:
        await self._append(
            conn,
            await _incident_of(conn, entry.proposal_id),
            "execution_started",
            actor,
            {
                "idempotency_key": entry.idempotency_key,
                "proposal_id": entry.proposal_id,
                "tool": entry.tool,
                "params": entry.params,
                "retry": retry,
                "owner": entry.owner,
            },
        )

    async def ledger_finish(
        self,
        idempotency_key: str,
        state: LedgerState,
        result: Mapping[str, Any] | None = None,
        *,
        owner: str | None = None,
        actor: str = "bot",
    ) -> LedgerEntry:
        """Record how a claimed side effect ended (audited as ``execution_finished``).

        ``state`` is ``succeeded`` or ``failed``; the proposal, if any, becomes ``executed`` or
        ``failed``. With ``owner``, refused unless the row is still that executor's: one whose
        lease ran out and was taken over is the new owner's to finish.
        """
        if state == "started":
            raise StoreError("ledger_finish needs state 'succeeded' or 'failed'")
        now = self._clock()
        plain_result = to_json_value(dict(result or {}))
        by_key = t.ledger.c.idempotency_key == idempotency_key
        async with self.engine.begin() as conn:
            entry = await fetch_one(
                conn, select(t.ledger).where(by_key).with_for_update(), LedgerEntry
            )
            if entry is None:
                raise NotFoundError(f"no ledger entry {idempotency_key!r}")
            if entry.state != "started":
                raise StoreError(f"ledger entry {idempotency_key!r} is already {entry.state}")
            if owner is not None and entry.owner != owner:
                raise StoreError(
                    f"ledger entry {idempotency_key!r} was taken over by another owner"
                )
            done = {
                "state": state,
                "finished_at": now,
                "result": plain_result,
                "lease_expires_at": None,
            }
            await conn.execute(update(t.ledger).where(by_key).values(**done))
            if entry.proposal_id is not None:
                await conn.execute(
                    update(t.proposals)
                    .where(t.proposals.c.id == entry.proposal_id)
                    .values(status="executed" if state == "succeeded" else "failed")
                )
            await self._append(
                conn,
                await _incident_of(conn, entry.proposal_id),
                "execution_finished",
                actor,
                {
                    "idempotency_key": idempotency_key,
                    "proposal_id": entry.proposal_id,
                    "tool": entry.tool,
                    "state": state,
                    "result": plain_result,
                },
            )
        return entry.model_copy(update=done)

    async def get_ledger(self, idempotency_key: str) -> LedgerEntry | None:
        """The ledger entry for a key, or None."""
        async with self.engine.connect() as conn:
            return await fetch_one(
                conn,
                select(t.ledger).where(t.ledger.c.idempotency_key == idempotency_key),
                LedgerEntry,
            )

    async def list_ledger(self, *, proposal_id: str | None = None) -> list[LedgerEntry]:
        """Ledger entries, oldest first."""
        query = select(t.ledger).order_by(t.ledger.c.started_at)
        if proposal_id is not None:
            query = query.where(t.ledger.c.proposal_id == proposal_id)
        async with self.engine.connect() as conn:
            return await fetch_all(conn, query, LedgerEntry)
