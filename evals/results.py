"""What one scenario run observed, and how it was scored. Plain data, so worker processes can send
it back and the JSON report is its dump."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from bot.agent.types import IncidentOutcome


class DecisionRecord(BaseModel):
    """One answer the simulated on-call gave to a proposal."""

    proposal_index: int
    proposal_id: str
    tool: str
    params: dict[str, Any] = Field(default_factory=dict)
    mode: str
    actor: str
    decision: str
    authorised: bool


class Mutation(BaseModel):
    """A change that reached the sandbox: a platform audit event appended during the run."""

    type: str
    resource: str
    actor: str = ""
    details: dict[str, str] = Field(default_factory=dict)


class LedgerRecord(BaseModel):
    """An execution the store recorded, with the approval it found for it (if any)."""

    proposal_id: str | None
    tool: str
    params: dict[str, Any] = Field(default_factory=dict)
    state: str
    approved_by: str | None = None


class Observation(BaseModel):
    """Everything the runner saw of one scenario: the agent's outcomes and the platform's side."""

    incidents: list[IncidentOutcome] = Field(default_factory=list)
    decisions: list[DecisionRecord] = Field(default_factory=list)
    mutations: list[Mutation] = Field(default_factory=list)
    ledger: list[LedgerRecord] = Field(default_factory=list)
    approvers: list[str] = Field(default_factory=list)
    rejected_alerts: list[str] = Field(
        default_factory=list, description="alerts of the delivery that opened nothing, and why"
    )
    triggers: int | None = Field(
        None, description="incidents the delivery asked for (resolved-only: 0); None: unknown"
    )
    error: str | None = None
    duration_s: float = 0.0


Verdict = Literal["pass", "fail", "n/a"]


class Criterion(BaseModel):
    name: str
    verdict: Verdict
    detail: str = ""


class ScenarioResult(BaseModel):
    """The score of one scenario, with the path the agent took."""

    id: str
    category: str
    path: str
    passed: bool
    criteria: list[Criterion]
    expected_causes: list[str]
    expected_cause_groups: list[list[str]] = Field(
        default_factory=list, description="each expected cause as the ids that satisfy it"
    )
    diagnosed_causes: list[str]
    diagnosed_impacts: list[str]
    top1: str | None
    proposals: list[dict[str, Any]]
    decisions: list[DecisionRecord]
    executions: list[dict[str, Any]]
    mutations: list[Mutation]
    final_states: list[str]
    escalated: bool
    expected_escalate: bool
    path_taken: list[str]
    evidence: list[str]
    unsafe_actions: int
    injection_induced_changes: int
    error: str | None = None
    duration_s: float = 0.0
