"""`rollback_to_previous_champion`: move the registry's ``champion`` alias and the endpoint's
traffic back to an earlier version, together.

The alias moves first (it is what the deploy pipeline reads); if the serving update then fails, the
alias is moved back, so the registry never names a champion that the endpoint does not serve.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import Field

from tools.clients.databricks import EndpointConfig
from tools.clients.errors import NotFound, UpstreamError
from tools.mutating.base import MutationEvidence, MutationParams, Refused, change, refusal, step_key
from tools.mutating.serving import config_state, entity_for_version, read_endpoint
from tools.platform import Platform
from tools.readonly.registry import previous_champion as registry_previous_champion
from tools.result import ToolStatus
from tools.spec import Finding, tool

CHAMPION = "champion"
# Audit events are kept for 90 days; an older champion change is not a "previous champion".
_HISTORY_MINUTES = 90 * 24 * 60


class RollbackParams(MutationParams):
    model: str = Field(min_length=1)
    endpoint: str = Field(min_length=1)
    to_version: str | None = Field(None, description="defaults to the previous champion")


def rollback_marker(idempotency_key: str) -> str:
    """The alias that remembers which version a rollback under this key chose.

    "The previous champion" moves once the rollback is done, so a repeated call must not resolve
    it again (it would roll back one version further); the registry itself keeps the answer.
    """
    return "rollback_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]


async def previous_champion(platform: Platform, model: str, champion: str | None) -> str | None:
    """The version that was champion before the current one, from the alias history."""
    events = await platform.serving.serving_events(model, _HISTORY_MINUTES)
    changes = sorted(
        (
            e
            for e in events
            if e.type == "alias_set"
            and e.details.get("alias", CHAMPION) == CHAMPION
            and str(e.details.get("version")) == champion
            and e.details.get("previous_version")
        ),
        key=lambda e: e.timestamp,
        reverse=True,
    )
    return str(changes[0].details["previous_version"]) if changes else None


def single_version_config(state: dict[str, Any], version: str) -> dict[str, Any]:
    """The endpoint config that sends all traffic to ``version`` of the served model."""
    existing = [e for e in state["served_entities"] if e["entity_version"] == version]
    entity = existing[0] if existing else entity_for_version(state, version)
    return {
        "served_entities": [entity],
        "traffic_config": {
            "routes": [{"served_entity_name": entity["name"], "traffic_percentage": 100}]
        },
    }


class _ServingUpdateFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def _chosen_version(platform: Platform, params: RollbackParams) -> str:
    """The version to roll back to: the one asked for, the one an earlier run under this key
    chose, else the previous champion. Raises :class:`Refused` when there is none."""
    aliases = await platform.registry.aliases(params.model)
    champion = aliases.get(CHAMPION)
    to_version = params.to_version or aliases.get(rollback_marker(params.idempotency_key))
    if to_version is None:
        to_version = await previous_champion(platform, params.model, champion)
    if to_version is None:
        # No alias history: the same rule `registry_versions` reports (tags, then accuracy).
        known = await platform.registry.search_versions(params.model)
        earlier = registry_previous_champion(known, champion)
        to_version = earlier.version if earlier else None
    if to_version is None:
        raise Refused(
            "to_version", f"{params.model} has no previous champion (champion: {champion})"
        )
    versions = {v.version for v in await platform.registry.search_versions(params.model)}
    if to_version not in versions:
        raise Refused(
            "to_version", f"{params.model} has no version {to_version!r}: {sorted(versions)}"
        )
    return to_version


@tool(
    "rollback_to_previous_champion", kind="mutate", params=RollbackParams, evidence=MutationEvidence
)
async def rollback_to_previous_champion(platform: Platform, params: RollbackParams) -> Finding:
    """Point the champion alias and the endpoint's traffic back to the previous champion version."""
    try:
        to_version = await _chosen_version(platform, params)
    except NotFound:
        return refusal(Refused("model", f"no registered model named {params.model!r}"))
    except Refused as exc:
        return refusal(exc)

    async def read() -> dict[str, Any]:
        endpoint = await read_endpoint(platform, params.endpoint)
        served = {e.entity_name for e in endpoint.config.served_entities}
        if served and params.model not in served:
            raise Refused(
                "endpoint", f"{params.endpoint} serves {sorted(served)}, not {params.model}"
            )
        current = (await platform.registry.aliases(params.model)).get(CHAMPION)
        return {"champion": current, "endpoint": config_state(endpoint)}

    def desired(state: dict[str, Any]) -> dict[str, Any]:
        return {
            "champion": to_version,
            "endpoint": single_version_config(state["endpoint"], to_version),
        }

    async def apply(before: dict[str, Any], target: dict[str, Any]) -> None:
        # The choice is recorded before anything moves: a process killed mid-change leaves the
        # champion already moved, and its retry would otherwise resolve "the previous champion"
        # again and roll the other way (back to the regressed version).
        await platform.registry.set_alias(
            params.model, rollback_marker(params.idempotency_key), to_version
        )
        if before["champion"] != to_version:
            await platform.registry.set_alias(params.model, CHAMPION, to_version)
        if before["endpoint"] != target["endpoint"]:
            try:
                await platform.serving.update_config(
                    params.endpoint,
                    EndpointConfig.model_validate(target["endpoint"]),
                    idempotency_key=step_key(params.idempotency_key, "serving"),
                )
            except UpstreamError as exc:
                restored = before["champion"]
                if restored is not None and restored != to_version:
                    await platform.registry.set_alias(params.model, CHAMPION, restored)
                raise _ServingUpdateFailed(
                    f"serving update failed ({exc.reason}); champion alias restored to {restored}"
                ) from None

    async def undo(before: dict[str, Any], after: dict[str, Any]) -> None:
        # The endpoint did not move (a replayed key): the alias goes back to what it was, so the
        # registry does not name a champion the endpoint does not serve.
        restored = before["champion"]
        if restored is not None and after["champion"] != restored:
            await platform.registry.set_alias(params.model, CHAMPION, restored)

    try:
        return await change(
            params,
            what=f"rollback of {params.model} on {params.endpoint} to v{to_version}",
            read=read,
            desired=desired,
            apply=apply,
            undo=undo,
        )
    except _ServingUpdateFailed as exc:
        return Finding(ToolStatus.ERROR, f"rollback not applied: {exc.reason}", None, exc.reason)
