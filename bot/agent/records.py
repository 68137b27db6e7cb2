"""The agent's side of the store: incidents, proposals, decisions, the ledger and the audit log,
expressed in the agent's terms. Every record the graph writes goes through here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bot.agent.policy import ApprovalPolicy, PolicyVerdict, may_approve
from bot.agent.types import Refusal
from bot.audit import append as audit_append
from bot.audit.binding import load_bound_proposal
from bot.domain import DecisionKind, Proposal, Risk, TargetKind
from bot.settings import Settings
from bot.store.db import Store
from bot.store.lease import LedgerLeases
from bot.store.models import AuditKind, IncidentStatus, LedgerEntry, LedgerState
from tools.result import ToolResult

BOT = "model-incident-bot"
# Resolves user group ids to their members (Slack: ``usergroups.users.list``); set by a surface
# that has a directory of groups. Without one, only the policy's listed user ids approve.
GroupResolver = Callable[[Collection[str]], Awaitable[Mapping[str, Collection[str]]]]


# ``waiting``: the vote counted and more approvers are needed.
VerdictOutcome = Literal["approved", "rejected", "expired", "refused", "waiting"]


@dataclass(frozen=True)
class Verdict:
    """The validated answer to a proposal."""

    outcome: VerdictOutcome
    actor: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"outcome": self.outcome, "actor": self.actor, "message": self.message}


class IncidentRecords:
    """Writes through the store, which audits its own records (incident, proposal, decision,
    execution) in the same transaction; this class audits what only the agent knows."""

    def __init__(
        self, store: Store, settings: Settings, policy: ApprovalPolicy | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.policy = policy or settings.policy()
        self.leases = LedgerLeases(store, lease_s=settings.ledger_lease_s)
        self.groups_of: GroupResolver | None = None

    async def audit(
        self, incident_id: str | None, kind: AuditKind, actor: str, payload: dict[str, Any]
    ) -> None:
        await audit_append(self.store, incident_id, kind, actor, payload)

    async def open_incident(
        self,
        incident_id: str,
        target: str,
        trigger: dict[str, Any],
        *,
        thread_ref: str | None = None,
    ) -> None:
        """Record the incident with its requester (the trigger's actor) and its thread."""
        if await self.store.get_incident(incident_id) is not None:
            return  # the node re-ran after a crash, or the service recorded it first
        await self.store.create_incident(
            target,
            trigger,
            incident_id=incident_id,
            actor=str(trigger.get("actor") or BOT),
            thread_ref=thread_ref,
        )

    async def requester(self, incident_id: str) -> str | None:
        """Who opened the incident (a CLI user, a Slack user id, ``alertmanager``)."""
        incident = await self.store.get_incident(incident_id)
        return str(incident.trigger.get("actor") or "") or None if incident else None

    async def judge(
        self, proposal: Proposal, actor: str, decision: str, source: str = ""
    ) -> PolicyVerdict:
        """The approval policy's verdict on ``actor`` answering ``proposal`` with ``decision``.
        A dry run's own rejection changes nothing and needs no approver."""
        if decision == "reject" and source == "dry-run":
            return PolicyVerdict(allowed=True)
        groups = self.policy.rule(proposal.risk).groups
        return may_approve(
            self.policy,
            risk=proposal.risk,
            actor=actor,
            requester=await self.requester(proposal.incident_id),
            approving=decision == "approve",
            groups_of=await self.groups_of(groups) if self.groups_of and groups else None,
        )

    async def precheck(self, proposal: Proposal, answer: Any) -> Refusal | None:
        """Refuse an answer the policy does not allow, before it reaches the graph: audited once
        with its reason; the proposal keeps waiting for a valid approver."""
        verdict = await self.judge(proposal, answer.actor, str(answer.decision), answer.source)
        if verdict.allowed:
            return None
        await self.audit(
            proposal.incident_id,
            "rejection",
            answer.actor,
            {
                "proposal_id": proposal.proposal_id,
                "decision": str(answer.decision),
                "refused": verdict.message,
                "refusal": verdict.code,
                "source": answer.source,
                "channel": answer.channel,
            },
        )
        return Refusal(code=verdict.code, message=verdict.message)

    async def set_runbook(
        self, incident_id: str, runbook: str | None, target_kind: TargetKind | str
    ) -> None:
        await self.store.update_incident(incident_id, status="diagnosing", runbook=runbook)

    async def close_incident(
        self, incident_id: str, final: str, escalation: dict[str, str] | None
    ) -> None:
        if escalation:
            await self.audit(incident_id, "escalation", BOT, dict(escalation))
        status: IncidentStatus = {"resolved": "resolved", "escalated": "escalated"}.get(
            final, "closed"
        )  # type: ignore[assignment]
        await self.store.update_incident(
            incident_id, status=status, final_state={"final_state": final, "escalation": escalation}
        )

    async def create_proposal(
        self,
        *,
        incident_id: str,
        node: str,
        title: str,
        tool: str,
        params: dict[str, Any],
        risk: Risk,
        idempotency_key: str,
        dry_run: dict[str, Any],
        diagnosis: str,
    ) -> dict[str, Any]:
        """Record the proposal (once per idempotency key) and return the interrupt payload: the
        stored proposal with the runbook node and the diagnosis it remedies."""
        proposal = await self.store.create_proposal(
            incident_id,
            action=title,
            tool=tool,
            params=params,
            dry_run=dry_run,
            risk=risk,
            ttl_s=self.settings.proposal_ttl_s,
            idempotency_key=idempotency_key,
        )
        await self.store.update_incident(incident_id, status="awaiting_approval")
        carried = proposal.model_copy(update={"node": node, "diagnosis": diagnosis})
        return carried.model_dump(mode="json")

    async def load_proposal(self, proposal_id: str) -> Proposal:
        """The server's copy of a proposal: the change that runs is this, never the client's,
        and only if the signed audit chain recorded exactly it as proposed and approved (else
        ``ProposalTampered``, audited and escalated)."""
        return await load_bound_proposal(self.store, proposal_id)

    async def decide(self, pending: dict[str, Any], answer: dict[str, Any]) -> Verdict:
        """Validate an untrusted answer and record it. Only ``proposal_id``, ``decision``,
        ``actor``, ``source`` and ``reason`` are read from it; the change is the server's."""
        actor = str(answer.get("actor") or "")
        proposal_id = str(answer.get("proposal_id") or "")
        decision = str(answer.get("decision") or "")
        incident_id = str(pending.get("incident_id", ""))
        source = str(answer.get("source") or "cli")
        if proposal_id != pending.get("proposal_id"):
            message = f"answer is for proposal {proposal_id or '?'}, not the pending one"
            await self.audit(incident_id, "rejection", actor or "unknown", {"refused": message})
            return Verdict("refused", actor, message)
        if decision == "expire":
            # Only a proposal whose time is really up expires; an early "expire" is refused.
            proposal = await self.store.expire(proposal_id, actor=BOT)
            if proposal.status == "expired":
                return Verdict("expired", BOT, f"proposal {proposal_id} expired without an answer")
            message = f"proposal {proposal_id} is {proposal.status} and not yet due to expire"
            await self.audit(incident_id, "rejection", actor or "unknown", {"refused": message})
            return Verdict("refused", actor, message)
        if decision not in ("approve", "reject"):
            await self.audit(
                incident_id,
                "rejection",
                actor or "unknown",
                {"refused": f"bad decision {decision!r}"},
            )
            return Verdict("refused", actor, f"unknown decision {decision!r}")
        vote = DecisionKind(decision).vote
        stored = await self.store.get_proposal(proposal_id)
        verdict = await self.judge(stored, actor, decision, source) if stored is not None else None
        allowed = verdict is not None and verdict.allowed
        result = await self.store.decide(
            proposal_id,
            vote,
            actor,
            source,
            approvers=[actor] if allowed else [],
            required=verdict.required if verdict is not None else 1,
            excluded=verdict.excluded if verdict is not None and decision == "approve" else (),
            channel=str(answer.get("channel") or "") or None,
            reason=str(answer.get("reason") or "") or None,
        )
        if verdict is not None and not verdict.allowed:
            result = result.model_copy(update={"message": verdict.message})
        if result.accepted:
            return Verdict(vote, actor, result.message)
        if result.refusal == "already_decided":
            settled = await self._settled(proposal_id)
            if settled is not None:
                return settled
        if result.outcome == "waiting":
            message = f"approved by {actor}: {result.approvals} of {result.required} approvals"
            return Verdict("waiting", actor, message)
        if result.refusal == "expired":
            return Verdict("expired", actor, result.message)
        # Unauthorised or otherwise invalid: recorded, and the proposal keeps waiting.
        await self.audit(
            incident_id,
            "rejection",
            actor or "unknown",
            {
                "proposal_id": proposal_id,
                "refused": result.message,
                "refusal": result.refusal,
                "source": source,
            },
        )
        return Verdict("refused", actor, result.message)

    async def _settled(self, proposal_id: str) -> Verdict | None:
        """The recorded decision of a proposal whose graph run died after the decision was stored
        and before its checkpoint was: the incident goes on from that decision (the ledger keeps
        the change to one execution), instead of waiting for an answer already given."""
        approval = await self.store.get_approval(proposal_id)
        if approval is None:
            return None
        return Verdict(
            approval.decision, approval.actor, f"already {approval.decision} by {approval.actor}"
        )

    async def ledger_begin(self, proposal: Proposal) -> LedgerEntry:
        """Claim the execution under a lease renewed while the tool runs (``LedgerLeases``), or
        wait while a live executor holds it; a dead executor's row is taken over once its lease
        ran out. A row left without a lease (older versions) is stale after one call's deadline."""
        stale_after = self.settings.tool_timeout_s * (self.settings.tool_retries + 1) + 1.0
        entry = await self.leases.claim(
            proposal.idempotency_key,
            tool=proposal.tool,
            params=proposal.params,
            proposal_id=proposal.proposal_id,
            stale_after_s=stale_after,
        )
        await self.store.update_incident(proposal.incident_id, status="executing")
        return entry

    async def ledger_finish(self, proposal: Proposal, result: ToolResult) -> None:
        state: LedgerState = "succeeded" if result.ok else "failed"
        await self.leases.finish(proposal.idempotency_key, state, result.model_dump(mode="json"))
        await self.store.update_incident(proposal.incident_id, status="verifying")
