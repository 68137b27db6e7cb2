"""``decide``: validate the untrusted answer against the server's records."""

from __future__ import annotations

from bot.agent import walk
from bot.agent.deps import AgentDeps
from bot.agent.events import StepLog
from bot.agent.state import IncidentState


async def decide(state: IncidentState, deps: AgentDeps) -> IncidentState:
    """Record the verdict. A rejected or expired proposal moves its cause to the next remedy;
    an unauthorised or forged answer is refused and the proposal waits again."""
    pending = state["pending"] or {}
    verdict = await deps.records.decide(pending, state.get("decision") or {})
    log = StepLog(state, deps)
    await log.add(
        node=pending.get("node", ""),
        runbook=state.get("runbook") or "",
        kind="decision",
        title=verdict.outcome,
        summary=verdict.message,
    )
    update: IncidentState = {"steps": log.entries, "decision": {**verdict.as_dict()}}
    if verdict.outcome in ("rejected", "expired"):
        update["plans"] = [walk.next_option(state)]
        update["actions"] = [
            {
                "proposal_id": pending["proposal_id"],
                "tool": pending["tool"],
                "params": pending["params"],
                "decision": "reject" if verdict.outcome == "rejected" else "expire",
                "decided_by": verdict.actor,
                "executed": False,
            }
        ]
        update["pending"] = None
    return update


def after_decide(state: IncidentState) -> str:
    outcome = (state.get("decision") or {}).get("outcome")
    if outcome == "approved":
        return "execute"
    if outcome in ("refused", "waiting"):
        return "approval"  # not a valid answer, or more approvers needed: keep waiting
    return "plan"
