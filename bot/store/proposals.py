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
from bot.domain import Proposal, ProposalStatus, Risk
from bot.store import tables as t
from bot.store.chain import AuditChain
from bot.store.engine import NotFoundError, StoreError, new_id
from bot.store.models import Approval, ApprovalVote, DecideResult, Decision, Refusal
from bot.store.rows import fetch_all, fetch_one


def default_idempotency_key(incident_id: str, tool: str, params: Mapping[str, Any]) -> str:
    """The key of "this tool with these parameters for this incident": stable across re-runs."""
    digest = hashlib.sha256(canonical_json(to_json_value(dict(params))).encode()).hexdigest()
    return f"{incident_id}:{tool}:{digest[:16]}"


def _refused(code: Refusal, message: str, proposal: Proposal | None = None) -> DecideResult:
    return DecideResult(outcome="refused", refusal=code, message=message, proposal=proposal)


def _closed_refusal(proposal: Proposal) -> DecideResult | None:
    """Why a vote on this proposal is refused whatever the actor, or None if it is open."""
    if proposal.status == "expired":
        return _refused(
            "expired", f"proposal {proposal.proposal_id} expired at {proposal.expires_at}", proposal
        )
    if proposal.status != "pending":
        return _refused(
            "already_decided",
            f"proposal {proposal.proposal_id} is already {proposal.status}",
            proposal,
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
            proposal_id=new_id("prop"),
            incident_id=incident_id,
            title=action,
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
                await conn.execute(insert(t.proposals).values(**proposal.row()))
                recorded = proposal.row(mode="json")
                del recorded["created_at"], recorded["incident_id"]
                await self._append(conn, incident_id, "proposal", actor, recorded)
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
        required: int = 1,
        excluded: Collection[str] = (),
        channel: str | None = None,
        reason: str | None = None,
    ) -> DecideResult:
        """Count one approver's vote, or refuse it.

        The caller's approval policy says who may decide (``approvers``), who may not decide this
        proposal although an approver (``excluded``: the incident's requester for a high-risk
        change) and how many distinct approvers must approve (``required``). Refused, with
        nothing recorded: an actor not in ``approvers`` (checked first, so outsiders learn
        nothing) or in ``excluded``, an unknown proposal, one already decided, one past its expiry
        (then marked ``expired`` and audited as ``expiry``), a second vote by the same approver.
        A counted vote is stored and audited (``approval`` / ``rejection``) in the transaction
        that locks the proposal row: one reject rejects; approvals settle the proposal when
        ``required`` distinct approvers have approved, and until then the result is ``waiting``.
        However many clicks race on however many replicas, the proposal is settled once.
        """
        if actor not in approvers:
            return _refused("unauthorised", f"{actor} is not allowed to approve changes")
        if actor in excluded:
            return _refused(
                "excluded", f"{actor} may not decide proposal {proposal_id}: another approver must"
            )
        if required < 1:
            raise StoreError(f"a decision needs at least one approver, not {required}")
        vote = ApprovalVote(
            proposal_id=proposal_id,
            actor=actor,
            decision=decision,
            at=self._clock(),
            source=source,
            channel=channel,
            reason=reason,
        )
        try:
            async with self.engine.begin() as conn:
                return await self._count_vote(conn, vote, required, frozenset(excluded))
        except IntegrityError:
            # A primary key (one vote per approver, one final decision per proposal) refused a
            # row that raced past the proposal lock.
            return _refused(
                "already_decided",
                f"proposal {proposal_id} was decided concurrently",
                proposal=await self.get_proposal(proposal_id),
            )

    async def _count_vote(
        self, conn: AsyncConnection, vote: ApprovalVote, required: int, excluded: frozenset[str]
    ) -> DecideResult:
        """Check and record ``vote`` with the proposal row locked, in ``conn``'s transaction."""
        proposal = await self._lock_proposal(conn, vote.proposal_id)
        if proposal is None:
            return _refused("not_found", f"no proposal {vote.proposal_id}")
        refused = _closed_refusal(proposal)
        if refused is not None:
            return refused
        if vote.at >= proposal.expires_at:
            proposal = await self._expire(conn, proposal, actor=vote.actor)
            return _refused(
                "expired",
                f"proposal {proposal.proposal_id} expired at {proposal.expires_at}",
                proposal,
            )
        votes = await self._votes(conn, proposal.proposal_id)
        if any(v.actor == vote.actor for v in votes):
            return _refused(
                "already_voted",
                f"{vote.actor} already voted on proposal {proposal.proposal_id}: another approver "
                "must",
                proposal,
            )
        await conn.execute(insert(t.approval_votes).values(**vote.model_dump()))
        approving = sorted(
            {
                v.actor
                for v in [*votes, vote]
                if v.decision == "approved" and v.actor not in excluded
            }
        )
        if vote.decision == "approved" and len(approving) < required:
            await self._audit_vote(conn, proposal, vote, approving, required)
            return DecideResult(
                outcome="waiting",
                message=f"approved by {vote.actor}: {len(approving)} of {required} approvals, "
                "waiting for another approver",
                proposal=proposal,
                approvals=len(approving),
                required=required,
            )
        return await self._settle(conn, proposal, vote, approving, required)

    async def _settle(
        self,
        conn: AsyncConnection,
        proposal: Proposal,
        vote: ApprovalVote,
        approving: list[str],
        required: int,
    ) -> DecideResult:
        """Move the proposal to the vote's decision and record the final ``approvals`` row."""
        approval = Approval(**vote.model_dump())
        await conn.execute(insert(t.approvals).values(**approval.model_dump()))
        await conn.execute(
            update(t.proposals)
            .where(t.proposals.c.id == proposal.proposal_id)
            .values(status=vote.decision)
        )
        settled = proposal.model_copy(update={"status": vote.decision})
        await self._audit_vote(conn, settled, vote, approving, required)
        by = vote.actor if vote.decision == "rejected" else " and ".join(approving)
        return DecideResult(
            outcome="accepted",
            message=f"{vote.decision} by {by}",
            proposal=settled,
            approval=approval,
            approvals=len(approving),
            required=required,
        )

    async def _audit_vote(
        self,
        conn: AsyncConnection,
        proposal: Proposal,
        vote: ApprovalVote,
        approving: list[str],
        required: int,
    ) -> None:
        """One audit row per counted vote; ``status`` says whether it settled the proposal."""
        await self._append(
            conn,
            proposal.incident_id,
            "approval" if vote.decision == "approved" else "rejection",
            vote.actor,
            {
                "proposal_id": proposal.proposal_id,
                "tool": proposal.tool,
                "params": proposal.params,
                "idempotency_key": proposal.idempotency_key,
                "source": vote.source,
                "channel": vote.channel,
                "reason": vote.reason,
                "status": proposal.status,
                "approvers": approving,
                "required": required,
            },
        )

    async def _votes(self, conn: AsyncConnection, proposal_id: str) -> list[ApprovalVote]:
        query = (
            select(t.approval_votes)
            .where(t.approval_votes.c.proposal_id == proposal_id)
            .order_by(t.approval_votes.c.at)
        )
        return await fetch_all(conn, query, ApprovalVote)

    async def list_votes(self, proposal_id: str) -> list[ApprovalVote]:
        """Every counted vote on a proposal, oldest first."""
        async with self.engine.connect() as conn:
            return await self._votes(conn, proposal_id)

    async def _lock_proposal(self, conn: AsyncConnection, proposal_id: str) -> Proposal | None:
        return await fetch_one(
            conn,
            select(t.proposals).where(t.proposals.c.id == proposal_id).with_for_update(),
            Proposal,
        )

    async def _expire(self, conn: AsyncConnection, proposal: Proposal, *, actor: str) -> Proposal:
        await conn.execute(
            update(t.proposals)
            .where(t.proposals.c.id == proposal.proposal_id)
            .values(status="expired")
        )
        await self._append(
            conn,
            proposal.incident_id,
            "expiry",
            actor,
            {
                "proposal_id": proposal.proposal_id,
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
