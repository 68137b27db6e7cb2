"""``finish``: the incident's end state, its summary, and the incident row closed."""

from __future__ import annotations

from bot.agent import walk
from bot.agent.deps import AgentDeps
from bot.agent.state import IncidentState
from bot.llm.tasks import summarise


async def finish(state: IncidentState, deps: AgentDeps) -> IncidentState:
    """Decide the final state; symptoms without a cause the runbooks can act on escalate. The
    optional LLM may only write the summary and the why of each proposal (the assistant audits
    its call); without a valid answer the deterministic summary stands."""
    escalation = state.get("escalation")
    diagnoses = list(state.get("diagnoses", []))
    if escalation is None and not state.get("plans") and diagnoses:
        escalation = {
            "to": "on-call",
            "reason": "symptoms found but no cause the runbooks can act on",
        }
    final = walk.final_state(state.get("plans", []), escalation is not None, diagnoses)
    summary = walk.deterministic_summary(state, final, escalation)
    if deps.assistant is not None:
        text = await summarise(deps.assistant, {**state, "final_state": final})
        summary = text or summary
    await deps.records.close_incident(state["incident_id"], final, escalation)
    return {"final_state": final, "escalation": escalation, "summary": summary}
