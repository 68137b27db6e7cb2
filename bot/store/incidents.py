"""Incidents: opened (audited ``incident_opened``), updated, closed (``incident_closed``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select, update

from bot.audit.hashing import to_json_value
from bot.store import tables as t
from bot.store.chain import AuditChain
from bot.store.engine import NotFoundError, new_id
from bot.store.models import Incident, IncidentStatus
from bot.store.rows import fetch_all, fetch_one

_UNSET: Any = object()
_CLOSING_STATUSES = frozenset({"resolved", "closed"})
_INACTIVE_STATUSES = ("resolved", "closed", "escalated")


class Incidents(AuditChain):
    """The incidents table, each change audited in its own transaction."""

    async def create_incident(
        self,
        target: str,
        trigger: Mapping[str, Any],
        *,
        runbook: str | None = None,
        thread_ref: str | None = None,
        incident_id: str | None = None,
        status: IncidentStatus = "open",
        actor: str = "bot",
        requested_by: str | None = None,
    ) -> Incident:
        """Open an incident (audited as ``incident_opened``).

        ``requested_by`` (by default ``actor``, who opens it) is kept on the incident: the
        approval policy keeps the requester from approving its high-risk changes.
        """
        now = self._clock()
        incident = Incident(
            id=incident_id or new_id("inc"),
            target=target,
            trigger=to_json_value(dict(trigger)),
            status=status,
            runbook=runbook,
            thread_ref=thread_ref,
            requested_by=requested_by or actor,
            created_at=now,
            updated_at=now,
        )
        async with self.engine.begin() as conn:
            await conn.execute(insert(t.incidents).values(**incident.model_dump()))
            await self._append(
                conn,
                incident.id,
                "incident_opened",
                actor,
                {
                    "target": target,
                    "trigger": incident.trigger,
                    "runbook": runbook,
                    "requested_by": incident.requested_by,
                },
            )
        return incident

    async def get_incident(self, incident_id: str) -> Incident | None:
        """The incident, or None."""
        async with self.engine.connect() as conn:
            return await fetch_one(
                conn, select(t.incidents).where(t.incidents.c.id == incident_id), Incident
            )

    async def update_incident(
        self,
        incident_id: str,
        *,
        status: IncidentStatus | None = None,
        runbook: str | None = _UNSET,
        thread_ref: str | None = _UNSET,
        final_state: dict[str, Any] | None = _UNSET,
        actor: str = "bot",
    ) -> Incident:
        """Change the given fields; moving to resolved/closed is audited as ``incident_closed``."""
        values: dict[str, Any] = {"updated_at": self._clock()}
        if status is not None:
            values["status"] = status
        if runbook is not _UNSET:
            values["runbook"] = runbook
        if thread_ref is not _UNSET:
            values["thread_ref"] = thread_ref
        if final_state is not _UNSET:
            values["final_state"] = to_json_value(final_state)
        by_id = t.incidents.c.id == incident_id
        async with self.engine.begin() as conn:
            before = (
                await conn.execute(select(t.incidents.c.status).where(by_id).with_for_update())
            ).first()
            if before is None:
                raise NotFoundError(f"no incident {incident_id!r}")
            await conn.execute(update(t.incidents).where(by_id).values(**values))
            incident = await fetch_one(conn, select(t.incidents).where(by_id), Incident)
            assert incident is not None  # locked above, in this transaction
            if status in _CLOSING_STATUSES and before.status not in _CLOSING_STATUSES:
                await self._append(
                    conn,
                    incident_id,
                    "incident_closed",
                    actor,
                    {"status": status, "final_state": incident.final_state},
                )
        return incident

    async def find_incident(
        self, *, thread_ref: str | None = None, target: str | None = None, active: bool = True
    ) -> Incident | None:
        """The newest incident with this thread or target (only unresolved ones when ``active``)."""
        query = select(t.incidents).order_by(t.incidents.c.created_at.desc()).limit(1)
        if thread_ref is not None:
            query = query.where(t.incidents.c.thread_ref == thread_ref)
        if target is not None:
            query = query.where(t.incidents.c.target == target)
        if active:
            query = query.where(t.incidents.c.status.not_in(_INACTIVE_STATUSES))
        async with self.engine.connect() as conn:
            return await fetch_one(conn, query, Incident)

    async def list_incidents(
        self, *, status: IncidentStatus | None = None, limit: int = 100
    ) -> list[Incident]:
        """Incidents, newest first."""
        query = select(t.incidents).order_by(t.incidents.c.created_at.desc()).limit(limit)
        if status is not None:
            query = query.where(t.incidents.c.status == status)
        async with self.engine.connect() as conn:
            return await fetch_all(conn, query, Incident)
