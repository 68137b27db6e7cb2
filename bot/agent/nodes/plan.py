"""``plan``: the next remedy to try, cause by cause, in the runbook's order."""

from __future__ import annotations

from bot.agent import walk
from bot.agent.deps import AgentDeps
from bot.agent.events import StepLog
from bot.agent.state import CausePlan, IncidentState
from bot.runbooks.model import ActionNode, AdviceNode, EscalateNode


async def plan(state: IncidentState, deps: AgentDeps) -> IncidentState:
    """Pick the next remedy option of each unfinished cause, in order: advice is recorded and
    the next cause considered; an escalation ends the incident; an action goes to ``propose``.
    A cause whose options are all used up (rejected, expired, failed, not recovered) escalates.
    """
    runbook = deps.runbooks.by_id[state["runbook"] or ""]
    log = StepLog(state, deps)
    changed: list[CausePlan] = []
    advice: list[str] = []
    update: IncidentState = {"pending": None, "cursor": None}
    for stored in state.get("plans", []):
        if stored["outcome"] is not None:
            continue
        current = CausePlan(**stored)
        if current["index"] >= len(current["options"]):
            current["outcome"] = "exhausted"
            changed.append(current)
            reason = (
                f"every remedy of {current['diagnosis']} was rejected, expired or did not "
                "recover the service"
            )
            update["escalation"] = await _escalate(log, runbook.id, "plan", "on-call", reason)
            break
        name = current["options"][current["index"]]
        option = runbook.node(name)
        if isinstance(option, ActionNode):
            update["cursor"] = name  # the action to propose; the plan moves once it is answered
            break
        changed.append(current)
        if isinstance(option, EscalateNode):
            current["outcome"] = "escalated"
            reason = walk.render(option.reason, walk.names(state))
            update["escalation"] = await _escalate(log, runbook.id, name, option.to, reason)
            break
        if isinstance(option, AdviceNode):
            text = walk.render(option.instructions, walk.names(state))
            advice.append(f"{option.title}: {text}")
            current["outcome"] = "advice"
            await log.add(
                node=name, runbook=runbook.id, kind="advice", title=option.title, summary=text
            )
            continue
        current["outcome"] = "exhausted"  # lint refuses other node kinds as remedies
    return {**update, "plans": changed, "advice": advice, "steps": log.entries}


async def _escalate(log: StepLog, runbook: str, node: str, to: str, reason: str) -> dict[str, str]:
    await log.add(
        node=node, runbook=runbook, kind="escalate", title=f"escalate to {to}", summary=reason
    )
    return {"to": to, "reason": reason}


def after_plan(state: IncidentState) -> str:
    if state.get("escalation"):
        return "finish"
    return "propose" if state.get("cursor") else "finish"
