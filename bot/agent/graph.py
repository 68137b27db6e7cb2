"""The incident graph (LangGraph).

    open → select_runbook → walk ⟲ → plan → propose → approval → decide → execute → verify
         → plan … → finish

Rules that keep it safe (STYLE.md, point 5):
- ``approval`` holds only ``interrupt(...)``; nodes re-run from their first line on resume, so
  nothing before the interrupt may have effects.
- Each side effect sits in its own node after the approval, keyed by the idempotency key,
  recorded in the ledger before and after the call: a process killed mid-execution resumes into
  ``execute``, finds the ledger row and never applies twice.
- The decision that comes back from the interrupt is untrusted: only its proposal id, decision and
  actor are used, and the change itself is read back from the server's own proposal record.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from bot.agent import walk
from bot.agent.deps import AgentDeps
from bot.agent.state import CausePlan, IncidentState
from bot.agent.targets import select_runbook
from bot.runbooks.model import (
    OUTCOMES,
    RECOVERED,
    ActionNode,
    AdviceNode,
    CheckNode,
    DiagnosisNode,
    EscalateNode,
)
from tools.catalog import run_tool
from tools.result import ToolResult, ToolStatus

BOT = "model-incident-bot"
MAX_WALK_STEPS = 200


def open_plan(state: IncidentState) -> tuple[list[CausePlan], CausePlan]:
    """A copy of the plans and the first unfinished one (the cause being remedied)."""
    plans = [CausePlan(**p) for p in state.get("plans", [])]
    return plans, next(p for p in plans if p["outcome"] is None)


def next_option(state: IncidentState) -> list[CausePlan]:
    """The plans with the current cause moved on to its next remedy."""
    plans, current = open_plan(state)
    current["index"] += 1
    return plans


def build_graph(deps: AgentDeps) -> StateGraph[IncidentState]:
    """The incident graph, with every node closed over ``deps`` (clients, store, runbooks)."""

    async def call_tool(
        state: IncidentState, tool: str, params: dict[str, Any], *, cached: bool
    ) -> ToolResult:
        cache = state.setdefault("tool_cache", {})
        key = walk.cache_key(tool, params)
        if cached and key in cache:
            return ToolResult.model_validate(cache[key])
        result = await run_tool(deps.platform, tool, params)
        if cached:
            cache[key] = result.model_dump(mode="json")
        await deps.records.audit(
            state["incident_id"],
            "tool_call",
            BOT,
            {
                "tool": tool,
                "params": params,
                "status": result.status.value,
                "summary": result.summary,
                "requests": [r.as_curl() for r in result.requests],
                "error": result.error,
            },
        )
        return result

    def names(state: IncidentState, evidence: Any = None) -> dict[str, Any]:
        return walk.expression_names(
            target=state["target"],
            trigger_labels=dict(state["trigger"].get("labels", {})),
            facts=state.get("facts", {}),
            evidence=evidence,
        )

    async def emit(state: IncidentState, step: dict[str, Any]) -> None:
        state.setdefault("steps", []).append(step)
        await deps.emit_step(step)

    # ---------------------------------------------------------------- nodes

    async def open_incident(state: IncidentState) -> IncidentState:
        await deps.records.open_incident(state["incident_id"], state["target"], state["trigger"])
        return {}

    async def select(state: IncidentState) -> IncidentState:
        choice = await select_runbook(deps, state, call_tool)
        update: IncidentState = {
            "target_kind": choice.target_kind,
            "runbook": choice.runbook,
            "cursor": choice.entry,
            "facts": dict(state.get("facts", {})),
            "steps": list(state.get("steps", [])),
            "tool_cache": dict(state.get("tool_cache", {})),
        }
        await emit(
            update,
            {
                "node": "select_runbook",
                "runbook": choice.runbook or "",
                "kind": "select",
                "title": f"{state['target']} is {choice.target_kind}",
                "summary": choice.reason,
            },
        )
        if choice.runbook is None:
            update["escalation"] = {"to": "on-call", "reason": choice.reason}
        await deps.records.set_runbook(state["incident_id"], choice.runbook, choice.target_kind)
        return update

    async def walk_one(state: IncidentState) -> IncidentState:
        """Execute the runbook node under the cursor and move the cursor."""
        runbook = deps.runbooks.by_id[state["runbook"] or ""]
        name = state["cursor"] or ""
        node = runbook.node(name)
        facts = dict(state.get("facts", {}))
        steps = list(state.get("steps", []))
        update: IncidentState = {"facts": facts, "steps": steps}
        scratch: IncidentState = {**state, **update}
        scratch["tool_cache"] = dict(state.get("tool_cache", {}))
        if len(steps) > MAX_WALK_STEPS:
            update["cursor"] = None
            update["escalation"] = {"to": "on-call", "reason": "runbook walk did not terminate"}
            return update

        if isinstance(node, CheckNode):
            params = walk.resolve_params(node.params, names(scratch))
            result = await call_tool(scratch, node.tool, params, cached=True)
            evidence_names = names(scratch, result.evidence)
            if result.status is ToolStatus.OK:
                facts.update(walk.record_facts(node, evidence_names))
            label, nxt = walk.choose_branch(node, result, names(scratch, result.evidence))
            await emit(
                scratch,
                {
                    "node": name,
                    "runbook": runbook.id,
                    "kind": "check",
                    "title": node.title or node.tool,
                    "tool": node.tool,
                    "status": result.status.value,
                    "summary": result.summary,
                    "branch": label,
                    "next": nxt,
                    "evidence": result.evidence,
                },
            )
            update["steps"] = scratch["steps"]
            update["tool_cache"] = scratch["tool_cache"]
            update["cursor"] = nxt
            return update

        if isinstance(node, DiagnosisNode):
            explanation = walk.render(node.explain or node.title, names(scratch))
            diagnoses = list(state.get("diagnoses", []))
            if all(d["id"] != node.id for d in diagnoses):
                diagnoses.append(
                    {
                        "id": node.id,
                        "role": node.role,
                        "title": node.title,
                        "explanation": explanation,
                        "runbook": runbook.id,
                        "node": name,
                    }
                )
                await deps.records.audit(
                    state["incident_id"],
                    "diagnosis",
                    BOT,
                    {"id": node.id, "role": node.role, "explanation": explanation},
                )
            plans = list(state.get("plans", []))
            if node.role == "cause" and all(p["diagnosis"] != node.id for p in plans):
                plans.append(
                    CausePlan(diagnosis=node.id, options=list(node.remedies), index=0, outcome=None)
                )
            await emit(
                scratch,
                {
                    "node": name,
                    "runbook": runbook.id,
                    "kind": "diagnosis",
                    "title": f"{node.id}: {node.title}",
                    "summary": explanation,
                },
            )
            update.update(
                {
                    "steps": scratch["steps"],
                    "diagnoses": diagnoses,
                    "plans": plans,
                    "cursor": node.continue_to,
                }
            )
            return update

        if isinstance(node, AdviceNode):
            text = walk.render(node.instructions, names(scratch))
            update["advice"] = [*state.get("advice", []), f"{node.title}: {text}"]
            await emit(
                scratch,
                {
                    "node": name,
                    "runbook": runbook.id,
                    "kind": "advice",
                    "title": node.title,
                    "summary": text,
                },
            )
            update["steps"] = scratch["steps"]
            update["cursor"] = None
            return update

        if isinstance(node, EscalateNode):
            reason = walk.render(node.reason, names(scratch))
            update["escalation"] = {"to": node.to, "reason": reason}
            await emit(
                scratch,
                {
                    "node": name,
                    "runbook": runbook.id,
                    "kind": "escalate",
                    "title": f"escalate to {node.to}",
                    "summary": reason,
                },
            )
            update["steps"] = scratch["steps"]
            update["cursor"] = None
            return update

        # An action reached directly by the walk is a one-option plan.
        assert isinstance(node, ActionNode)
        plans = [
            *state.get("plans", []),
            CausePlan(diagnosis=f"action:{name}", options=[name], index=0, outcome=None),
        ]
        update["plans"] = plans
        update["cursor"] = None
        return update

    async def plan(state: IncidentState) -> IncidentState:
        """Pick the next remedy option of each unfinished cause, in order: advice is recorded and
        the next cause considered; an escalation ends the incident; an action goes to ``propose``.
        """
        runbook = deps.runbooks.by_id[state["runbook"] or ""]
        plans = [CausePlan(**p) for p in state.get("plans", [])]
        steps = list(state.get("steps", []))
        advice = list(state.get("advice", []))
        scratch: IncidentState = {**state, "steps": steps}
        update: IncidentState = {
            "plans": plans,
            "steps": steps,
            "advice": advice,
            "pending": None,
            "cursor": None,
        }

        async def escalate(to: str, reason: str, node: str) -> IncidentState:
            update["escalation"] = {"to": to, "reason": reason}
            await emit(
                scratch,
                {
                    "node": node,
                    "runbook": runbook.id,
                    "kind": "escalate",
                    "title": f"escalate to {to}",
                    "summary": reason,
                },
            )
            return update

        for p in plans:
            if p["outcome"] is not None:
                continue
            if p["index"] >= len(p["options"]):
                p["outcome"] = "exhausted"
                return await escalate(
                    "on-call",
                    f"every remedy of {p['diagnosis']} was rejected, expired or did not "
                    "recover the service",
                    "plan",
                )
            name = p["options"][p["index"]]
            option = runbook.node(name)
            if isinstance(option, ActionNode):
                update["cursor"] = name  # the action to propose
                return update
            if isinstance(option, EscalateNode):
                p["outcome"] = "escalated"
                return await escalate(option.to, walk.render(option.reason, names(state)), name)
            if isinstance(option, AdviceNode):
                text = walk.render(option.instructions, names(state))
                advice.append(f"{option.title}: {text}")
                p["outcome"] = "advice"
                await emit(
                    scratch,
                    {
                        "node": name,
                        "runbook": runbook.id,
                        "kind": "advice",
                        "title": option.title,
                        "summary": text,
                    },
                )
                continue
            p["outcome"] = "exhausted"  # lint refuses other node kinds as remedies
        return update

    async def propose(state: IncidentState) -> IncidentState:
        """Dry-run the action and record the proposal. Runs before the interrupt: its only effects
        are idempotent (a dry run, an insert keyed by the idempotency key, an audit row)."""
        runbook = deps.runbooks.by_id[state["runbook"] or ""]
        name = state["cursor"] or ""
        node = runbook.node(name)
        assert isinstance(node, ActionNode)
        attempt = int(state.get("proposals_made", 0))
        key = walk.idempotency_key(state["incident_id"], name, attempt)
        params = walk.resolve_params(node.params, names(state))
        dry = await call_tool(
            state, node.tool, {**params, "dry_run": True, "idempotency_key": key}, cached=False
        )
        steps = list(state.get("steps", []))
        scratch: IncidentState = {**state, "steps": steps}
        plans, current = open_plan(state)
        if dry.status is not ToolStatus.OK:
            # The change cannot be previewed (refused parameters, platform down): next option.
            current["index"] += 1
            await emit(
                scratch,
                {
                    "node": name,
                    "runbook": runbook.id,
                    "kind": "action",
                    "title": node.title,
                    "tool": node.tool,
                    "status": dry.status.value,
                    "summary": f"cannot propose: {dry.summary}",
                },
            )
            return {"plans": plans, "steps": steps, "pending": None, "proposals_made": attempt + 1}
        proposal = await deps.records.create_proposal(
            incident_id=state["incident_id"],
            node=name,
            title=walk.render(node.title, names(state)),
            tool=node.tool,
            params=params,
            risk=node.risk,
            idempotency_key=key,
            dry_run=dry.evidence,
            diagnosis=current["diagnosis"],
        )
        await emit(
            scratch,
            {
                "node": name,
                "runbook": runbook.id,
                "kind": "proposal",
                "title": proposal["title"],
                "tool": node.tool,
                "status": "pending",
                "summary": f"risk {node.risk}; waiting for approval",
                "evidence": {"params": params, "diff": dry.evidence.get("diff", [])},
            },
        )
        return {
            "pending": proposal,
            "steps": steps,
            "proposals_made": attempt + 1,
            "decision": None,
        }

    def approval(state: IncidentState) -> IncidentState:
        """Wait for a person. Nothing else may happen here (the node re-runs on resume)."""
        answer = interrupt(state["pending"])
        return {"decision": answer}

    async def decide(state: IncidentState) -> IncidentState:
        """Validate the answer against the server's records; unauthorised answers wait again."""
        pending = state["pending"] or {}
        verdict = await deps.records.decide(pending, state.get("decision") or {})
        steps = list(state.get("steps", []))
        scratch: IncidentState = {**state, "steps": steps}
        await emit(
            scratch,
            {
                "node": pending.get("node", ""),
                "runbook": state.get("runbook") or "",
                "kind": "decision",
                "title": verdict.outcome,
                "summary": verdict.message,
            },
        )
        update: IncidentState = {"steps": steps, "decision": {**verdict.as_dict()}}
        if verdict.outcome in ("rejected", "expired"):
            update["plans"] = next_option(state)
            update["actions"] = [
                *state.get("actions", []),
                {
                    "proposal_id": pending["proposal_id"],
                    "tool": pending["tool"],
                    "params": pending["params"],
                    "decision": "reject" if verdict.outcome == "rejected" else "expire",
                    "decided_by": verdict.actor,
                    "executed": False,
                },
            ]
            update["pending"] = None
        return update

    async def execute(state: IncidentState) -> IncidentState:
        """Apply the approved change exactly once (ledger row before and after the call)."""
        pending = state["pending"] or {}
        proposal = await deps.records.load_proposal(pending["proposal_id"])  # the server's copy
        entry = await deps.records.ledger_begin(proposal)
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
        steps = list(state.get("steps", []))
        scratch: IncidentState = {**state, "steps": steps}
        await emit(
            scratch,
            {
                "node": pending.get("node", ""),
                "runbook": state.get("runbook") or "",
                "kind": "execution",
                "title": proposal.action,
                "tool": proposal.tool,
                "status": result_data.get("status"),
                "summary": result_data.get("summary", ""),
                "evidence": {"diff": result_data.get("evidence", {}).get("diff", [])},
            },
        )
        record = {
            "proposal_id": proposal.id,
            "tool": proposal.tool,
            "params": proposal.params,
            "decision": "approve",
            "decided_by": (state.get("decision") or {}).get("actor"),
            "executed": ok,
            "execution_status": result_data.get("status"),
        }
        update: IncidentState = {"steps": steps, "actions": [*state.get("actions", []), record]}
        if not ok:
            update["plans"] = next_option(state)
            update["pending"] = None
        return update

    async def verify(state: IncidentState) -> IncidentState:
        """Re-check the service after the change; recovered / not recovered with the numbers."""
        runbook = deps.runbooks.by_id[state["runbook"] or ""]
        pending = state["pending"] or {}
        action = runbook.node(pending["node"])
        assert isinstance(action, ActionNode)
        steps = list(state.get("steps", []))
        scratch: IncidentState = {**state, "steps": steps}
        outcome = RECOVERED
        detail = "no verify step in the runbook"
        cursor = action.verify
        facts = dict(state.get("facts", {}))
        scratch["facts"] = facts
        hops = 0
        while cursor is not None and cursor not in OUTCOMES and hops < 20:
            hops += 1
            check = runbook.node(cursor)
            if not isinstance(check, CheckNode):
                break
            if check.wait_seconds:
                await asyncio.sleep(min(check.wait_seconds, deps.max_verify_wait_s))
            params = walk.resolve_params(check.params, names(scratch))
            result = await call_tool(scratch, check.tool, params, cached=False)
            if result.status is ToolStatus.OK:
                facts.update(walk.record_facts(check, names(scratch, result.evidence)))
            label, cursor = walk.choose_branch(check, result, names(scratch, result.evidence))
            detail = result.summary
            await emit(
                scratch,
                {
                    "node": check.title or check.tool,
                    "runbook": runbook.id,
                    "kind": "verify",
                    "title": check.title or check.tool,
                    "tool": check.tool,
                    "status": result.status.value,
                    "summary": result.summary,
                    "branch": label,
                    "next": cursor,
                    "evidence": result.evidence,
                },
            )
        if cursor is not None:
            outcome = cursor if cursor in OUTCOMES else "not_recovered"
        await deps.records.audit(
            state["incident_id"],
            "verification",
            BOT,
            {"proposal_id": pending["proposal_id"], "outcome": outcome, "detail": detail},
        )
        actions = [dict(a) for a in state.get("actions", [])]
        if actions:
            actions[-1]["verified"] = outcome
            actions[-1]["verification"] = detail
        plans, current = open_plan(state)
        update: IncidentState = {
            "steps": steps,
            "facts": facts,
            "actions": actions,
            "plans": plans,
            "pending": None,
            "tool_cache": {},  # the world changed: earlier readings are stale
        }
        if outcome == RECOVERED:
            if action.then:
                update["cursor"] = action.then
                update["pending"] = None
                # A staged sequence: the next action is proposed under the same cause.
                current["options"] = [
                    *current["options"][: current["index"] + 1],
                    action.then,
                    *current["options"][current["index"] + 1 :],
                ]
                current["index"] += 1
            else:
                current["outcome"] = "resolved"
        else:
            current["index"] += 1
        return update

    async def finish(state: IncidentState) -> IncidentState:
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

    # ---------------------------------------------------------------- edges

    def after_select(state: IncidentState) -> str:
        return "walk" if state.get("cursor") else "finish"

    def after_walk(state: IncidentState) -> str:
        if state.get("escalation"):
            return "finish"
        return "walk" if state.get("cursor") else "plan"

    def after_plan(state: IncidentState) -> str:
        if state.get("escalation"):
            return "finish"
        return "propose" if state.get("cursor") else "finish"

    def after_propose(state: IncidentState) -> str:
        return "approval" if state.get("pending") else "plan"

    def after_decide(state: IncidentState) -> str:
        outcome = (state.get("decision") or {}).get("outcome")
        if outcome == "approved":
            return "execute"
        if outcome == "refused":
            return "approval"  # not a valid answer: keep waiting for one
        return "plan"

    def after_execute(state: IncidentState) -> str:
        return "verify" if state.get("pending") else "plan"

    graph: StateGraph[IncidentState] = StateGraph(IncidentState)
    graph.add_node("open", open_incident)
    graph.add_node("select_runbook", select)
    graph.add_node("walk", walk_one)
    graph.add_node("plan", plan)
    graph.add_node("propose", propose)
    graph.add_node("approval", approval)
    graph.add_node("decide", decide)
    graph.add_node("execute", execute)
    graph.add_node("verify", verify)
    graph.add_node("finish", finish)
    graph.add_edge(START, "open")
    graph.add_edge("open", "select_runbook")
    graph.add_conditional_edges("select_runbook", after_select, ["walk", "finish"])
    graph.add_conditional_edges("walk", after_walk, ["walk", "plan", "finish"])
    graph.add_conditional_edges("plan", after_plan, ["propose", "finish"])
    graph.add_conditional_edges("propose", after_propose, ["approval", "plan"])
    graph.add_edge("approval", "decide")
    graph.add_conditional_edges("decide", after_decide, ["execute", "approval", "plan"])
    graph.add_conditional_edges("execute", after_execute, ["verify", "plan"])
    graph.add_edge("verify", "plan")
    graph.add_edge("finish", END)
    return graph
