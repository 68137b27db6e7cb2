"""Plain functions of the tree walk: from a runbook node and a tool result to the next node.

Nothing here does I/O; the graph nodes call these and do the I/O around them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.agent.state import CausePlan
from bot.runbooks.expr import compile_expr, render_template
from bot.runbooks.expr import resolve_params as resolve_params
from bot.runbooks.model import CheckNode
from tools.result import ToolResult, ToolStatus


def expression_names(
    *, target: str, trigger_labels: dict[str, str], facts: dict[str, Any], evidence: Any = None
) -> dict[str, Any]:
    """The names a runbook expression may use (docs/runbook-format.md)."""
    return {
        "evidence": evidence if evidence is not None else {},
        "target": target,
        "trigger": trigger_labels,
        "facts": facts,
    }


def names(
    state: Mapping[str, Any], evidence: Any = None, *, facts: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The expression names of an incident's state; ``facts`` are the ones recorded so far when a
    node has recorded more than its input state holds."""
    return expression_names(
        target=state["target"],
        trigger_labels=dict(state["trigger"].get("labels", {})),
        facts=facts if facts is not None else state.get("facts", {}),
        evidence=evidence,
    )


def render(text: str, names: dict[str, Any]) -> str:
    """Fill ``{facts.x}`` placeholders of an explanation or instruction."""
    return render_template(text, names)


def record_facts(node: CheckNode, names: dict[str, Any]) -> dict[str, Any]:
    """The facts a check records from its evidence."""
    return {name: compile_expr(src).evaluate(names) for name, src in node.record.items()}


def choose_branch(node: CheckNode, result: ToolResult, names: dict[str, Any]) -> tuple[str, str]:
    """``(branch label, next node)`` for a check: no data never leads to a guess."""
    if result.status is not ToolStatus.OK:
        target = node.on_no_data
        if target is None:  # lint refuses such runbooks; be safe anyway
            raise ValueError("check has no on_no_data branch")
        return f"no data ({result.status.value})", target
    for branch in node.branches:
        if compile_expr(branch.when).truth(names):
            return branch.when, branch.goto
    return "otherwise", node.otherwise


def free_text(node: CheckNode, result: ToolResult, label: str, names: dict[str, Any]) -> str | None:
    """The free text an LLM may read for this check: only when the check declares ``interpret``,
    its tool answered, no branch rule matched and the text is not empty."""
    if node.interpret is None or result.status is not ToolStatus.OK or label != "otherwise":
        return None
    value = compile_expr(node.interpret.text).evaluate(names)
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if text.strip() else None


def interpret_options(node: CheckNode) -> dict[str, str]:
    """The check's options for the LLM: goto → what that reading means."""
    return {o.goto: o.means for o in node.interpret.options} if node.interpret else {}


def llm_branch(node: CheckNode, goto: str, reason: str) -> tuple[str, str]:
    """``(branch label, next node)`` of an LLM's choice, which must be one of the options: any
    other answer keeps ``otherwise``. The label says that the branch came from the LLM."""
    if goto not in interpret_options(node):
        return "otherwise", node.otherwise
    return f"llm: {goto} ({reason})", goto


def cache_key(tool: str, params: dict[str, Any]) -> str:
    return f"{tool}:{json.dumps(params, sort_keys=True, default=str)}"


def idempotency_key(incident_id: str, node: str, attempt: int) -> str:
    """Deterministic from the incident's own state, so a re-run node proposes the same key."""
    return f"{incident_id}:{node}:{attempt}"


def current_plan(state: Mapping[str, Any]) -> CausePlan:
    """A copy of the first unfinished plan: the cause whose remedies are being tried."""
    plans: Sequence[CausePlan] = state.get("plans", [])
    return next(p for p in plans if p["outcome"] is None).copy()


def next_option(state: Mapping[str, Any]) -> CausePlan:
    """The current plan moved on to its next remedy (the last one was rejected or failed)."""
    plan = current_plan(state)
    plan["index"] += 1
    return plan


def final_state(
    plans: Sequence[Mapping[str, Any]], escalated: bool, diagnoses: Sequence[Mapping[str, Any]]
) -> str:
    """The incident's end: escalated > not recovered > advice > resolved; no cause = no fault."""
    if escalated:
        return "escalated"
    outcomes = [p.get("outcome") for p in plans]
    if not outcomes:
        return "escalated" if diagnoses else "no_fault"
    if any(o in ("not_recovered", "exhausted") for o in outcomes):
        return "not_recovered"
    if any(o == "advice" for o in outcomes):
        return "advice_given"
    return "resolved"


def deterministic_summary(
    state: Mapping[str, Any], final: str, escalation: Mapping[str, str] | None
) -> str:
    """A plain summary built from the recorded facts (used when no LLM is configured)."""
    causes = [d["id"] for d in state.get("diagnoses", []) if d.get("role") == "cause"]
    impacts = [d["id"] for d in state.get("diagnoses", []) if d.get("role") == "impact"]
    parts = [f"{state.get('target')}: {final.replace('_', ' ')}."]
    if causes:
        parts.append(f"Cause: {', '.join(causes)}.")
    if impacts:
        parts.append(f"Impact: {', '.join(impacts)}.")
    for action in state.get("actions", []):
        verdict = action.get("verified") or action.get("execution_status") or action.get("decision")
        parts.append(f"{action.get('tool')} → {verdict}.")
    if escalation:
        parts.append(f"Escalated to {escalation.get('to')}: {escalation.get('reason')}")
    return " ".join(parts)
