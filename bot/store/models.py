"""The records the bot keeps: incidents, proposals, approvals, the execution ledger, the audit log.

These are the only types that cross the store's boundary; callers never see rows or SQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

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
ProposalStatus = Literal["pending", "approved", "rejected", "expired", "executed", "failed"]
Risk = Literal["low", "medium", "high"]
Decision = Literal["approved", "rejected"]
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
]
Refusal = Literal["unauthorised", "not_found", "already_decided", "expired"]


class Incident(BaseModel):
    """One incident: what fired, which runbook handles it, where it is discussed, how it ended."""

    id: str
    target: str
    trigger: dict[str, Any] = Field(default_factory=dict)
    status: IncidentStatus = "open"
    runbook: str | None = None
    thread_ref: str | None = Field(None, description="where it is discussed, e.g. 'C123:1712.000'")
    final_state: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime


class Proposal(BaseModel):
    """A change the agent wants to make, with its dry-run diff, waiting for a human decision."""

    id: str
    incident_id: str
    action: str = Field(description="one line a human reads, e.g. 'Roll back fraud-model to v3'")
    tool: str
    params: dict[str, Any] = Field(default_factory=dict)
    dry_run: dict[str, Any] = Field(default_factory=dict, description="the dry run's evidence")
    risk: Risk = "medium"
    idempotency_key: str
    status: ProposalStatus = "pending"
    created_at: datetime
    expires_at: datetime


class Approval(BaseModel):
    """The one human decision on a proposal."""

    proposal_id: str
    decision: Decision
    actor: str
    at: datetime
    source: str = Field(description="where the decision was made: 'slack', 'cli', ...")
    channel: str | None = None
    reason: str | None = None


class DecideResult(BaseModel):
    """What ``Store.decide`` did: recorded the decision, or refused it and why."""

    accepted: bool
    refusal: Refusal | None = None
    message: str
    proposal: Proposal | None = None
    approval: Approval | None = None


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
