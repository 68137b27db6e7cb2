"""The incident outcome read from the graph's final state (plain JSON) into typed data."""

from __future__ import annotations

from typing import Any

from bot.agent.types import ActionRecord, Diagnosis, FinalState, IncidentOutcome, Step


def outcome_from_state(incident_id: str, state: dict[str, Any]) -> IncidentOutcome:
    """The outcome of a finished incident; an incident that ended without a final state (it
    should not) counts as escalated, never as resolved."""
    return IncidentOutcome(
        incident_id=incident_id,
        target=state.get("target", ""),
        target_kind=state.get("target_kind") or "unknown",
        runbook=state.get("runbook"),
        steps=[Step.model_validate(s) for s in state.get("steps", [])],
        diagnoses=[Diagnosis.model_validate(d) for d in state.get("diagnoses", [])],
        actions=[ActionRecord.model_validate(a) for a in state.get("actions", [])],
        advice=list(state.get("advice", [])),
        escalation=state.get("escalation"),
        final_state=FinalState(state.get("final_state") or "escalated"),
        summary=state.get("summary", ""),
    )
