"""``select_runbook``: what kind of thing the incident is about, and where its walk starts."""

from __future__ import annotations

from typing import Any

from bot.agent.deps import AgentDeps
from bot.agent.events import StepLog
from bot.agent.nodes.calls import call_tool
from bot.agent.state import IncidentState
from bot.agent.targets import select_runbook
from tools.result import ToolResult


async def select(state: IncidentState, deps: AgentDeps) -> IncidentState:
    """Choose the runbook; no runbook for the target is an escalation, never a guess."""
    cache = dict(state.get("tool_cache", {}))

    async def read(_: Any, tool: str, params: dict[str, Any], *, cached: bool) -> ToolResult:
        return await call_tool(deps, state["incident_id"], tool, params, cache if cached else None)

    choice = await select_runbook(deps, state, read)
    target = choice.target or state["target"]
    log = StepLog(state, deps)
    await log.add(
        node="select_runbook",
        runbook=choice.runbook or "",
        kind="select",
        title=f"{target} is {choice.target_kind}",
        summary=choice.reason,
    )
    update: IncidentState = {
        "target_kind": choice.target_kind,
        "runbook": choice.runbook,
        "cursor": choice.entry,
        "facts": dict(state.get("facts", {})),
        "steps": log.entries,
        "tool_cache": cache,
    }
    if choice.target is not None:
        update["target"] = choice.target
    if choice.escalation is not None:
        update["escalation"] = dict(choice.escalation)
    await deps.records.set_runbook(state["incident_id"], choice.runbook, choice.target_kind)
    return update


def after_select(state: IncidentState) -> str:
    return "walk" if state.get("cursor") else "finish"
