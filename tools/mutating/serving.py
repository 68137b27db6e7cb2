"""Changes to a serving endpoint: traffic split, size, scale-to-zero, restart, recreate."""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import Field

from tools.clients.databricks import EndpointConfig, ServingEndpoint
from tools.clients.errors import NotFound
from tools.diff import Change
from tools.mutating.base import MutationEvidence, MutationParams, Refused, change, refusal
from tools.platform import Platform
from tools.readonly.events import summarise_events
from tools.readonly.serving import primary_entity
from tools.result import ToolStatus
from tools.spec import Finding, tool


async def read_endpoint(platform: Platform, name: str) -> ServingEndpoint:
    """The endpoint, or a refusal naming the ``endpoint`` field when it does not exist."""
    try:
        return await platform.serving.get_endpoint(name)
    except NotFound:
        raise Refused("endpoint", f"no serving endpoint named {name!r}") from None


def config_state(endpoint: ServingEndpoint) -> dict[str, Any]:
    """An endpoint's config in the shape of the update request: what a change diffs and sends."""
    return endpoint.config.to_request()


def entity_for_version(state: dict[str, Any], version: str) -> dict[str, Any]:
    """A served entity for another version of the primary model, sized like the primary entity."""
    primary = _primary(state)
    short = str(primary["entity_name"]).rsplit(".", 1)[-1]
    return {**primary, "name": f"{short}-{version}", "entity_version": version}


def _primary(state: dict[str, Any]) -> dict[str, Any]:
    entities: list[dict[str, Any]] = state["served_entities"]
    if not entities:
        raise Refused("endpoint", "the endpoint serves nothing")
    share = {
        r["served_entity_name"]: r["traffic_percentage"] for r in state["traffic_config"]["routes"]
    }
    return max(entities, key=lambda e: share.get(e["name"], 0))


async def known_versions(platform: Platform, model: str) -> set[str]:
    """The versions the registry has of ``model``."""
    return {v.version for v in await platform.registry.search_versions(model)}


async def _update(platform: Platform, name: str, target: dict[str, Any], key: str) -> None:
    config = EndpointConfig.model_validate(target)
    await platform.serving.update_config(name, config, idempotency_key=key)


# -- set_traffic_split -------------------------------------------------------------------------


class TrafficSplitParams(MutationParams):
    endpoint: str = Field(min_length=1)
    routes: dict[str, int] = Field(
        min_length=1, description="served entity name or model version -> traffic percentage"
    )


def split_config(
    state: dict[str, Any], routes: dict[str, int], versions: set[str]
) -> dict[str, Any]:
    """The config that sends ``routes`` traffic; a version not served yet gets a new entity."""
    bad = {k: v for k, v in routes.items() if not 0 <= v <= 100}
    if bad:
        raise Refused("routes", f"percentages must be within 0-100, got {bad}")
    if sum(routes.values()) != 100:
        raise Refused("routes", f"percentages must sum to 100, got {sum(routes.values())}")
    by_name = {e["name"]: e for e in state["served_entities"]}
    by_version = {e["entity_version"]: e for e in state["served_entities"]}
    entities: list[dict[str, Any]] = []
    new_routes = []
    for key, percent in routes.items():
        entity = by_name.get(key) or by_version.get(key)
        if entity is None:
            if key not in versions:
                raise Refused(
                    "routes",
                    f"{key!r} is neither a served entity ({', '.join(sorted(by_name))}) "
                    f"nor a registered version of the served model",
                )
            entity = entity_for_version(state, key)
        if entity not in entities:
            entities.append(entity)
        new_routes.append({"served_entity_name": entity["name"], "traffic_percentage": percent})
    return {"served_entities": entities, "traffic_config": {"routes": new_routes}}


@tool("set_traffic_split", kind="mutate", params=TrafficSplitParams, evidence=MutationEvidence)
async def set_traffic_split(platform: Platform, params: TrafficSplitParams) -> Finding:
    """Set an endpoint's traffic routes (canary or staged rollout: 10, 25, 50, 100 percent)."""
    versions: set[str] = set()

    async def read() -> dict[str, Any]:
        endpoint = await read_endpoint(platform, params.endpoint)
        primary = primary_entity(endpoint)
        if primary is not None and not versions:
            versions.update(await known_versions(platform, primary.entity_name))
        return config_state(endpoint)

    async def apply(_: Any, target: dict[str, Any]) -> None:
        await _update(platform, params.endpoint, target, params.idempotency_key)

    return await change(
        params,
        what=f"traffic split of {params.endpoint}",
        read=read,
        desired=lambda state: split_config(state, params.routes, versions),
        apply=apply,
    )


# -- scale_endpoint / disable_scale_to_zero ----------------------------------------------------


class EndpointOnlyParams(MutationParams):
    endpoint: str = Field(min_length=1)


class ScaleParams(EndpointOnlyParams):
    workload_size: Literal["Small", "Medium", "Large"]


def _with_entities(state: dict[str, Any], **values: Any) -> dict[str, Any]:
    return {**state, "served_entities": [{**e, **values} for e in state["served_entities"]]}


async def _entity_change(
    platform: Platform, params: EndpointOnlyParams, what: str, **values: Any
) -> Finding:
    async def read() -> dict[str, Any]:
        return config_state(await read_endpoint(platform, params.endpoint))

    async def apply(_: Any, target: dict[str, Any]) -> None:
        await _update(platform, params.endpoint, target, params.idempotency_key)

    return await change(
        params,
        what=what,
        read=read,
        desired=lambda state: _with_entities(state, **values),
        apply=apply,
    )


@tool("scale_endpoint", kind="mutate", params=ScaleParams, evidence=MutationEvidence)
async def scale_endpoint(platform: Platform, params: ScaleParams) -> Finding:
    """Set the workload size (Small, Medium, Large) of every entity an endpoint serves."""
    return await _entity_change(
        platform,
        params,
        f"workload size of {params.endpoint} to {params.workload_size}",
        workload_size=params.workload_size,
    )


@tool("disable_scale_to_zero", kind="mutate", params=EndpointOnlyParams, evidence=MutationEvidence)
async def disable_scale_to_zero(platform: Platform, params: EndpointOnlyParams) -> Finding:
    """Keep an endpoint's entities warm: scale_to_zero_enabled = false (no cold starts)."""
    return await _entity_change(
        platform, params, f"scale to zero off on {params.endpoint}", scale_to_zero_enabled=False
    )


# -- restart_endpoint --------------------------------------------------------------------------


def _deployment_state(endpoint: ServingEndpoint) -> dict[str, Any]:
    return {
        "ready": endpoint.state.ready,
        "config_update": endpoint.state.config_update,
        "last_updated_timestamp": endpoint.last_updated_timestamp,
        "config": config_state(endpoint),
    }


@tool("restart_endpoint", kind="mutate", params=EndpointOnlyParams, evidence=MutationEvidence)
async def restart_endpoint(platform: Platform, params: EndpointOnlyParams) -> Finding:
    """Re-apply an endpoint's current config: a new deployment (unsticks a stuck update)."""
    try:
        endpoint = await read_endpoint(platform, params.endpoint)
    except Refused as exc:
        return refusal(exc)
    before = _deployment_state(endpoint)
    target = {**before, "last_updated_timestamp": "now"}
    changes_preview = [
        Change(path="last_updated_timestamp", before=before["last_updated_timestamp"], after="now")
    ]
    if params.dry_run:
        evidence = MutationEvidence(
            applied=False,
            already_applied=False,
            dry_run=True,
            before=before,
            after=target,
            diff=changes_preview,
            idempotency_key=params.idempotency_key,
        )
        return Finding(ToolStatus.OK, f"dry run: would redeploy {params.endpoint}", evidence)
    answer = await platform.serving.update_config(
        params.endpoint, endpoint.config, idempotency_key=params.idempotency_key
    )
    after = _deployment_state(await platform.serving.get_endpoint(params.endpoint))
    # A repeated key is answered with the first call's reply: its update time is not newer than
    # the update time we read before sending (a new deployment's always is).
    answered_at = answer.last_updated_timestamp if answer else None
    last_before = before["last_updated_timestamp"]
    replayed = answered_at is not None and last_before is not None and answered_at <= last_before
    evidence = MutationEvidence(
        applied=not replayed,
        already_applied=replayed,
        dry_run=False,
        before=before,
        after=after,
        diff=[] if replayed else changes_preview,
        idempotency_key=params.idempotency_key,
    )
    summary = (
        f"{params.endpoint}: restart already done under this key"
        if replayed
        else f"{params.endpoint}: redeployed, now {after['ready']} / {after['config_update']}"
    )
    return Finding(ToolStatus.OK, summary, evidence)


# -- recreate_endpoint -------------------------------------------------------------------------


class RecreateParams(MutationParams):
    endpoint: str = Field(min_length=1)
    config: dict[str, Any] | None = Field(
        None, description="served_entities + traffic_config; defaults to the last known config"
    )


@tool("recreate_endpoint", kind="mutate", params=RecreateParams, evidence=MutationEvidence)
async def recreate_endpoint(platform: Platform, params: RecreateParams) -> Finding:
    """Create a deleted endpoint again from its last known config (or the one given)."""
    config: dict[str, Any] | None = params.config
    if config is None:
        events = await platform.serving.serving_events(params.endpoint, 60 * 24 * 90)
        config = summarise_events(events, time.time() * 1000).last_config
    if config is None:
        return refusal(
            Refused(
                "config", f"no config given and none known from the audit log of {params.endpoint}"
            )
        )
    try:
        wanted = EndpointConfig.model_validate(config)
    except ValueError as exc:
        return refusal(Refused("config", f"not a serving config: {exc}"))
    if not wanted.served_entities:
        return refusal(Refused("config", "serves no entity"))

    async def read() -> dict[str, Any]:
        try:
            endpoint = await platform.serving.get_endpoint(params.endpoint)
        except NotFound:
            return {"exists": False, "config": None}
        return {"exists": True, "config": config_state(endpoint)}

    def desired(state: dict[str, Any]) -> dict[str, Any]:
        # An endpoint that exists is not recreated (nor reconfigured): that is another tool's job.
        return state if state["exists"] else {"exists": True, "config": wanted.to_request()}

    async def apply(_: Any, __: Any) -> None:
        await platform.serving.create_endpoint(
            params.endpoint, wanted, idempotency_key=params.idempotency_key
        )

    return await change(
        params, what=f"recreate {params.endpoint}", read=read, desired=desired, apply=apply
    )
