"""``verify``: re-check the service after the change, with the numbers that decided it."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.agent import walk
from bot.agent.deps import AgentDeps
from bot.agent.events import StepLog
from bot.agent.nodes.calls import BOT, call_tool
from bot.agent.state import IncidentState
from bot.runbooks.model import OUTCOMES, RECOVERED, ActionNode, CheckNode, Runbook
from tools.result import ToolStatus

MAX_VERIFY_HOPS = 20


async def verify(state: IncidentState, deps: AgentDeps) -> IncidentState:
    """Follow the action's verify checks to recovered / not recovered. Recovered ends the cause,
    or proposes the next stage of a staged sequence (``then``); anything else tries the cause's
    next remedy."""
    runbook = deps.runbooks.by_id[state["runbook"] or ""]
    pending = state["pending"] or {}
    action = runbook.node(pending["node"])
    assert isinstance(action, ActionNode)
    log = StepLog(state, deps)
    facts = dict(state.get("facts", {}))
    outcome, detail = await _follow_checks(state, deps, log, runbook, action.verify, facts)
    await deps.records.audit(
        state["incident_id"],
        "verification",
        BOT,
        {"proposal_id": pending["proposal_id"], "outcome": outcome, "detail": detail},
    )
    current = walk.current_plan(state)
    update: IncidentState = {
        "steps": log.entries,
        "facts": facts,
        "plans": [current],
        "pending": None,
        "tool_cache": {},  # the world changed: earlier readings are stale
    }
    actions = state.get("actions", [])
    if actions:
        update["actions"] = [{**actions[-1], "verified": outcome, "verification": detail}]
    if outcome == RECOVERED and action.then:
        # A staged sequence: the next action is proposed under the same cause.
        update["cursor"] = action.then
        current["options"] = [
            *current["options"][: current["index"] + 1],
            action.then,
            *current["options"][current["index"] + 1 :],
        ]
        current["index"] += 1
    elif outcome == RECOVERED:
        current["outcome"] = "resolved"
    else:
        current["index"] += 1
    return update


async def _follow_checks(
    state: IncidentState,
    deps: AgentDeps,
    log: StepLog,
    runbook: Runbook,
    cursor: str | None,
    facts: dict[str, Any],
) -> tuple[str, str]:
    """``(outcome, detail)`` from walking the verify checks from ``cursor``; the checks read the
    world afresh (no cache) and record their facts into ``facts``."""
    detail = "no verify step in the runbook"
    hops = 0
    while cursor is not None and cursor not in OUTCOMES and hops < MAX_VERIFY_HOPS:
        hops += 1
        check = runbook.node(cursor)
        if not isinstance(check, CheckNode):
            break
        if check.wait_seconds:
            await asyncio.sleep(min(check.wait_seconds, deps.max_verify_wait_s))
        params = walk.resolve_params(check.params, walk.names(state, facts=facts))
        result = await call_tool(deps, state["incident_id"], check.tool, params)
        if result.status is ToolStatus.OK:
            facts.update(walk.record_facts(check, walk.names(state, result.evidence, facts=facts)))
        label, cursor = walk.choose_branch(
            check, result, walk.names(state, result.evidence, facts=facts)
        )
        detail = result.summary
        await log.add(
            node=check.title or check.tool,
            runbook=runbook.id,
            kind="verify",
            title=check.title or check.tool,
            tool=check.tool,
            status=result.status.value,
            summary=result.summary,
            branch=label,
            next=cursor,
            evidence=result.evidence,
        )
    if cursor is None:
        return RECOVERED, detail
    return (cursor if cursor in OUTCOMES else "not_recovered"), detail
