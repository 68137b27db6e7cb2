"""The bot's durable state on SQLite (one process) or PostgreSQL (several replicas), one code path.

The store records the audit entries of its own state changes in the same transaction as the change,
so an approval, an expiry or an execution can never be stored without its audit row:
``create_incident`` → ``incident_opened``, ``update_incident`` to resolved/closed →
``incident_closed``, ``create_proposal`` → ``proposal``, ``decide`` → ``approval`` / ``rejection`` /
``expiry``, ``ledger_begin`` (when it wins) → ``execution_started``, ``ledger_finish`` →
``execution_finished``. Everything else (tool calls, LLM calls, diagnoses...) goes through
``bot.audit.append``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Row, event, insert, select, text, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.audit.hashing import GENESIS_HASH, canonical_json, entry_hash, to_json_value
from bot.audit.scrub import scrub
from bot.store import tables as t
from bot.store.models import (
    Approval,
    AuditEntry,
    AuditHead,
    AuditKind,
    AuditRow,
    DecideResult,
    Decision,
    Incident,
    IncidentStatus,
    LedgerEntry,
    LedgerState,
    Proposal,
    ProposalStatus,
    Risk,
)

Clock = Callable[[], datetime]
_UNSET: Any = object()
_CLOSING_STATUSES = frozenset({"resolved", "closed"})
# Any constant: the advisory lock that serialises schema creation across replicas.
_SCHEMA_LOCK_ID = 7_420_117


class StoreError(Exception):
    """A request the store cannot honour (the base of every store error)."""


class NotFoundError(StoreError, LookupError):
    """The incident, proposal or ledger key does not exist."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def async_url(database_url: str) -> URL:
    """The SQLAlchemy async URL for a ``sqlite:///path`` or ``postgresql://...`` URL."""
    url = make_url(database_url)
    if url.drivername in ("sqlite", "sqlite+aiosqlite"):
        return url.set(drivername="sqlite+aiosqlite")
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return url.set(drivername="postgresql+psycopg")
    raise StoreError(
        f"unsupported database URL scheme {url.drivername!r}: use sqlite or postgresql"
    )


def _make_engine(database_url: str) -> AsyncEngine:
    url = async_url(database_url)
    if url.get_backend_name() == "postgresql":
        return create_async_engine(url, pool_pre_ping=True)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        raise StoreError("an in-memory SQLite database cannot be shared: give a file path")
    engine = create_async_engine(url, connect_args={"timeout": 30})

    # SQLite's default deferred transactions fail with "database is locked" when two writers
    # upgrade at once; taking the write lock at BEGIN makes concurrent writers queue instead.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


async def open_store(database_url: str, *, clock: Clock = _utcnow) -> Store:
    """Connect to the database and create the tables if they are missing.

    ``clock`` returns the current time (aware, UTC); tests pass a controllable one.
    """
    engine = _make_engine(database_url)
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK_ID})"))
        await conn.run_sync(t.metadata.create_all)
        head = await conn.execute(select(t.audit_head.c.id).where(t.audit_head.c.id == 1))
        if head.first() is None:
            await conn.execute(insert(t.audit_head).values(id=1, seq=0, hash=GENESIS_HASH))
    return Store(engine, clock)


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _model_dict(row: Row[Any]) -> dict[str, Any]:
    return dict(row._mapping)


class Store:
    """Incidents, proposals, approvals, the execution ledger and the audit chain.

    Build it with ``open_store``; every method is one transaction.
    """

    def __init__(self, engine: AsyncEngine, clock: Clock = _utcnow) -> None:
        self.engine = engine
        self._clock = clock

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    def now(self) -> datetime:
        """The store's current time (UTC)."""
        return self._clock()

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    # ---- incidents -------------------------------------------------------------------------

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
    ) -> Incident:
        """Open an incident (audited as ``incident_opened``)."""
        now = self._clock()
        incident = Incident(
            id=incident_id or _new_id("inc"),
            target=target,
            trigger=to_json_value(dict(trigger)),
            status=status,
            runbook=runbook,
            thread_ref=thread_ref,
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
                {"target": target, "trigger": incident.trigger, "runbook": runbook},
            )
        return incident

    async def get_incident(self, incident_id: str) -> Incident | None:
        """The incident, or None."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(t.incidents).where(t.incidents.c.id == incident_id))
            ).first()
        return Incident.model_validate(_model_dict(row)) if row else None

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
        async with self.engine.begin() as conn:
            before = (
                await conn.execute(
                    select(t.incidents.c.status)
                    .where(t.incidents.c.id == incident_id)
                    .with_for_update()
                )
            ).first()
            if before is None:
                raise NotFoundError(f"no incident {incident_id!r}")
            await conn.execute(
                update(t.incidents).where(t.incidents.c.id == incident_id).values(**values)
            )
            row = (
                await conn.execute(select(t.incidents).where(t.incidents.c.id == incident_id))
            ).one()
            incident = Incident.model_validate(_model_dict(row))
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
            query = query.where(t.incidents.c.status.not_in(["resolved", "closed", "escalated"]))
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return Incident.model_validate(_model_dict(row)) if row else None

    async def list_incidents(
        self, *, status: IncidentStatus | None = None, limit: int = 100
    ) -> list[Incident]:
        """Incidents, newest first."""
        query = select(t.incidents).order_by(t.incidents.c.created_at.desc()).limit(limit)
        if status is not None:
            query = query.where(t.incidents.c.status == status)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Incident.model_validate(_model_dict(r)) for r in rows]

    # ---- proposals and approvals -----------------------------------------------------------

    async def create_proposal(
        self,
        incident_id: str,
        *,
        action: str,
        tool: str,
        params: Mapping[str, Any],
        dry_run: Mapping[str, Any],
        risk: Risk,
        ttl_s: float,
        idempotency_key: str | None = None,
        actor: str = "bot",
    ) -> Proposal:
        """Record a pending proposal (audited as ``proposal``) that expires after ``ttl_s``.

        Idempotent: a second call with the same ``idempotency_key`` (by default derived from the
        incident, the tool and the parameters) returns the first proposal unchanged, so a graph
        node that re-runs on resume does not propose twice.
        """
        plain_params = to_json_value(dict(params))
        key = idempotency_key or default_idempotency_key(incident_id, tool, plain_params)
        existing = await self._proposal_by_key(key)
        if existing is not None:
            return existing
        now = self._clock()
        proposal = Proposal(
            id=_new_id("prop"),
            incident_id=incident_id,
            action=action,
            tool=tool,
            params=plain_params,
            dry_run=to_json_value(dict(dry_run)),
            risk=risk,
            idempotency_key=key,
            status="pending",
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
        )
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(t.proposals).values(**proposal.model_dump()))
                await self._append(
                    conn,
                    incident_id,
                    "proposal",
                    actor,
                    proposal.model_dump(mode="json", exclude={"created_at", "incident_id"}),
                )
        except IntegrityError:
            # Lost a race with another replica proposing the same thing: theirs stands.
            existing = await self._proposal_by_key(key)
            if existing is None:
                raise
            return existing
        return proposal

    async def _proposal_by_key(self, key: str) -> Proposal | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(t.proposals).where(t.proposals.c.idempotency_key == key))
            ).first()
        return Proposal.model_validate(_model_dict(row)) if row else None

    async def get_proposal(self, proposal_id: str) -> Proposal | None:
        """The proposal, or None."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(t.proposals).where(t.proposals.c.id == proposal_id))
            ).first()
        return Proposal.model_validate(_model_dict(row)) if row else None

    async def list_proposals(
        self, *, incident_id: str | None = None, status: ProposalStatus | None = None
    ) -> list[Proposal]:
        """Proposals, oldest first."""
        query = select(t.proposals).order_by(t.proposals.c.created_at, t.proposals.c.id)
        if incident_id is not None:
            query = query.where(t.proposals.c.incident_id == incident_id)
        if status is not None:
            query = query.where(t.proposals.c.status == status)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Proposal.model_validate(_model_dict(r)) for r in rows]

    async def decide(
        self,
        proposal_id: str,
        decision: Decision,
        actor: str,
        source: str,
        *,
        approvers: Collection[str],
        channel: str | None = None,
        reason: str | None = None,
    ) -> DecideResult:
        """Record a human decision, or refuse it.

        Refused: an actor not in ``approvers`` (checked first, so outsiders learn nothing), an
        unknown proposal, a proposal already decided, or one past its expiry (which is then marked
        ``expired`` and audited as ``expiry``). Accepted decisions are audited as ``approval`` or
        ``rejection`` in the same transaction. At most one decision per proposal ever succeeds,
        even with concurrent clicks on several replicas.
        """
        if actor not in approvers:
            return DecideResult(
                accepted=False,
                refusal="unauthorised",
                message=f"{actor} is not allowed to approve changes",
            )
        now = self._clock()
        try:
            async with self.engine.begin() as conn:
                row = (
                    await conn.execute(
                        select(t.proposals).where(t.proposals.c.id == proposal_id).with_for_update()
                    )
                ).first()
                if row is None:
                    return DecideResult(
                        accepted=False, refusal="not_found", message=f"no proposal {proposal_id}"
                    )
                proposal = Proposal.model_validate(_model_dict(row))
                if proposal.status == "expired":
                    return DecideResult(
                        accepted=False,
                        refusal="expired",
                        message=f"proposal {proposal_id} expired at {proposal.expires_at}",
                        proposal=proposal,
                    )
                if proposal.status != "pending":
                    return DecideResult(
                        accepted=False,
                        refusal="already_decided",
                        message=f"proposal {proposal_id} is already {proposal.status}",
                        proposal=proposal,
                    )
                if now >= proposal.expires_at:
                    proposal = await self._expire(conn, proposal, actor=actor)
                    return DecideResult(
                        accepted=False,
                        refusal="expired",
                        message=f"proposal {proposal_id} expired at {proposal.expires_at}",
                        proposal=proposal,
                    )
                approval = Approval(
                    proposal_id=proposal_id,
                    decision=decision,
                    actor=actor,
                    at=now,
                    source=source,
                    channel=channel,
                    reason=reason,
                )
                await conn.execute(insert(t.approvals).values(**approval.model_dump()))
                await conn.execute(
                    update(t.proposals)
                    .where(t.proposals.c.id == proposal_id)
                    .values(status=decision)
                )
                proposal = proposal.model_copy(update={"status": decision})
                await self._append(
                    conn,
                    proposal.incident_id,
                    "approval" if decision == "approved" else "rejection",
                    actor,
                    {
                        "proposal_id": proposal_id,
                        "tool": proposal.tool,
                        "params": proposal.params,
                        "idempotency_key": proposal.idempotency_key,
                        "source": source,
                        "channel": channel,
                        "reason": reason,
                    },
                )
        except IntegrityError:
            # The approvals primary key refused a second decision that raced past the row lock.
            return DecideResult(
                accepted=False,
                refusal="already_decided",
                message=f"proposal {proposal_id} was decided concurrently",
                proposal=await self.get_proposal(proposal_id),
            )
        return DecideResult(
            accepted=True,
            message=f"{decision} by {actor}",
            proposal=proposal,
            approval=approval,
        )

    async def _expire(self, conn: AsyncConnection, proposal: Proposal, *, actor: str) -> Proposal:
        await conn.execute(
            update(t.proposals).where(t.proposals.c.id == proposal.id).values(status="expired")
        )
        await self._append(
            conn,
            proposal.incident_id,
            "expiry",
            actor,
            {
                "proposal_id": proposal.id,
                "tool": proposal.tool,
                "expires_at": proposal.expires_at.isoformat(),
            },
        )
        return proposal.model_copy(update={"status": "expired"})

    async def expire(self, proposal_id: str, *, actor: str = "bot") -> Proposal:
        """Mark one pending proposal ``expired`` (audited as ``expiry``) if its time is up.

        Returns the proposal as it now stands: a proposal not yet due, or already decided, is
        returned unchanged, so an early or forged "expire" cannot cancel a live proposal.
        """
        now = self._clock()
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    select(t.proposals).where(t.proposals.c.id == proposal_id).with_for_update()
                )
            ).first()
            if row is None:
                raise NotFoundError(f"no proposal {proposal_id!r}")
            proposal = Proposal.model_validate(_model_dict(row))
            if proposal.status != "pending" or now < proposal.expires_at:
                return proposal
            return await self._expire(conn, proposal, actor=actor)

    async def expire_due_proposals(self) -> list[Proposal]:
        """Mark every pending proposal past its expiry as ``expired`` (audited); return them."""
        now = self._clock()
        expired: list[Proposal] = []
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(t.proposals)
                    .where(t.proposals.c.status == "pending", t.proposals.c.expires_at <= now)
                    .order_by(t.proposals.c.expires_at)
                    .with_for_update()
                )
            ).all()
            for row in rows:
                proposal = Proposal.model_validate(_model_dict(row))
                expired.append(await self._expire(conn, proposal, actor="bot"))
        return expired

    async def get_approval(self, proposal_id: str) -> Approval | None:
        """The decision on a proposal, or None while it is undecided."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(t.approvals).where(t.approvals.c.proposal_id == proposal_id)
                )
            ).first()
        return Approval.model_validate(_model_dict(row)) if row else None

    async def list_approvals(self, *, incident_id: str | None = None) -> list[Approval]:
        """Decisions, oldest first."""
        query = select(t.approvals).order_by(t.approvals.c.at)
        if incident_id is not None:
            query = query.join(t.proposals, t.proposals.c.id == t.approvals.c.proposal_id).where(
                t.proposals.c.incident_id == incident_id
            )
            query = query.with_only_columns(*t.approvals.c)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Approval.model_validate(_model_dict(r)) for r in rows]

    # ---- execution ledger ------------------------------------------------------------------

    async def ledger_begin(
        self,
        idempotency_key: str,
        *,
        tool: str,
        params: Mapping[str, Any],
        proposal_id: str | None = None,
        retry_failed: bool = False,
        stale_after_s: float | None = None,
        actor: str = "bot",
    ) -> LedgerEntry:
        """Claim the right to run a side effect once.

        Inserts a ``started`` row and returns it with ``claimed=True``: the caller runs the effect
        and then calls ``ledger_finish``. If the key exists, returns the existing row with
        ``claimed=False`` (``state`` says whether it already succeeded), except that a ``failed``
        row (when ``retry_failed``) or a ``started`` row older than ``stale_after_s`` (a crashed
        executor) is taken over atomically. Of any number of concurrent callers exactly one wins.
        """
        now = self._clock()
        entry = LedgerEntry(
            idempotency_key=idempotency_key,
            proposal_id=proposal_id,
            tool=tool,
            params=to_json_value(dict(params)),
            state="started",
            started_at=now,
        )
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(t.ledger).values(**entry.model_dump(exclude={"claimed"})))
                await self._append_execution_started(conn, entry, actor, retry=False)
            return entry.model_copy(update={"claimed": True})
        except IntegrityError:
            pass
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    select(t.ledger)
                    .where(t.ledger.c.idempotency_key == idempotency_key)
                    .with_for_update()
                )
            ).one()
            existing = LedgerEntry.model_validate(_model_dict(row))
            stale = (
                existing.state == "started"
                and stale_after_s is not None
                and now - existing.started_at >= timedelta(seconds=stale_after_s)
            )
            if not (stale or (retry_failed and existing.state == "failed")):
                return existing
            await conn.execute(
                update(t.ledger)
                .where(t.ledger.c.idempotency_key == idempotency_key)
                .values(state="started", started_at=now, finished_at=None, result=None)
            )
            taken = existing.model_copy(
                update={"state": "started", "started_at": now, "finished_at": None, "result": None}
            )
            await self._append_execution_started(conn, taken, actor, retry=True)
            return taken.model_copy(update={"claimed": True})

    async def _append_execution_started(
        self, conn: AsyncConnection, entry: LedgerEntry, actor: str, *, retry: bool
    ) -> None:
        await self._append(
            conn,
            await self._incident_of(conn, entry.proposal_id),
            "execution_started",
            actor,
            {
                "idempotency_key": entry.idempotency_key,
                "proposal_id": entry.proposal_id,
                "tool": entry.tool,
                "params": entry.params,
                "retry": retry,
            },
        )

    async def ledger_finish(
        self,
        idempotency_key: str,
        state: LedgerState,
        result: Mapping[str, Any] | None = None,
        *,
        actor: str = "bot",
    ) -> LedgerEntry:
        """Record how a claimed side effect ended (audited as ``execution_finished``).

        ``state`` is ``succeeded`` or ``failed``; the proposal, if any, becomes ``executed`` or
        ``failed``.
        """
        if state == "started":
            raise StoreError("ledger_finish needs state 'succeeded' or 'failed'")
        now = self._clock()
        plain_result = to_json_value(dict(result or {}))
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    select(t.ledger)
                    .where(t.ledger.c.idempotency_key == idempotency_key)
                    .with_for_update()
                )
            ).first()
            if row is None:
                raise NotFoundError(f"no ledger entry {idempotency_key!r}")
            entry = LedgerEntry.model_validate(_model_dict(row))
            if entry.state != "started":
                raise StoreError(f"ledger entry {idempotency_key!r} is already {entry.state}")
            await conn.execute(
                update(t.ledger)
                .where(t.ledger.c.idempotency_key == idempotency_key)
                .values(state=state, finished_at=now, result=plain_result)
            )
            if entry.proposal_id is not None:
                await conn.execute(
                    update(t.proposals)
                    .where(t.proposals.c.id == entry.proposal_id)
                    .values(status="executed" if state == "succeeded" else "failed")
                )
            finished = entry.model_copy(
                update={"state": state, "finished_at": now, "result": plain_result}
            )
            await self._append(
                conn,
                await self._incident_of(conn, entry.proposal_id),
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
        return finished

    async def get_ledger(self, idempotency_key: str) -> LedgerEntry | None:
        """The ledger entry for a key, or None."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(t.ledger).where(t.ledger.c.idempotency_key == idempotency_key)
                )
            ).first()
        return LedgerEntry.model_validate(_model_dict(row)) if row else None

    async def list_ledger(self, *, proposal_id: str | None = None) -> list[LedgerEntry]:
        """Ledger entries, oldest first."""
        query = select(t.ledger).order_by(t.ledger.c.started_at)
        if proposal_id is not None:
            query = query.where(t.ledger.c.proposal_id == proposal_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [LedgerEntry.model_validate(_model_dict(r)) for r in rows]

    async def _incident_of(self, conn: AsyncConnection, proposal_id: str | None) -> str | None:
        if proposal_id is None:
            return None
        row = (
            await conn.execute(
                select(t.proposals.c.incident_id).where(t.proposals.c.id == proposal_id)
            )
        ).first()
        return cast(str, row.incident_id) if row else None

    # ---- audit chain -----------------------------------------------------------------------

    async def append_audit(
        self, incident_id: str | None, kind: AuditKind, actor: str, payload: Mapping[str, Any]
    ) -> AuditEntry:
        """Append one entry to the hash chain in its own transaction (see ``bot.audit.append``)."""
        async with self.engine.begin() as conn:
            return await self._append(conn, incident_id, kind, actor, payload)

    async def _append(
        self,
        conn: AsyncConnection,
        incident_id: str | None,
        kind: AuditKind,
        actor: str,
        payload: Mapping[str, Any],
    ) -> AuditEntry:
        # The head row lock (PostgreSQL) or the write transaction (SQLite) makes appenders take
        # turns: each reads the true last hash, so two replicas can never fork the chain.
        head = (
            await conn.execute(select(t.audit_head).where(t.audit_head.c.id == 1).with_for_update())
        ).one()
        clean = scrub(to_json_value(dict(payload)))
        seq = int(head.seq) + 1
        at = self._clock()
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
        )
        await conn.execute(insert(t.audit).values(**entry.model_dump()))
        await conn.execute(
            update(t.audit_head).where(t.audit_head.c.id == 1).values(seq=seq, hash=digest)
        )
        return entry

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
            rows = (await conn.execute(query)).all()
        return [AuditEntry.model_validate(_model_dict(r)) for r in rows]

    async def read_audit_chain(self) -> tuple[list[AuditRow], AuditHead]:
        """Every audit row as stored and the chain head, read in one snapshot (for verify)."""
        async with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                # Both reads must see the same commit point, or a concurrent append looks like
                # tampering.
                conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                head = (
                    await conn.execute(select(t.audit_head).where(t.audit_head.c.id == 1))
                ).one()
                rows = (await conn.execute(select(t.audit).order_by(t.audit.c.seq))).all()
        return (
            [AuditRow.model_validate(_model_dict(r)) for r in rows],
            AuditHead(seq=head.seq, hash=head.hash),
        )


def default_idempotency_key(incident_id: str, tool: str, params: Mapping[str, Any]) -> str:
    """The key of "this tool with these parameters for this incident": stable across re-runs."""
    digest = hashlib.sha256(canonical_json(to_json_value(dict(params))).encode()).hexdigest()
    return f"{incident_id}:{tool}:{digest[:16]}"
