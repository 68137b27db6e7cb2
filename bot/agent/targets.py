"""Entry selection: what kind of thing the incident is about, and which runbook starts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tools.result import ToolResult, ToolStatus

if TYPE_CHECKING:
    from bot.agent.deps import AgentDeps
    from bot.agent.state import IncidentState


# Names an on-call engineer may use for "every agent of the gateway".
FLEET_NAMES = frozenset({"*", "fleet", "all-agents", "gateway"})


@dataclass(frozen=True)
class RunbookChoice:
    target_kind: str
    runbook: str | None
    entry: str | None
    reason: str


async def select_runbook(
    deps: AgentDeps,
    state: IncidentState,
    call_tool: Callable[..., Awaitable[ToolResult]],
) -> RunbookChoice:
    """Pick the runbook: an alert's name first, then the target's kind as the platform sees it."""
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
    kind: str | None = None
    reason = ""
    if "agent" in labels:
        kind, reason = "agent", "the trigger names an agent"
    elif "endpoint" in labels:
        kind, reason = "endpoint", "the trigger names a serving endpoint"
    else:
        if target in FLEET_NAMES:
            return _first(deps, "agent", f"{target!r} names the whole agent fleet")
        health = await call_tool(state, "agent_health", {"agent": target}, cached=True)
        known = health.evidence.get("agents") or {}
        if health.status is ToolStatus.OK and (health.evidence.get("agent") or target in known):
            kind, reason = "agent", f"the agent gateway knows {target!r}"
        else:
            kind, reason = (
                "endpoint",
                f"{target!r} is not an agent of the gateway; treating it as a serving endpoint",
            )
    return _first(deps, kind, reason)


def _first(deps: AgentDeps, kind: str, reason: str) -> RunbookChoice:
    runbooks = deps.runbooks.for_kind(kind)
    if not runbooks:
        return RunbookChoice(kind, None, None, f"no runbook applies to a {kind}")
    chosen = runbooks[0]
    return RunbookChoice(kind, chosen.id, chosen.entry, reason)
