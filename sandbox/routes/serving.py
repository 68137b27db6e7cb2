"""Databricks REST: serving endpoints, invocations, pipelines, workspace export, audit events."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sandbox.routes.common import databricks_error, minutes_ago_ms, outage_guard, unavailable
from sandbox.simulation import invoke, primary_version
from sandbox.state import SandboxState, actor_of
from sandbox.world import (
    WORKLOAD_CONCURRENCY,
    Endpoint,
    EndpointConfig,
    Event,
    Pipeline,
    Route,
    ServedEntity,
    World,
)

# An update in progress for this long is stuck: a new config may supersede it.
STUCK_AFTER_MINUTES = 15.0


# --------------------------------------------------------------------------- rendering


def config_json(config: EndpointConfig) -> dict[str, Any]:
    """An endpoint config in the Databricks wire format."""
    return {
        "served_entities": [
            {
                "name": e.name,
                "entity_name": e.entity_name,
                "entity_version": e.entity_version,
                "workload_size": e.workload_size,
                "workload_type": e.workload_type,
                "scale_to_zero_enabled": e.scale_to_zero_enabled,
                "state": {
                    "deployment": e.deployment,
                    "deployment_state_message": e.deployment_state_message,
                },
            }
            for e in config.served_entities
        ],
        "traffic_config": {
            "routes": [
                {
                    "served_model_name": r.served_entity_name,
                    "served_entity_name": r.served_entity_name,
                    "traffic_percentage": r.traffic_percentage,
                }
                for r in config.routes
            ]
        },
    }


def endpoint_json(ep: Endpoint) -> dict[str, Any]:
    """An endpoint as ``GET /api/2.0/serving-endpoints/{name}`` answers it."""
    body: dict[str, Any] = {
        "name": ep.name,
        "id": ep.id,
        "creator": ep.creator,
        "creation_timestamp": minutes_ago_ms(ep.created_minutes_ago),
        "last_updated_timestamp": minutes_ago_ms(ep.updated_minutes_ago),
        "state": {"ready": ep.ready, "config_update": ep.config_update},
        "config": config_json(ep.config),
        "tags": [{"key": k, "value": v} for k, v in ep.tags.items()],
        "permission_level": "CAN_MANAGE",
        "route_optimized": False,
    }
    if ep.pending_config is not None:
        body["pending_config"] = config_json(ep.pending_config)
    return body


def event_json(event: Event) -> dict[str, Any]:
    body: dict[str, Any] = {
        "timestamp": minutes_ago_ms(event.minutes_ago),
        "type": event.type,
        "resource": event.resource,
        "actor": event.actor,
        "details": event.details,
    }
    if event.config is not None:
        body["config"] = config_json(event.config)
    return body


def source_path(pipeline: Pipeline) -> str:
    """The workspace path of a pipeline's SQL file."""
    return f"/Workspace/pipelines/{pipeline.name}/transform.sql"


# --------------------------------------------------------------------------- config requests


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class EntityIn(_Loose):
    name: str = ""
    entity_name: str = ""
    entity_version: str = ""
    workload_size: str = "Small"
    workload_type: str = "CPU"
    scale_to_zero_enabled: bool = False

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            data["entity_name"] = data.get("entity_name") or data.get("model_name", "")
            version = data.get("entity_version") or data.get("model_version", "")
            data["entity_version"] = str(version)
        return data


class RouteIn(_Loose):
    served_entity_name: str = ""
    served_model_name: str = ""
    traffic_percentage: int = 0


class TrafficIn(_Loose):
    routes: list[RouteIn] = Field(default_factory=list)


class ConfigIn(_Loose):
    served_entities: list[EntityIn] = Field(default_factory=list)
    served_models: list[EntityIn] = Field(default_factory=list)
    traffic_config: TrafficIn | None = None


def parse_config(world: World, body: Any) -> EndpointConfig:
    """A request's config as an :class:`EndpointConfig`, or a 400 naming the field at fault."""
    try:
        raw = ConfigIn.model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise databricks_error(400, "INVALID_PARAMETER_VALUE", f"{where}: {err['msg']}") from None
    entities_in = raw.served_entities or raw.served_models
    if not entities_in:
        raise databricks_error(400, "INVALID_PARAMETER_VALUE", "served_entities must not be empty")
    entities = []
    for i, e in enumerate(entities_in):
        if e.workload_size not in WORKLOAD_CONCURRENCY:
            raise databricks_error(
                400,
                "INVALID_PARAMETER_VALUE",
                f"served_entities[{i}].workload_size: {e.workload_size!r} is not one of "
                f"{sorted(WORKLOAD_CONCURRENCY)}",
            )
        model = world.model(e.entity_name)
        if model is None:
            raise databricks_error(
                400,
                "INVALID_PARAMETER_VALUE",
                f"served_entities[{i}].entity_name: registered model {e.entity_name!r} not found",
            )
        if model.version(e.entity_version) is None:
            raise databricks_error(
                400,
                "INVALID_PARAMETER_VALUE",
                f"served_entities[{i}].entity_version: model {e.entity_name!r} has no version "
                f"{e.entity_version!r}",
            )
        entities.append(
            ServedEntity(
                name=e.name,
                entity_name=e.entity_name,
                entity_version=e.entity_version,
                workload_size=e.workload_size,  # type: ignore[arg-type]
                workload_type=e.workload_type,
                scale_to_zero_enabled=e.scale_to_zero_enabled,
            )
        )
    names = {e.name for e in entities}
    routes = []
    for i, r in enumerate(raw.traffic_config.routes if raw.traffic_config else []):
        name = r.served_entity_name or r.served_model_name
        if name not in names:
            raise databricks_error(
                400,
                "INVALID_PARAMETER_VALUE",
                f"traffic_config.routes[{i}].served_entity_name: {name!r} is not one of the served "
                f"entities {sorted(names)}",
            )
        if not 0 <= r.traffic_percentage <= 100:
            raise databricks_error(
                400,
                "INVALID_PARAMETER_VALUE",
                f"traffic_config.routes[{i}].traffic_percentage must be between 0 and 100",
            )
        routes.append(Route(served_entity_name=name, traffic_percentage=r.traffic_percentage))
    if routes and sum(r.traffic_percentage for r in routes) != 100:
        total = sum(r.traffic_percentage for r in routes)
        raise databricks_error(
            400,
            "INVALID_PARAMETER_VALUE",
            f"traffic_config.routes: traffic percentages must sum to 100, got {total}",
        )
    if not routes and len(entities) > 1:
        raise databricks_error(
            400,
            "INVALID_PARAMETER_VALUE",
            "traffic_config.routes is required with several entities",
        )
    return EndpointConfig(served_entities=entities, routes=routes)


def _failed_entities(ep: Endpoint) -> dict[tuple[str, str], str]:
    """``(model, version) -> message`` of the entities whose deployment failed."""
    entities = [*ep.config.served_entities]
    if ep.pending_config is not None:
        entities += ep.pending_config.served_entities
    return {
        (e.entity_name, e.entity_version): e.deployment_state_message or "deployment failed"
        for e in entities
        if e.deployment == "DEPLOYMENT_FAILED"
    }


def sticky_failure(ep: Endpoint, config: EndpointConfig) -> str | None:
    """The message a new config fails with when it deploys what already failed to deploy: a
    failed build or load does not fix itself, so re-applying the same config fails again."""
    if ep.config_update != "UPDATE_FAILED":
        return None
    failed = _failed_entities(ep)
    for entity in config.served_entities:
        message = failed.get((entity.entity_name, entity.entity_version))
        if message is not None:
            return message
    return None


def fail_again(
    world: World, ep: Endpoint, config: EndpointConfig, message: str, actor: str
) -> None:
    """Record another failed deployment of ``config`` on ``ep`` (in ``world``, a copy)."""
    failed = config.model_copy(deep=True)
    for entity in failed.served_entities:
        entity.deployment = "DEPLOYMENT_FAILED"
        entity.deployment_state_message = message
    if ep.ready == "READY" and ep.pending_config is not None:
        ep.pending_config = failed  # the old config keeps serving
    else:
        ep.config = failed
    ep.config_update = "UPDATE_FAILED"
    ep.updated_minutes_ago = 0
    world.events.append(
        Event(
            minutes_ago=0,
            type="endpoint_config_failed",
            resource=ep.name,
            actor=actor,
            details={"message": message},
        )
    )


def _not_found(name: str) -> Exception:
    return databricks_error(
        404, "RESOURCE_DOES_NOT_EXIST", f"Endpoint with name '{name}' does not exist."
    )


_PERMISSIONS = {"view": "CAN_VIEW", "query": "CAN_QUERY", "manage": "CAN_MANAGE"}


def guard_permission(ep: Endpoint | None, operation: str) -> None:
    """403 as the platform says it when the caller lacks ``operation`` on the endpoint."""
    if ep is not None and operation in ep.denied:
        raise databricks_error(
            403,
            "PERMISSION_DENIED",
            f"User does not have {_PERMISSIONS[operation]} permission on serving endpoint "
            f"'{ep.name}'.",
        )


def _rebuilt(world: World) -> World:
    return World.model_validate(world.model_dump())


# --------------------------------------------------------------------------- routes


def serving_router(state: SandboxState) -> APIRouter:
    """The Databricks routes, failing as ``world.outages.serving_api`` says."""
    router = APIRouter(dependencies=[Depends(outage_guard(state, "serving_api", unavailable))])

    @router.get("/api/2.0/serving-endpoints")
    async def list_endpoints() -> dict[str, Any]:
        return {"endpoints": [endpoint_json(e) for e in state.world.endpoints]}

    @router.get("/api/2.0/serving-endpoints/{name}")
    async def get_endpoint(name: str) -> dict[str, Any]:
        ep = state.world.endpoint(name)
        if ep is None:
            raise _not_found(name)
        guard_permission(ep, "view")
        return endpoint_json(ep)

    @router.post("/api/2.0/serving-endpoints")
    async def create_endpoint(request: Request) -> dict[str, Any]:
        body = await request.json()
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            raise databricks_error(400, "INVALID_PARAMETER_VALUE", "name: required")
        actor = actor_of(request.headers)

        def create(world: World) -> World:
            if world.endpoint(name) is not None:
                raise databricks_error(
                    409, "RESOURCE_ALREADY_EXISTS", f"Endpoint with name '{name}' already exists."
                )
            config = parse_config(world, body.get("config"))
            copy = world.model_copy(deep=True)
            ep = Endpoint(
                name=name,
                creator=actor,
                created_minutes_ago=0,
                updated_minutes_ago=0,
                config=config,
                request_rate_per_min=0.0,
            )
            ep.expected_version = primary_version(copy, ep)
            copy.endpoints.append(ep)
            copy.events.append(
                Event(
                    minutes_ago=0,
                    type="endpoint_created",
                    resource=name,
                    actor=actor,
                    config=config,
                )
            )
            return _rebuilt(copy)

        world = await state.mutate(create)
        ep = world.endpoint(name)
        assert ep is not None
        return endpoint_json(ep)

    @router.put("/api/2.0/serving-endpoints/{name}/config")
    async def update_config(name: str, request: Request) -> dict[str, Any]:
        body = await request.json()
        actor = actor_of(request.headers)

        def update(world: World) -> World:
            current = world.endpoint(name)
            if current is None:
                raise _not_found(name)
            guard_permission(current, "manage")
            if (
                current.config_update == "IN_PROGRESS"
                and current.updated_minutes_ago < STUCK_AFTER_MINUTES
            ):
                raise databricks_error(
                    409,
                    "RESOURCE_CONFLICT",
                    f"Endpoint '{name}' has a config update in progress; retry once it completes.",
                )
            config = parse_config(world, body)
            copy = world.model_copy(deep=True)
            ep = copy.endpoint(name)
            assert ep is not None
            failure = sticky_failure(current, config)
            if failure is not None:
                # The platform accepts the request and the deployment fails again, the same way.
                fail_again(copy, ep, config, failure, actor)
                return _rebuilt(copy)
            before = ",".join(e.entity_version for e in ep.config.served_entities)
            # The sandbox deploys instantly so that verification can observe the effect.
            ep.config = config
            ep.pending_config = None
            ep.config_update = "NOT_UPDATING"
            ep.ready = "READY"
            ep.updated_minutes_ago = 0
            ep.expected_version = primary_version(copy, ep)
            copy.events.append(
                Event(
                    minutes_ago=0,
                    type="endpoint_updated",
                    resource=name,
                    actor=actor,
                    details={
                        "served_versions": ",".join(
                            e.entity_version for e in config.served_entities
                        ),
                        "previous_versions": before,
                        "workload_size": ",".join(e.workload_size for e in config.served_entities),
                        "routes": ",".join(
                            f"{r.served_entity_name}={r.traffic_percentage}" for r in config.routes
                        ),
                    },
                )
            )
            return _rebuilt(copy)

        world = await state.mutate(update)
        ep = world.endpoint(name)
        assert ep is not None
        return endpoint_json(ep)

    @router.delete("/api/2.0/serving-endpoints/{name}")
    async def delete_endpoint(name: str, request: Request) -> dict[str, Any]:
        actor = actor_of(request.headers)

        def delete(world: World) -> World:
            ep = world.endpoint(name)
            if ep is None:
                raise _not_found(name)
            guard_permission(ep, "manage")
            copy = world.model_copy(deep=True)
            copy.endpoints = [e for e in copy.endpoints if e.name != name]
            copy.events.append(
                Event(
                    minutes_ago=0,
                    type="endpoint_deleted",
                    resource=name,
                    actor=actor,
                    config=ep.config,
                )
            )
            return _rebuilt(copy)

        await state.mutate(delete)
        return {}

    @router.post("/serving-endpoints/{name}/invocations")
    async def invocations(name: str, request: Request) -> JSONResponse:
        try:
            payload = await request.json()
        except ValueError:
            raise databricks_error(400, "BAD_REQUEST", "Request body is not JSON.") from None
        guard_permission(state.world.endpoint(name), "query")
        answer = invoke(state.world, name, payload)
        return JSONResponse(answer.body, status_code=answer.status)

    @router.get("/api/2.0/pipelines")
    async def list_pipelines() -> dict[str, Any]:
        return {
            "statuses": [
                {"pipeline_id": p.id, "name": p.name, "state": p.state}
                for p in state.world.pipelines
            ]
        }

    @router.get("/api/2.0/pipelines/{pipeline_id}")
    async def get_pipeline(pipeline_id: str) -> dict[str, Any]:
        pipeline = next((p for p in state.world.pipelines if p.id == pipeline_id), None)
        if pipeline is None:
            raise databricks_error(
                404, "RESOURCE_DOES_NOT_EXIST", f"Pipeline {pipeline_id} does not exist."
            )
        update: dict[str, Any] = {
            "update_id": f"{pipeline.id}-u1",
            "state": "FAILED" if pipeline.state == "FAILED" else "COMPLETED",
            "creation_time": minutes_ago_ms(30),
        }
        if pipeline.last_error:
            update["error_message"] = pipeline.last_error
        return {
            "pipeline_id": pipeline.id,
            "name": pipeline.name,
            "state": pipeline.state,
            "spec": {
                "id": pipeline.id,
                "name": pipeline.name,
                "libraries": [{"file": {"path": source_path(pipeline)}}],
                "configuration": {"ai_query.concurrency": str(pipeline.concurrency)},
            },
            "latest_updates": [update],
        }

    @router.get("/api/2.0/workspace/export")
    async def export(path: str, format: str = "SOURCE") -> dict[str, Any]:
        pipeline = next((p for p in state.world.pipelines if source_path(p) == path), None)
        if pipeline is None:
            raise databricks_error(404, "RESOURCE_DOES_NOT_EXIST", f"Path ({path}) doesn't exist.")
        content = base64.b64encode(pipeline.sql.encode("utf-8")).decode("ascii")
        return {"content": content, "file_type": "sql"}

    @router.get("/api/2.0/audit/serving-events")
    async def audit_events(
        resource: str | None = None, since_minutes: float = 1440
    ) -> dict[str, Any]:
        world = await state.refresh_aliases()
        events = [
            e
            for e in sorted(world.events, key=lambda e: -e.minutes_ago)
            if e.minutes_ago <= since_minutes and (resource is None or e.resource == resource)
        ]
        return {"events": [event_json(e) for e in events]}

    return router
