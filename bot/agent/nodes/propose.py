"""``propose``: preview the change and record the proposal a person will answer.

It runs before the approval's interrupt, so its only effects are idempotent: a dry run, a proposal
inserted once per idempotency key, an audit row.
"""

from __future__ import annotations

from bot.agent import walk
from bot.agent.deps import AgentDeps
from bot.agent.events import StepLog
from bot.agent.nodes.calls import call_tool
from bot.agent.state import IncidentState
from bot.runbooks.model import ActionNode
from tools.result import ToolStatus


async def propose(state: IncidentState, deps: AgentDeps) -> IncidentState:
    """Dry-run the action under the cursor; a change that cannot be previewed (refused
    parameters, platform down) is never proposed: the cause moves on to its next option."""
    runbook = deps.runbooks.by_id[state["runbook"] or ""]
    name = state["cursor"] or ""
    node = runbook.node(name)
    assert isinstance(node, ActionNode)
    attempt = int(state.get("proposals_made", 0))
    key = walk.idempotency_key(state["incident_id"], name, attempt)
    params = walk.resolve_params(node.params, walk.names(state))
    dry = await call_tool(
        deps,
        state["incident_id"],
        node.tool,
        {**params, "dry_run": True, "idempotency_key": key},
    )
    log = StepLog(state, deps)
    current = walk.current_plan(state)
    if dry.status is not ToolStatus.OK:
        current["index"] += 1
        await log.add(
            node=name,
            runbook=runbook.id,
            kind="action",
            title=node.title,
            tool=node.tool,
            status=dry.status.value,
            summary=f"cannot propose: {dry.summary}",
        )
        return {
            "plans": [current],
            "steps": log.entries,
            "pending": None,
            "proposals_made": attempt + 1,
        }
    proposal = await deps.records.create_proposal(
        incident_id=state["incident_id"],
        node=name,
        title=walk.render(node.title, walk.names(state)),
        tool=node.tool,
        params=params,
        risk=node.risk,
        idempotency_key=key,
        dry_run=dry.evidence,
        diagnosis=current["diagnosis"],
    )
    await log.add(
        node=name,
        runbook=runbook.id,
        kind="proposal",
        title=proposal["title"],
        tool=node.tool,
        status="pending",
        summary=f"risk {node.risk}; waiting for approval",
        evidence={"params": params, "diff": dry.evidence.get("diff", [])},
    )
    return {
        "pending": proposal,
        "steps": log.entries,
        "proposals_made": attempt + 1,
        "decision": None,
    }


def after_propose(state: IncidentState) -> str:
    return "approval" if state.get("pending") else "plan"
