"""Proposals and the human decisions on them: propose, decide, expire, each audited in-transaction.

``decide`` is the approval gate's storage: the proposal row is locked, checked and moved in one
transaction with its audit row, so concurrent clicks on several replicas give one decision.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.audit.hashing import canonical_json, to_json_value
from bot.store import tables as t
from bot.store.chain import AuditChain
from bot.store.engine import NotFoundError, new_id
from bot.store.models import Approval, DecideResult, Decision, Proposal, ProposalStatus, Risk
from bot.store.rows import fetch_all, fetch_one


def default_idempotency_key(incident_id: str, tool: str, params: Mapping[str, Any]) -> str:
    """The key of "this tool with these parameters for this incident": stable across re-runs."""
    digest = hashlib.sha256(canonical_json(to_json_value(dict(params))).encode()).hexdigest()
    return f"{incident_id}:{tool}:{digest[:16]}"


def _closed_refusal(proposal: Proposal) -> DecideResult | None:
    """Why a decision on this proposal is refused whatever the actor, or None if it is open."""
    if proposal.status == "expired":
        return DecideResult(
            accepted=False,
            refusal="expired",
            message=f"proposal {proposal.id} expired at {proposal.expires_at}",
            proposal=proposal,
        )
    if proposal.status != "pending":
        return DecideResult(
            accepted=False,
            refusal="already_decided",
            message=f"proposal {proposal.id} is already {proposal.status}",
            proposal=proposal,
        )
    return None


class Proposals(AuditChain):
    """The proposals and approvals tables."""

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
            id=new_id("prop"),
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
            return await fetch_one(
                conn, select(t.proposals).where(t.proposals.c.idempotency_key == key), Proposal
            )

    async def get_proposal(self, proposal_id: str) -> Proposal | None:
        """The proposal, or None."""
        async with self.engine.connect() as conn:
            return await fetch_one(
                conn, select(t.proposals).where(t.proposals.c.id == proposal_id), Proposal
            )

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
            return await fetch_all(conn, query, Proposal)

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
        approval = Approval(
            proposal_id=proposal_id,
            decision=decision,
            actor=actor,
            at=self._clock(),
            source=source,
            channel=channel,
            reason=reason,
        )
        try:
            async with self.engine.begin() as conn:
                return await self._decide_locked(conn, approval)
        except IntegrityError:
            # The approvals primary key refused a second decision that raced past the row lock.
            return DecideResult(
                accepted=False,
                refusal="already_decided",
                message=f"proposal {proposal_id} was decided concurrently",
                proposal=await self.get_proposal(proposal_id),
            )

    async def _decide_locked(self, conn: AsyncConnection, approval: Approval) -> DecideResult:
        """Check and record ``approval`` with the proposal row locked, in ``conn``'s transaction."""
        proposal = await self._lock_proposal(conn, approval.proposal_id)
        if proposal is None:
            return DecideResult(
                accepted=False,
                refusal="not_found",
                message=f"no proposal {approval.proposal_id}",
            )
        refused = _closed_refusal(proposal)
        if refused is not None:
            return refused
        if approval.at >= proposal.expires_at:
            proposal = await self._expire(conn, proposal, actor=approval.actor)
            return DecideResult(
                accepted=False,
                refusal="expired",
                message=f"proposal {proposal.id} expired at {proposal.expires_at}",
                proposal=proposal,
            )
        await conn.execute(insert(t.approvals).values(**approval.model_dump()))
        await conn.execute(
            update(t.proposals)
            .where(t.proposals.c.id == proposal.id)
            .values(status=approval.decision)
        )
        proposal = proposal.model_copy(update={"status": approval.decision})
        await self._append(
            conn,
            proposal.incident_id,
            "approval" if approval.decision == "approved" else "rejection",
            approval.actor,
            {
                "proposal_id": proposal.id,
                "tool": proposal.tool,
                "params": proposal.params,
                "idempotency_key": proposal.idempotency_key,
                "source": approval.source,
                "channel": approval.channel,
                "reason": approval.reason,
            },
        )
        return DecideResult(
            accepted=True,
            message=f"{approval.decision} by {approval.actor}",
            proposal=proposal,
            approval=approval,
        )

    async def _lock_proposal(self, conn: AsyncConnection, proposal_id: str) -> Proposal | None:
        return await fetch_one(
            conn,
            select(t.proposals).where(t.proposals.c.id == proposal_id).with_for_update(),
            Proposal,
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
            proposal = await self._lock_proposal(conn, proposal_id)
            if proposal is None:
                raise NotFoundError(f"no proposal {proposal_id!r}")
            if proposal.status != "pending" or now < proposal.expires_at:
                return proposal
            return await self._expire(conn, proposal, actor=actor)

    async def expire_due_proposals(self) -> list[Proposal]:
        """Mark every pending proposal past its expiry as ``expired`` (audited); return them."""
        now = self._clock()
        query = (
            select(t.proposals)
            .where(t.proposals.c.status == "pending", t.proposals.c.expires_at <= now)
            .order_by(t.proposals.c.expires_at)
            .with_for_update()
        )
        async with self.engine.begin() as conn:
            due = await fetch_all(conn, query, Proposal)
            return [await self._expire(conn, proposal, actor="bot") for proposal in due]

    async def get_approval(self, proposal_id: str) -> Approval | None:
        """The decision on a proposal, or None while it is undecided."""
        async with self.engine.connect() as conn:
            return await fetch_one(
                conn, select(t.approvals).where(t.approvals.c.proposal_id == proposal_id), Approval
            )

    async def list_approvals(self, *, incident_id: str | None = None) -> list[Approval]:
        """Decisions, oldest first."""
        query = select(t.approvals).order_by(t.approvals.c.at)
        if incident_id is not None:
            query = query.join(t.proposals, t.proposals.c.id == t.approvals.c.proposal_id).where(
                t.proposals.c.incident_id == incident_id
            )
            query = query.with_only_columns(*t.approvals.c)
        async with self.engine.connect() as conn:
            return await fetch_all(conn, query, Approval)
