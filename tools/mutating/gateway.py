"""Mutations of the agent gateway: rollout percentage, fallback, baseline switch, restart."""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field

from tools.clients.gateway import AgentState
from tools.diff import Change
from tools.mutating.base import MutationEvidence, MutationParams, Refused, change, step_key
from tools.platform import Platform
from tools.result import ToolStatus
from tools.spec import Finding, tool

ALL_AGENTS = "*"


class AgentParams(MutationParams):
    agent: str = Field(min_length=1, description='an agent name, or "*" for the whole fleet')


class RolloutParams(AgentParams):
    percentage: int = Field(ge=0, le=100)


def _setting(agent: AgentState, field: str) -> Any:
    return getattr(agent, field)


async def _agent_change(
    platform: Platform, params: AgentParams, what: str, values: dict[str, Any]
) -> Finding:
    """Set ``values`` on one agent or on every agent, one PATCH per agent that differs."""

    async def read() -> dict[str, dict[str, Any]]:
        agents = await platform.gateway.list_agents()
        names = [a.agent for a in agents]
        if params.agent != ALL_AGENTS and params.agent not in names:
            raise Refused("agent", f"unknown agent {params.agent!r}; agents: {', '.join(names)}")
        chosen = [a for a in agents if params.agent in (ALL_AGENTS, a.agent)]
        return {a.agent: {f: _setting(a, f) for f in values} for a in chosen}

    def desired(state: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {name: {**settings, **values} for name, settings in state.items()}

    async def apply(before: dict[str, Any], target: dict[str, Any]) -> None:
        for name, settings in target.items():
            if settings != before[name]:
                await platform.gateway.patch_agent(
                    name, values, step_key(params.idempotency_key, name)
                )

    return await change(params, what=what, read=read, desired=desired, apply=apply)


@tool("set_rollout_percentage", kind="mutate", params=RolloutParams, evidence=MutationEvidence)
async def set_rollout_percentage(platform: Platform, params: RolloutParams) -> Finding:
    """Set the share of traffic an agent (or every agent) sends to its fine-tuned model."""
    return await _agent_change(
        platform,
        params,
        f"rollout of {params.agent} to {params.percentage}%",
        {"rollout_percentage": params.percentage},
    )


@tool("enable_fallback", kind="mutate", params=AgentParams, evidence=MutationEvidence)
async def enable_fallback(platform: Platform, params: AgentParams) -> Finding:
    """Let an agent (or every agent) fall back to its baseline model on fine-tuned failures."""
    return await _agent_change(
        platform, params, f"fallback on for {params.agent}", {"use_fallback": True}
    )


@tool("switch_agent_to_baseline", kind="mutate", params=AgentParams, evidence=MutationEvidence)
async def switch_agent_to_baseline(platform: Platform, params: AgentParams) -> Finding:
    """Serve an agent (or every agent) from its baseline model instead of the fine-tuned one."""
    return await _agent_change(
        platform, params, f"baseline model for {params.agent}", {"use_finetuned": False}
    )


# A restart time this far before our request still counts as ours (the gateway truncates to ms).
_REPLAY_SLACK_MS = 1.0


@tool("restart_gateway", kind="mutate", params=MutationParams, evidence=MutationEvidence)
async def restart_gateway(platform: Platform, params: MutationParams) -> Finding:
    """Restart the gateway so that it re-reads the provider credentials."""
    health = await platform.gateway.health()
    before = {"status": health.status, "agents": health.agents}
    preview = [Change(path="restarted_at", before=None, after="now")]
    if params.dry_run:
        evidence = MutationEvidence(
            applied=False,
            already_applied=False,
            dry_run=True,
            before=before,
            after={**before, "restarted_at": "now"},
            diff=preview,
            idempotency_key=params.idempotency_key,
        )
        return Finding(ToolStatus.OK, "dry run: would restart the gateway", evidence)
    sent_ms = time.time() * 1000
    answer = await platform.gateway.restart(params.idempotency_key)
    # The gateway replays the first answer to a repeated key; its restart time then predates us.
    replayed = answer.at is not None and answer.at < sent_ms - _REPLAY_SLACK_MS
    health = await platform.gateway.health()
    after = {"status": health.status, "agents": health.agents, "restarted_at": answer.at}
    evidence = MutationEvidence(
        applied=answer.restarted and not replayed,
        already_applied=replayed,
        dry_run=False,
        before=before,
        after=after,
        diff=[] if replayed else [Change(path="restarted_at", before=None, after=answer.at)],
        idempotency_key=params.idempotency_key,
    )
    if replayed:
        return Finding(ToolStatus.OK, "gateway restart already done under this key", evidence)
    if not answer.restarted:
        return Finding(ToolStatus.ERROR, "the gateway did not confirm the restart", evidence)
    return Finding(ToolStatus.OK, f"gateway restarted; now {health.status}", evidence)
