"""Entry selection: what kind of thing the incident is about, and which runbook starts.

A target is only ever called unknown when every source that could know it answered: with the
agent gateway down, ``qa_agent`` is not "a missing serving endpoint" but a name nobody could
check, and the incident goes to the gateway's owner saying so, with the request that failed.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.agent import walk
from bot.runbooks.model import EscalateNode
from tools.result import ToolResult, ToolStatus

if TYPE_CHECKING:
    from bot.agent.deps import AgentDeps
    from bot.agent.state import IncidentState


# Names an on-call engineer may use for "every agent of the gateway".
FLEET_NAMES = frozenset({"*", "fleet", "all-agents", "all_agents", "gateway"})
# The escalation node, in the runbook of agents, that names the gateway's owner.
GATEWAY_UNREACHABLE = "escalate_gateway_unreachable"
# When no runbook names the gateway's owner, the first escalation level takes it.
FALLBACK_OWNER = "on-call"


@dataclass(frozen=True)
class RunbookChoice:
    target_kind: str
    runbook: str | None
    entry: str | None
    reason: str
    # Set when the incident ends at selection: no runbook applies, or the target's kind cannot
    # be told because a source that could know it did not answer.
    escalation: dict[str, str] | None = None
    # Set when the incident is about another name than the trigger's (the endpoint beside a
    # registry model name).
    target: str | None = None


async def select_runbook(
    deps: AgentDeps,
    state: IncidentState,
    call_tool: Callable[..., Awaitable[ToolResult]],
) -> RunbookChoice:
    """Pick the runbook: an alert's name first, then the target's kind as the platform sees it."""
    beside = await endpoint_beside_model(state, call_tool)
    state_target = state["target"]
    if beside is not None:
        # A registry model name is not an endpoint name: the alert's endpoint label says which
        # endpoint serves it, and the incident is about that endpoint.
        state = {**state, "target": beside}
        choice = await _choose(deps, state, call_tool)
        why = f"{beside!r} serves the registry model {state_target!r}; {choice.reason}"
        return dataclasses.replace(choice, target=beside, reason=why)
    return await _choose(deps, state, call_tool)


# Labels that may name the endpoint beside a ``model`` label holding a registry model name.
_ENDPOINT_LABELS = ("endpoint", "endpoint_name", "service", "target")


async def endpoint_beside_model(
    state: IncidentState, call_tool: Callable[..., Awaitable[ToolResult]]
) -> str | None:
    """The endpoint another label of the alert names when its target came from ``model``.

    ``model`` carries the registry name (``main.retail.shelf_model``) while ``service`` or
    ``endpoint_name`` carries the endpoint that serves it; only an endpoint the serving API
    knows is taken, so an agent's provider model id or a fleet ``service`` changes nothing.
    """
    labels: dict[str, str] = dict(state["trigger"].get("labels", {}))
    target = state["target"]
    if labels.get("model", "").strip() == target:
        for label in _ENDPOINT_LABELS:
            name = labels.get(label, "").strip()
            if not name or name == target or name in FLEET_NAMES:
                continue
            status = await call_tool(state, "endpoint_status", {"endpoint": name}, cached=True)
            if status.status is ToolStatus.OK and status.evidence.get("exists"):
                return name
    if target.count(".") == 2 and "/" not in target and ":" not in target:
        return await endpoint_serving(state, call_tool, target)
    return None


# How many endpoints are read to find the one serving a registry model (a workspace with more
# is asked by endpoint name instead).
MAX_ENDPOINTS_SCANNED = 25


async def endpoint_serving(
    state: IncidentState, call_tool: Callable[..., Awaitable[ToolResult]], model: str
) -> str | None:
    """The one endpoint whose primary served model is the registry model ``model``
    (``catalog.schema.model``); ``None`` when none or several serve it, or it is an endpoint."""
    listing = await call_tool(state, "list_endpoints", {}, cached=True)
    names = [str(n) for n in listing.evidence.get("endpoints") or []]
    if listing.status is not ToolStatus.OK or model in names:
        return None
    serving = []
    for name in names[:MAX_ENDPOINTS_SCANNED]:
        status = await call_tool(state, "endpoint_status", {"endpoint": name}, cached=True)
        if status.evidence.get("primary_model") == model:
            serving.append(name)
    return serving[0] if len(serving) == 1 else None


async def _choose(
    deps: AgentDeps,
    state: IncidentState,
    call_tool: Callable[..., Awaitable[ToolResult]],
) -> RunbookChoice:
    trigger = state["trigger"]
    target = state["target"]
    labels: dict[str, str] = dict(trigger.get("labels", {}))
    alertname = trigger.get("alertname")
    if alertname:
        runbook = deps.runbooks.for_alert(str(alertname))
        if runbook is not None:
            return RunbookChoice(
                runbook.applies_to,
                runbook.id,
                runbook.entry,
                f"alert {alertname} starts {runbook.id}",
            )
    if "agent" in labels:
        return _first(deps, "agent", "the trigger names an agent")
    if "endpoint" in labels:
        return _first(deps, "endpoint", "the trigger names a serving endpoint")
    if target in FLEET_NAMES:
        return _first(deps, "agent", f"{target!r} names the whole agent fleet")
    health = await call_tool(state, "agent_health", {"agent": target}, cached=True)
    known = health.evidence.get("agents") or {}
    if health.status is ToolStatus.OK and (health.evidence.get("agent") or target in known):
        return _first(deps, "agent", f"the agent gateway knows {target!r}")
    if health.status is ToolStatus.OK or _said_no(health):
        fleet = await call_tool(state, "agent_health", {}, cached=True)
        return _first(deps, "endpoint", not_an_agent(target, fleet.evidence.get("agents") or {}))
    # The gateway did not answer, so it may well know the target: only the serving API saying
    # it has such an endpoint settles the kind.
    status = await call_tool(state, "endpoint_status", {"endpoint": target}, cached=True)
    if status.status is ToolStatus.OK and status.evidence.get("exists"):
        return _first(
            deps,
            "endpoint",
            f"the serving API knows {target!r} as an endpoint "
            f"(the agent gateway did not answer: {failure(health)})",
        )
    return gateway_unreachable(deps, state, health, status)


def not_an_agent(target: str, agents: Mapping[str, object]) -> str:
    """Why ``target`` is read as a serving endpoint, naming the agents the gateway does know (an
    unknown name lists the known targets; a near miss is offered as the likely one)."""
    known = sorted(agents)
    reason = f"{target!r} is not an agent of the gateway"
    if known:
        reason += f" (known agents: {', '.join(known)})"
        close = difflib.get_close_matches(target, known, n=1, cutoff=0.8)
        if close:
            reason += f"; did you mean {close[0]!r}?"
    return reason + "; treating it as a serving endpoint"


def _said_no(result: ToolResult) -> bool:
    """The gateway answered that it has no such agent (HTTP 404): an answer, not an outage."""
    last = result.requests[-1] if result.requests else None
    return last is not None and last.status_code == 404


def failure(result: ToolResult) -> str:
    """The request a tool made and how it failed, in one line a person can re-run."""
    request = result.requests[-1] if result.requests else None
    if request is None:
        return result.error or result.summary
    problem = request.error or result.error or result.summary
    return f"{request.method} {request.url}: {problem}" if problem else request.as_curl()


def gateway_unreachable(
    deps: AgentDeps, state: IncidentState, health: ToolResult, status: ToolResult
) -> RunbookChoice:
    """The escalation to the gateway's owner (the agent runbook's own node says who that is)."""
    target = state["target"]
    if status.status is ToolStatus.OK:
        serving = f"the serving API has no endpoint {target!r} either"
    else:
        serving = f"the serving API did not answer either ({failure(status)})"
    reason = (
        f"The agent gateway is unreachable ({failure(health)}) and {serving}: whether {target!r} "
        "is one of the gateway's agents cannot be told, so it is not called unknown."
    )
    for runbook in deps.runbooks.for_kind("agent"):
        node = runbook.nodes.get(GATEWAY_UNREACHABLE)
        if isinstance(node, EscalateNode):
            why = walk.render(node.reason, walk.names(state))
            escalation = {"to": node.to, "reason": f"{reason} {why}"}
            return RunbookChoice("unknown", runbook.id, None, reason, escalation)
    return RunbookChoice("unknown", None, None, reason, {"to": FALLBACK_OWNER, "reason": reason})


def _first(deps: AgentDeps, kind: str, reason: str) -> RunbookChoice:
    runbooks = deps.runbooks.for_kind(kind)
    if not runbooks:
        why = f"no runbook applies to a {kind}"
        return RunbookChoice(kind, None, None, why, {"to": FALLBACK_OWNER, "reason": why})
    chosen = runbooks[0]
    return RunbookChoice(kind, chosen.id, chosen.entry, reason)
