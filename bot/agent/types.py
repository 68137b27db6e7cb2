"""Data that enters and leaves the agent: triggers, refusals, steps, the incident outcome.

Proposals, decisions, risk levels and target kinds are the bot's one vocabulary in
``bot/domain.py``."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from bot.domain import DecisionKind, TargetKind


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
    target_kind: TargetKind
    runbook: str | None
    steps: list[Step] = Field(default_factory=list)
    diagnoses: list[Diagnosis] = Field(default_factory=list)
    actions: list[ActionRecord] = Field(default_factory=list)
    advice: list[str] = Field(default_factory=list)
    escalation: dict[str, str] | None = None
    final_state: FinalState
    summary: str = ""
