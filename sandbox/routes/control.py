"""The control plane (``/sandbox``): read or replace the world, list and inject faults."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from sandbox.faults import FAULTS, FaultError, get_fault
from sandbox.routes.common import Answer
from sandbox.state import SandboxState
from sandbox.world import World


def fault_json(fault_id: str) -> dict[str, Any]:
    fault = FAULTS[fault_id]
    return {
        "id": fault.id,
        "title": fault.title,
        "source": fault.source,
        "target_kind": fault.target_kind,
        "default_target": fault.default_target,
    }


def control_router(state: SandboxState) -> APIRouter:
    router = APIRouter()

    @router.get("/world")
    async def get_world() -> dict[str, Any]:
        world = await state.refresh_aliases()
        return world.model_dump(mode="json")

    @router.put("/world")
    async def put_world(request: Request) -> dict[str, Any]:
        try:
            new = World.model_validate(await request.json())
        except (ValidationError, ValueError) as exc:
            raise Answer(JSONResponse({"error": str(exc)[:2000]}, status_code=400)) from None
        world = await state.mutate(lambda _old: new)
        return world.model_dump(mode="json")

    @router.get("/faults")
    async def faults() -> dict[str, Any]:
        return {"faults": [fault_json(f) for f in sorted(FAULTS)]}

    @router.post("/faults/{fault_id}")
    async def inject(fault_id: str, request: Request) -> dict[str, Any]:
        try:
            body = await request.json() if await request.body() else {}
        except ValueError:
            body = {}
        target = body.get("target") if isinstance(body, dict) else None
        try:
            fault = get_fault(fault_id)
        except KeyError as exc:
            raise Answer(JSONResponse({"error": str(exc)}, status_code=404)) from None
        try:
            await state.mutate(lambda world: fault.apply(world, target))
        except FaultError as exc:
            raise Answer(JSONResponse({"error": str(exc)}, status_code=400)) from None
        return {"injected": fault_id, "target": target or fault.default_target}

    @router.get("/delays")
    async def get_delays() -> dict[str, Any]:
        return {"mutations_s": state.mutation_delay_s, "in_flight": state.mutations_in_flight}

    @router.post("/delays")
    async def set_delays(request: Request) -> dict[str, Any]:
        # Slow platform writes on purpose: lets a test kill a client mid-change.
        try:
            body = await request.json()
            delay = float(body.get("mutations_s", 0.0))
        except (ValueError, TypeError, AttributeError):
            delay = -1.0
        if not 0.0 <= delay <= 600.0:
            message = "mutations_s must be a number of seconds in [0, 600]"
            raise Answer(JSONResponse({"error": message}, status_code=400)) from None
        state.mutation_delay_s = delay
        return {"mutations_s": state.mutation_delay_s, "in_flight": state.mutations_in_flight}

    return router
