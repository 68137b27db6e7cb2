"""`agent_health` and `fallback_probe`: the agent gateway's view of the fine-tuned fleet."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, Field

from tools.clients.errors import NotFound
from tools.platform import Platform
from tools.result import ToolStatus
from tools.spec import Finding, tool

# The probe asks for something any model can answer; it tests the path, not the model's quality.
PROBE_MESSAGES = [{"role": "user", "content": "Health probe: reply with the single word OK."}]


def _unknown_agent(agent: str, exc: NotFound) -> Finding:
    known = exc.body.get("agents") if isinstance(exc.body, Mapping) else None
    listed = f"; known agents: {', '.join(map(str, known))}" if isinstance(known, list) else ""
    return Finding(
        ToolStatus.ERROR, f"the gateway has no agent {agent!r}{listed}", None, exc.reason + listed
    )


class AgentHealthParams(BaseModel):
    agent: str | None = Field(None, description="one agent; omit for the whole fleet")


class AgentDetail(BaseModel):
    status: str
    finetuned_model: str | None
    baseline_model: str | None
    use_finetuned: bool | None
    use_fallback: bool | None
    rollout_percentage: int | None
    last_error: str | None
    endpoint: str | None = Field(
        None, description="the serving endpoint of the fine-tuned model (None: the provider)"
    )


class AgentHealthEvidence(BaseModel):
    gateway_status: str
    agents: dict[str, str]
    agents_down: int
    agents_total: int
    all_down: bool
    agents_failing: int = Field(0, description="agents whose status is not ok")
    all_failing: bool = Field(
        False, description="every agent is degraded or down: a fleet-wide cause, not one agent's"
    )
    agent: AgentDetail | None = None
    key_rotation_pending: bool | None = Field(
        None, description="a newer provider key is in the secret store than the gateway holds"
    )


@tool("agent_health", kind="read", params=AgentHealthParams, evidence=AgentHealthEvidence)
async def agent_health(platform: Platform, params: AgentHealthParams) -> Finding:
    """Gateway status, every agent's status, and one agent's configuration."""
    health = await platform.gateway.health()
    detail: AgentDetail | None = None
    if params.agent:
        try:
            state = await platform.gateway.agent_health(params.agent)
        except NotFound as exc:
            return _unknown_agent(params.agent, exc)
        detail = AgentDetail.model_validate(state.model_dump())
    down = sorted(name for name, status in health.agents.items() if status == "down")
    failing = sum(1 for status in health.agents.values() if status != "ok")
    total = len(health.agents)
    evidence = AgentHealthEvidence(
        gateway_status=health.status,
        agents=health.agents,
        agents_down=len(down),
        agents_total=total,
        all_down=total > 0 and len(down) == total,
        agents_failing=failing,
        all_failing=total > 0 and failing == total,
        agent=detail,
        key_rotation_pending=health.key_rotation_pending,
    )
    summary = f"gateway {health.status}, {len(down)}/{total} agents down"
    if down:
        summary += f" ({', '.join(down)})"
    if detail is not None:
        summary += (
            f"; {params.agent}: {detail.status}, fine-tuned {detail.finetuned_model} "
            f"(use_finetuned={detail.use_finetuned}, use_fallback={detail.use_fallback}, "
            f"rollout {detail.rollout_percentage}%)"
        )
        if detail.endpoint:
            summary += f", fine-tuned model served by endpoint {detail.endpoint}"
        if detail.last_error:
            summary += f", last error: {detail.last_error}"
    return Finding(ToolStatus.OK, summary, evidence)


class FallbackProbeParams(BaseModel):
    agent: str = Field(min_length=1)


class FallbackProbeEvidence(BaseModel):
    answered: bool
    fell_back: bool
    model_used: str | None
    error: str | None


@tool("fallback_probe", kind="read", params=FallbackProbeParams, evidence=FallbackProbeEvidence)
async def fallback_probe(platform: Platform, params: FallbackProbeParams) -> Finding:
    """Send one probe chat (fine-tuned first, fallback allowed) and report who answered."""
    try:
        answer = await platform.gateway.chat(
            params.agent, PROBE_MESSAGES, use_finetuned=True, use_fallback=True
        )
    except NotFound as exc:
        return _unknown_agent(params.agent, exc)
    evidence = FallbackProbeEvidence(
        answered=answer.answered,
        fell_back=answer.fell_back,
        model_used=answer.model_used,
        error=answer.error,
    )
    if not answer.answered:
        summary = f"{params.agent}: no model answered ({answer.error or 'no error given'})"
    elif answer.fell_back:
        summary = f"{params.agent}: answered by fallback {answer.model_used} ({answer.error})"
    else:
        summary = f"{params.agent}: answered by {answer.model_used}"
    return Finding(ToolStatus.OK, summary, evidence)
