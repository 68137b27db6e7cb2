"""The agent gateway in front of the fine-tuned fleet (docs/sandbox-api.md, "Agent gateway")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError

from sandbox.routes.common import Answer, minutes_ago_ms, now_ms, outage_guard
from sandbox.simulation import (
    FLEET_ERROR_RATE,
    FLEET_FALLBACK_RATE,
    agent_chat,
    last_error,
    settle_after_change,
    slis,
)
from sandbox.state import SandboxState, actor_of
from sandbox.world import Agent, Event, World

_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}


def agent_status(world: World, agent: Agent) -> str:
    """``down`` when the agent's process is down or none of its requests is answered,
    ``degraded`` when more of them fail or fall back than the failure runbook's symptoms allow
    (errors above 5 %, fallbacks above 10 %), else ``ok``."""
    if not agent.process_up:
        return "down"
    values = slis(world, agent.name)
    if (values["error_rate"] or 0) >= 1.0:
        return "down"
    if (values["error_rate"] or 0) > FLEET_ERROR_RATE or (
        values["fallback_rate"] or 0
    ) > FLEET_FALLBACK_RATE:
        return "degraded"
    return "ok"


def agent_json(world: World, agent: Agent) -> dict[str, Any]:
    return {
        "agent": agent.name,
        "status": agent_status(world, agent),
        "finetuned_model": agent.finetuned_model,
        "baseline_model": agent.baseline_model,
        "use_finetuned": agent.use_finetuned,
        "use_fallback": agent.use_fallback,
        "rollout_percentage": agent.rollout_percentage,
        "last_error": last_error(world, agent),
        "endpoint": agent.endpoint,
    }


def _gateway_down() -> JSONResponse:
    return JSONResponse({"error": "gateway unavailable"}, status_code=503)


def _unknown(world: World, name: str) -> Answer:
    return Answer(
        JSONResponse(
            {"error": "unknown agent", "agents": [a.name for a in world.agents]}, status_code=404
        )
    )


class AgentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    use_finetuned: bool | None = None
    use_fallback: bool | None = None
    rollout_percentage: int | None = None


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    messages: list[Any] = []
    use_finetuned: bool | None = None
    use_fallback: bool | None = None


def gateway_router(state: SandboxState) -> APIRouter:
    """The gateway routes, failing as ``world.outages.gateway`` says."""
    router = APIRouter(dependencies=[Depends(outage_guard(state, "gateway", _gateway_down))])

    @router.get("/health")
    async def health() -> dict[str, Any]:
        world = state.world
        agents = {a.name: agent_status(world, a) for a in world.agents}
        values = set(agents.values())
        overall = "down" if values == {"down"} else "ok" if values <= {"ok"} else "degraded"
        # The gateway reads the provider key at start; it says when the secret store has a newer
        # one (Scenario 1: set a valid key, then restart).
        pending = world.provider.key_rotation_pending
        return {"status": overall, "agents": agents, "key_rotation_pending": pending}

    @router.get("/health/{name}")
    async def agent_health(name: str) -> dict[str, Any]:
        agent = state.world.agent(name)
        if agent is None:
            raise _unknown(state.world, name)
        return agent_json(state.world, agent)

    @router.get("/agents")
    async def agents() -> dict[str, Any]:
        return {"agents": [agent_json(state.world, a) for a in state.world.agents]}

    @router.patch("/agents/{name}/config")
    async def patch_agent(name: str, request: Request) -> dict[str, Any]:
        try:
            patch = AgentPatch.model_validate(await request.json())
        except (ValidationError, ValueError) as exc:
            raise Answer(
                JSONResponse({"error": f"bad config: {exc}"[:500]}, status_code=400)
            ) from None
        if patch.rollout_percentage is not None and not 0 <= patch.rollout_percentage <= 100:
            raise Answer(
                JSONResponse(
                    {"error": "rollout_percentage must be between 0 and 100"}, status_code=400
                )
            )
        changes = patch.model_dump(exclude_none=True)
        actor = actor_of(request.headers)

        def apply(world: World) -> World:
            if world.agent(name) is None:
                raise _unknown(world, name)
            copy = world.model_copy(deep=True)
            agent = copy.agent(name)
            assert agent is not None
            previous = {f"previous_{k}": str(getattr(agent, k)).lower() for k in changes}
            for key, value in changes.items():
                setattr(agent, key, value)
            settle_after_change(copy, [name])
            copy.events.append(
                Event(
                    minutes_ago=0,
                    type="agent_config_changed",
                    resource=name,
                    actor=actor,
                    details={**{k: str(v).lower() for k, v in changes.items()}, **previous},
                )
            )
            return World.model_validate(copy.model_dump())

        world = await state.mutate(apply)
        agent = world.agent(name)
        assert agent is not None
        return agent_json(world, agent)

    @router.post("/agents/{name}/chat")
    async def chat(name: str, request: Request) -> JSONResponse:
        world = state.world
        agent = world.agent(name)
        if agent is None:
            raise _unknown(world, name)
        try:
            body = ChatIn.model_validate(await request.json())
        except (ValidationError, ValueError):
            body = ChatIn()
        use_ft = agent.use_finetuned and agent.rollout_percentage > 0
        outcome = agent_chat(
            world,
            agent,
            use_ft if body.use_finetuned is None else body.use_finetuned,
            agent.use_fallback if body.use_fallback is None else body.use_fallback,
        )
        if not outcome.answered:
            return JSONResponse(
                {"error": outcome.error, "model_used": None, "fell_back": outcome.fell_back},
                status_code=502,
            )
        return JSONResponse(
            {
                "content": f"[{agent.name}] answered by {outcome.model_used}",
                "model_used": outcome.model_used,
                "fell_back": outcome.fell_back,
                "error": outcome.error,
            }
        )

    @router.post("/restart")
    async def restart(request: Request) -> dict[str, Any]:
        actor = actor_of(request.headers)

        def apply(world: World) -> World:
            copy = world.model_copy(deep=True)
            # Re-reading credentials picks up a key rotated in the secret store; restarting the
            # agent processes brings crashed ones back.
            if copy.provider.key_rotation_pending:
                copy.provider.auth = "ok"
                copy.provider.key_rotation_pending = False
            for agent in copy.agents:
                agent.process_up = True
            settle_after_change(copy, [a.name for a in copy.agents])
            copy.events.append(
                Event(
                    minutes_ago=0,
                    type="agent_config_changed",
                    resource="gateway",
                    actor=actor,
                    details={"action": "restart"},
                )
            )
            return copy

        await state.mutate(apply)
        return {"restarted": True, "at": now_ms()}

    @router.get("/logs")
    async def logs(
        since_minutes: float = 60, level: str | None = None, source: str | None = None
    ) -> dict[str, Any]:
        floor = _LEVELS.get((level or "DEBUG").upper(), 0)
        lines = [
            line
            for line in sorted(state.world.logs, key=lambda line: -line.minutes_ago)
            if line.minutes_ago <= since_minutes
            and _LEVELS[line.level] >= floor
            and (source is None or line.source == source)
        ]
        return {
            "lines": [
                {
                    "timestamp": minutes_ago_ms(line.minutes_ago),
                    "level": line.level,
                    "source": line.source,
                    "message": line.message,
                }
                for line in lines
            ]
        }

    return router
