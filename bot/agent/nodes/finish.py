"""``finish``: the incident's end state, its summary, and the incident row closed."""

from __future__ import annotations

from bot.agent import walk
from bot.agent.deps import AgentDeps
from bot.agent.nodes.calls import BOT
from bot.agent.state import IncidentState


async def finish(state: IncidentState, deps: AgentDeps) -> IncidentState:
    """Decide the final state; symptoms without a cause the runbooks can act on escalate. The
    optional LLM may only rewrite the summary (its call is audited)."""
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
        text, call = await deps.assistant.summarise({**state, "final_state": final})
        await deps.records.audit(state["incident_id"], "llm_call", BOT, call)
        summary = text or summary
    await deps.records.close_incident(state["incident_id"], final, escalation)
    return {"final_state": final, "escalation": escalation, "summary": summary}
