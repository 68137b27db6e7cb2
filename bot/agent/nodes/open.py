"""``open``: record the incident before anything else happens."""

from __future__ import annotations

from bot.agent.deps import AgentDeps
from bot.agent.state import IncidentState


async def open_incident(state: IncidentState, deps: AgentDeps) -> IncidentState:
    """Create the incident row (a re-run finds it and changes nothing)."""
    await deps.records.open_incident(state["incident_id"], state["target"], state["trigger"])
    return {}
