"""The records the bot keeps: incidents, proposals, approvals, the execution ledger, the audit log.

These are the only types that cross the store's boundary; callers never see rows or SQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

# The one vocabulary (bot/domain.py), re-exported with the store's own records.
from bot.domain import Decision as Decision
from bot.domain import Proposal as Proposal
from bot.domain import ProposalStatus as ProposalStatus
from bot.domain import Risk as Risk

IncidentStatus = Literal[
    "open",  # opened from an alert or a command, nothing run yet
    "diagnosing",  # the runbook agent is running read-only checks
    "awaiting_approval",  # a change was proposed and waits for a human
    "executing",  # an approved change is being applied
    "verifying",  # the change was applied; checking the symptom went away
    "resolved",
    "escalated",  # handed to a person: no runbook branch fits, or a change failed
    "closed",
]
LedgerState = Literal["started", "succeeded", "failed"]
AuditKind = Literal[
    "tool_call",
    "llm_call",
    "proposal",
    "approval",
    "rejection",
    "expiry",
    "execution_started",
    "execution_finished",
    "verification",
    "diagnosis",
    "escalation",
    "incident_opened",
    "incident_closed",
    "tamper_detected",  # a row disagrees with the signed chain; what it asked for did not run
]
Refusal = Literal[
    "unauthorised",  # not an approver for this change
    "excluded",  # an approver, but not for this one (the incident's requester, high risk)
    "already_voted",  # this approver's vote on the proposal is already counted
    "not_found",
    "already_decided",
    "expired",
]
DecideOutcome = Literal["accepted", "waiting", "refused"]


class Incident(BaseModel):
    """One incident: what fired, which runbook handles it, where it is discussed, how it ended."""

    id: str
    target: str
    trigger: dict[str, Any] = Field(default_factory=dict)
    status: IncidentStatus = "open"
    runbook: str | None = None
    thread_ref: str | None = Field(None, description="where it is discussed, e.g. 'C123:1712.000'")
    final_state: dict[str, Any] | None = None
    requested_by: str | None = Field(
        None, description="who opened it: a CLI user, a Slack user id, 'alertmanager'"
    )
    created_at: datetime
    updated_at: datetime


class Approval(BaseModel):
    """The one final human decision on a proposal (made by the vote that settled it)."""

    proposal_id: str
    decision: Decision
    actor: str
    at: datetime
    source: str = Field(description="where the decision was made: 'slack', 'cli', ...")
    channel: str | None = None
    reason: str | None = None


class ApprovalVote(BaseModel):
    """One approver's vote on a proposal; enough distinct approving votes approve it."""

    proposal_id: str
    actor: str
    decision: Decision
    at: datetime
    source: str
    channel: str | None = None
    reason: str | None = None


class DecideResult(BaseModel):
    """What ``Store.decide`` did with one vote.

    ``accepted``: the vote settled the proposal (approved or rejected; ``approval`` says how).
    ``waiting``: the vote is recorded but more distinct approvers are needed (``approvals`` of
    ``required`` so far). ``refused``: nothing recorded; ``refusal`` says why.
    """

    outcome: DecideOutcome
    refusal: Refusal | None = None
    message: str
    proposal: Proposal | None = None
    approval: Approval | None = None
    approvals: int = Field(0, description="distinct approving votes counted so far")
    required: int = Field(1, description="distinct approving votes needed")

    @property
    def accepted(self) -> bool:
        """True only when the proposal is now decided by this vote (safe to act on)."""
        return self.outcome == "accepted"


class LedgerEntry(BaseModel):
    """One side effect, keyed by its idempotency key: started, then succeeded or failed."""

    idempotency_key: str
    proposal_id: str | None = None
    tool: str
    params: dict[str, Any] = Field(default_factory=dict)
    state: LedgerState
    started_at: datetime
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None
    owner: str | None = Field(None, description="the token of the executor that claimed it")
    lease_expires_at: datetime | None = Field(
        None, description="while ahead, the owner is alive and the row is not taken over"
    )
    claimed: bool = Field(
        False,
        description="True when this ledger_begin call won the key and must run the side effect; "
        "not stored",
    )


class AuditEntry(BaseModel):
    """One link of the hash chain. ``payload`` is already scrubbed of secrets."""

    seq: int
    incident_id: str | None = None
    at: datetime
    kind: AuditKind
    actor: str
    payload: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str
    signature: str | None = Field(
        None, description="HMAC of ``hash`` with the audit key (see bot.audit.signing), if any"
    )


class AuditRow(BaseModel):
    """An audit row exactly as stored, loosely typed so that a tampered row can still be read."""

    seq: int
    incident_id: str | None = None
    at: datetime
    kind: str
    actor: str
    payload: Any = None
    prev_hash: str
    hash: str


class AuditHead(BaseModel):
    """The newest link of the chain as recorded in the chain-head row."""

    seq: int
    hash: str
