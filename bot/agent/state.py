"""The graph's state: plain JSON data, so the checkpointer can persist it and a resumed process can
pick up exactly where the last one stopped."""

from __future__ import annotations

from typing import Any, TypedDict


class CausePlan(TypedDict):
    """The remedies of one cause diagnosis, tried in order."""

    diagnosis: str
    options: list[str]
    index: int
    outcome: str | None  # resolved | advice | escalated | not_recovered | exhausted


class IncidentState(TypedDict, total=False):
    incident_id: str
    trigger: dict[str, Any]
    target: str
    target_kind: str
    runbook: str | None
    cursor: str | None
    facts: dict[str, Any]
    steps: list[dict[str, Any]]
    diagnoses: list[dict[str, Any]]
    plans: list[CausePlan]
    pending: dict[str, Any] | None  # the proposal waiting for a decision
    decision: dict[str, Any] | None  # the raw answer to the pending proposal (untrusted)
    actions: list[dict[str, Any]]
    advice: list[str]
    escalation: dict[str, str] | None
    tool_cache: dict[str, dict[str, Any]]
    proposals_made: int
    final_state: str | None
    summary: str
