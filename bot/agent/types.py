"""Data that enters and leaves the agent: triggers, proposals, decisions, the incident outcome."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field


class Trigger(BaseModel):
    """What started an incident: a slash command, a CLI call or one firing Alertmanager alert.

    ``labels`` and ``annotations`` come from whoever wrote the alert rule: untrusted text.
    """

    source: Literal["command", "alert", "cli"] = "cli"
    target: str = Field(min_length=1, max_length=200)
    alertname: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    actor: str | None = None
    fingerprint: str | None = None


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Proposal(BaseModel):
    """A change the runbook calls for, waiting for a person; carried by the graph's interrupt."""

    proposal_id: str
    incident_id: str
    node: str
    title: str
    tool: str
    params: dict[str, Any]
    risk: Risk
    idempotency_key: str
    dry_run: dict[str, Any] = Field(default_factory=dict, description="the tool's dry-run evidence")
    diagnosis: str | None = None
    expires_at: float


class DecisionKind(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    EXPIRE = "expire"


class Decision(BaseModel):
    """A person's answer to a proposal. Only the proposal id is taken from the client; everything
    else about the change is read back from the server's own records."""

    proposal_id: str
    decision: DecisionKind
    actor: str
    source: str = "cli"
    reason: str = ""


class Refusal(BaseModel):
    """Why an answer to a proposal was not taken. It is audited once; the proposal keeps
    waiting for a valid answer."""

    code: str
    message: str


class Diagnosis(BaseModel):
    id: str
    role: Literal["cause", "impact"]
    title: str
    explanation: str
    runbook: str
    node: str


class Step(BaseModel):
    """One step of the walk, with the evidence that decided it."""

    node: str
    runbook: str
    kind: str
    title: str
    tool: str | None = None
    status: str | None = None
    summary: str = ""
    branch: str | None = None
    next: str | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)


class FinalState(StrEnum):
    RESOLVED = "resolved"
    NOT_RECOVERED = "not_recovered"
    ESCALATED = "escalated"
    ADVICE_GIVEN = "advice_given"  # the fix is a manual step for a person (no change to approve)
    NO_FAULT = "no_fault"


class ActionRecord(BaseModel):
    proposal_id: str
    tool: str
    params: dict[str, Any]
    decision: DecisionKind | None = None
    decided_by: str | None = None
    executed: bool = False
    execution_status: str | None = None
    verified: Literal["recovered", "not_recovered"] | None = None
    verification: str = ""


class IncidentOutcome(BaseModel):
    incident_id: str
    target: str
    target_kind: str
    runbook: str | None
    steps: list[Step] = Field(default_factory=list)
    diagnoses: list[Diagnosis] = Field(default_factory=list)
    actions: list[ActionRecord] = Field(default_factory=list)
    advice: list[str] = Field(default_factory=list)
    escalation: dict[str, str] | None = None
    final_state: FinalState
    summary: str = ""
