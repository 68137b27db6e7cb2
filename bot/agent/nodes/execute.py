"""``execute``: apply the approved change exactly once.

The ledger row is claimed under the proposal's idempotency key before the call and finished after
it. A process killed mid-call resumes into this node, finds the row and never applies twice; the
change that runs is the server's copy of the proposal, never the answer's.
"""

from __future__ import annotations

from typing import Any

from bot.agent import walk
from bot.agent.deps import AgentDeps
from bot.agent.events import StepLog
from bot.agent.state import IncidentState
from bot.audit.binding import ESCALATE_TO, ProposalTampered
from tools.catalog import run_tool


async def execute(state: IncidentState, deps: AgentDeps) -> IncidentState:
    """Run the approved tool call (or read back the result of an earlier run of this node)."""
    pending = state["pending"] or {}
    try:
        proposal = await deps.records.load_proposal(pending["proposal_id"])  # the server's copy
    except ProposalTampered as refused:
        return await _refused(state, deps, pending, refused)
    entry = await deps.records.ledger_begin(proposal)
    result_data: dict[str, Any]
    if entry.claimed:
        result = await run_tool(
            deps.platform,
            proposal.tool,
            {**proposal.params, "dry_run": False, "idempotency_key": proposal.idempotency_key},
        )
        result_data = result.model_dump(mode="json")
        await deps.records.ledger_finish(proposal, result)
    else:  # already succeeded or failed in an earlier run of this node: never again
        result_data = entry.result or {"status": "error", "summary": "no recorded result"}
    ok = result_data.get("status") == "ok"
    log = StepLog(state, deps)
    await log.add(
        node=pending.get("node", ""),
        runbook=state.get("runbook") or "",
        kind="execution",
        title=proposal.title,
        tool=proposal.tool,
        status=result_data.get("status"),
        summary=result_data.get("summary", ""),
        evidence={"diff": result_data.get("evidence", {}).get("diff", [])},
    )
    record = {
        "proposal_id": proposal.proposal_id,
        "tool": proposal.tool,
        "params": proposal.params,
        "decision": "approve",
        "decided_by": (state.get("decision") or {}).get("actor"),
        "executed": ok,
        "execution_status": result_data.get("status"),
    }
    update: IncidentState = {"steps": log.entries, "actions": [record]}
    if not ok:
        update["plans"] = [walk.next_option(state)]
        update["pending"] = None
    return update


async def _refused(
    state: IncidentState, deps: AgentDeps, pending: dict[str, Any], refused: ProposalTampered
) -> IncidentState:
    """The proposal row is not what the audit chain recorded: nothing runs, the incident ends
    escalated (the refusal itself is already audited as ``tamper_detected``)."""
    log = StepLog(state, deps)
    escalation = {"to": ESCALATE_TO, "reason": str(refused)}
    await log.add(
        node=pending.get("node", ""),
        runbook=state.get("runbook") or "",
        kind="escalate",
        title=f"escalate to {ESCALATE_TO}",
        summary=str(refused),
    )
    record = {
        "proposal_id": refused.proposal_id,
        "tool": pending.get("tool", ""),
        "params": pending.get("params", {}),
        "decision": "approve",
        "decided_by": (state.get("decision") or {}).get("actor"),
        "executed": False,
        "execution_status": "refused",
    }
    done = walk.next_option(state)
    done["outcome"] = "escalated"
    return {
        "steps": log.entries,
        "actions": [record],
        "plans": [done],
        "pending": None,
        "escalation": escalation,
    }


def after_execute(state: IncidentState) -> str:
    return "verify" if state.get("pending") else "plan"
