"""``walk``: one runbook node per step, so every step is checkpointed and streamed.

A check reads the world and moves the cursor along a branch; a diagnosis is recorded (a cause also
gets a plan of remedies) and the walk goes on to ``continue_to``; advice, an escalation or an action
end the walk.
"""

from __future__ import annotations

from typing import Any

from bot.agent import walk
from bot.agent.deps import AgentDeps
from bot.agent.events import StepLog
from bot.agent.nodes.calls import BOT, call_tool
from bot.agent.state import CausePlan, IncidentState
from bot.llm.tasks import interpret, triage
from bot.runbooks.model import (
    ActionNode,
    AdviceNode,
    CheckNode,
    DiagnosisNode,
    EscalateNode,
    Runbook,
)
from tools.result import ToolResult, ToolStatus

MAX_WALK_STEPS = 200


async def walk_one(state: IncidentState, deps: AgentDeps) -> IncidentState:
    """Execute the runbook node under the cursor and move the cursor."""
    runbook = deps.runbooks.by_id[state["runbook"] or ""]
    name = state["cursor"] or ""
    node = runbook.node(name)
    if len(state.get("steps", [])) > MAX_WALK_STEPS:
        return {
            "cursor": None,
            "escalation": {"to": "on-call", "reason": "runbook walk did not terminate"},
        }
    log = StepLog(state, deps)
    if isinstance(node, CheckNode):
        return await _check(state, deps, log, runbook, name, node)
    if isinstance(node, DiagnosisNode):
        return await _diagnosis(state, deps, log, runbook, name, node)
    if isinstance(node, AdviceNode):
        text = walk.render(node.instructions, walk.names(state))
        await log.add(node=name, runbook=runbook.id, kind="advice", title=node.title, summary=text)
        return {"advice": [f"{node.title}: {text}"], "steps": log.entries, "cursor": None}
    if isinstance(node, EscalateNode):
        reason = walk.render(node.reason, walk.names(state))
        await log.add(
            node=name,
            runbook=runbook.id,
            kind="escalate",
            title=f"escalate to {node.to}",
            summary=reason,
        )
        return {
            "escalation": {"to": node.to, "reason": reason},
            "steps": log.entries,
            "cursor": None,
        }
    # An action reached directly by the walk is a one-option plan.
    assert isinstance(node, ActionNode)
    plan = CausePlan(diagnosis=f"action:{name}", options=[name], index=0, outcome=None)
    return {"plans": [plan], "cursor": None}


async def _check(
    state: IncidentState,
    deps: AgentDeps,
    log: StepLog,
    runbook: Runbook,
    name: str,
    node: CheckNode,
) -> IncidentState:
    """Run the check's tool (cached for the walk) and follow the branch its evidence takes; the
    branch predicates already see the facts this check records."""
    facts = dict(state.get("facts", {}))
    cache = dict(state.get("tool_cache", {}))
    params = walk.resolve_params(node.params, walk.names(state))
    result = await call_tool(deps, state["incident_id"], node.tool, params, cache)
    if result.status is ToolStatus.OK:
        facts.update(walk.record_facts(node, walk.names(state, result.evidence, facts=facts)))
    names = walk.names(state, result.evidence, facts=facts)
    label, nxt = walk.choose_branch(node, result, names)
    if deps.assistant is not None:
        label, nxt = await _interpret(state, deps, name, node, result, names, (label, nxt))
        if name == runbook.entry and "llm_triage" not in facts:
            facts["llm_triage"] = await _triage(state, deps, runbook, result)
    await log.add(
        node=name,
        runbook=runbook.id,
        kind="check",
        title=node.title or node.tool,
        tool=node.tool,
        status=result.status.value,
        summary=result.summary,
        branch=label,
        next=nxt,
        evidence=result.evidence,
    )
    return {"facts": facts, "steps": log.entries, "tool_cache": cache, "cursor": nxt}


async def _interpret(
    state: IncidentState,
    deps: AgentDeps,
    name: str,
    node: CheckNode,
    result: ToolResult,
    names: dict[str, Any],
    chosen: tuple[str, str],
) -> tuple[str, str]:
    """Free text no rule matched, read by the LLM into one of the check's options; anything else
    (no interpret declaration, no answer, an option not offered) keeps the tree's branch."""
    text = walk.free_text(node, result, chosen[0], names)
    if text is None or node.interpret is None or deps.assistant is None:
        return chosen
    choice = await interpret(
        deps.assistant,
        state["incident_id"],
        node=name,
        question=node.interpret.question,
        text=text,
        options=walk.interpret_options(node),
    )
    return chosen if choice is None else walk.llm_branch(node, choice.goto, choice.reason)


async def _triage(
    state: IncidentState, deps: AgentDeps, runbook: Runbook, result: ToolResult
) -> list[str]:
    """The leaves the LLM ranks first from the trigger and the entry check (for people to read;
    the walk follows the tree)."""
    assert deps.assistant is not None
    leaves = {d.id: d.title for d in runbook.diagnoses().values()}
    return await triage(
        deps.assistant, state["incident_id"], state=state, leaves=leaves, evidence=result.summary
    )


async def _diagnosis(
    state: IncidentState,
    deps: AgentDeps,
    log: StepLog,
    runbook: Runbook,
    name: str,
    node: DiagnosisNode,
) -> IncidentState:
    """Record the diagnosis once (audited); a cause gets a plan of its remedies."""
    explanation = walk.render(node.explain or node.title, walk.names(state))
    update: IncidentState = {"cursor": node.continue_to}
    if all(d["id"] != node.id for d in state.get("diagnoses", [])):
        update["diagnoses"] = [
            {
                "id": node.id,
                "role": node.role,
                "title": node.title,
                "explanation": explanation,
                "runbook": runbook.id,
                "node": name,
            }
        ]
        await deps.records.audit(
            state["incident_id"],
            "diagnosis",
            BOT,
            {"id": node.id, "role": node.role, "explanation": explanation},
        )
    if node.role == "cause" and all(p["diagnosis"] != node.id for p in state.get("plans", [])):
        update["plans"] = [
            CausePlan(diagnosis=node.id, options=list(node.remedies), index=0, outcome=None)
        ]
    await log.add(
        node=name,
        runbook=runbook.id,
        kind="diagnosis",
        title=f"{node.id}: {node.title}",
        summary=explanation,
    )
    update["steps"] = log.entries
    return update


def after_walk(state: IncidentState) -> str:
    if state.get("escalation"):
        return "finish"
    return "walk" if state.get("cursor") else "plan"
