"""``approval``: wait for a person.

The node holds only the interrupt. LangGraph re-runs a node from its first line when the answer
arrives, so anything placed before the interrupt would happen twice; the answer itself is
untrusted and is validated by ``decide``.
"""

from __future__ import annotations

from langgraph.types import interrupt

from bot.agent.deps import AgentDeps
from bot.agent.state import IncidentState


async def approval(state: IncidentState, deps: AgentDeps) -> IncidentState:
    """Hand the pending proposal to whoever runs the graph; resume with their answer."""
    return {"decision": interrupt(state["pending"])}
