"""Serving-endpoint mutations against the sandbox: dry run, apply, idempotent re-apply, refusals."""

from __future__ import annotations

from typing import Any

from tools.catalog import run_tool
from tools.platform import Platform
from tools.result import ToolStatus

ENDPOINT = "sentiment-endpoint"
MODEL = "main.ml.sentiment_classifier"


async def routes(platform: Platform) -> dict[str, int]:
    endpoint = await platform.serving.get_endpoint(ENDPOINT)
    versions = {e.name: e.entity_version for e in endpoint.config.served_entities}
    return {
        versions[r.served_entity_name]: r.traffic_percentage
        for r in endpoint.config.traffic_config.routes
    }


async def sizes(platform: Platform) -> set[str]:
    endpoint = await platform.serving.get_endpoint(ENDPOINT)
    return {e.workload_size for e in endpoint.config.served_entities}


async def call(platform: Platform, tool: str, **params: Any) -> Any:
    return await run_tool(platform, tool, params)


async def test_traffic_split_dry_run_shows_the_diff_and_changes_nothing(platform: Platform) -> None:
    result = await call(
        platform,
        "set_traffic_split",
        endpoint=ENDPOINT,
        routes={"4": 90, "3": 10},
        idempotency_key="k1",
    )
    assert result.status is ToolStatus.OK, result.error
    assert result.evidence["dry_run"] is True and result.evidence["applied"] is False
    assert result.evidence["diff"]
    assert await routes(platform) == {"4": 100}


async def test_traffic_split_canary_applies_once(platform: Platform) -> None:
    params = {"endpoint": ENDPOINT, "routes": {"4": 90, "3": 10}, "idempotency_key": "canary-1"}
    first = await run_tool(platform, "set_traffic_split", {**params, "dry_run": False})
    assert first.status is ToolStatus.OK, first.error
    assert first.evidence["applied"] is True
    assert await routes(platform) == {"4": 90, "3": 10}
    assert any(r.method == "PUT" for r in first.requests)

    again = await run_tool(platform, "set_traffic_split", {**params, "dry_run": False})
    assert again.evidence["already_applied"] is True and again.evidence["applied"] is False
    assert not any(r.method == "PUT" for r in again.requests)
    assert await routes(platform) == {"4": 90, "3": 10}


async def test_traffic_split_refuses_bad_routes(platform: Platform) -> None:
    not_100 = await call(
        platform,
        "set_traffic_split",
        endpoint=ENDPOINT,
        routes={"4": 50, "3": 10},
        idempotency_key="k",
        dry_run=False,
    )
    assert not_100.status is ToolStatus.ERROR and "routes" in (not_100.error or "")
    unknown = await call(
        platform,
        "set_traffic_split",
        endpoint=ENDPOINT,
        routes={"4": 50, "99": 50},
        idempotency_key="k",
        dry_run=False,
    )
    assert unknown.status is ToolStatus.ERROR and "99" in (unknown.error or "")
    assert await routes(platform) == {"4": 100}


async def test_scale_endpoint(platform: Platform) -> None:
    dry = await call(
        platform, "scale_endpoint", endpoint=ENDPOINT, workload_size="Large", idempotency_key="s"
    )
    assert dry.evidence["diff"][0]["path"].endswith("workload_size")
    assert await sizes(platform) == {"Medium"}

    applied = await call(
        platform,
        "scale_endpoint",
        endpoint=ENDPOINT,
        workload_size="Large",
        idempotency_key="s",
        dry_run=False,
    )
    assert applied.evidence["applied"] is True
    assert await sizes(platform) == {"Large"}
    again = await call(
        platform,
        "scale_endpoint",
        endpoint=ENDPOINT,
        workload_size="Large",
        idempotency_key="s",
        dry_run=False,
    )
    assert again.evidence["already_applied"] is True


async def test_scale_endpoint_refuses_unknown_sizes_and_blank_keys(platform: Platform) -> None:
    huge = await call(
        platform,
        "scale_endpoint",
        endpoint=ENDPOINT,
        workload_size="Huge",
        idempotency_key="s",
        dry_run=False,
    )
    assert huge.status is ToolStatus.ERROR and "workload_size" in (huge.error or "")
    blank = await call(
        platform,
        "scale_endpoint",
        endpoint=ENDPOINT,
        workload_size="Large",
        idempotency_key=" ",
        dry_run=False,
    )
    assert blank.status is ToolStatus.ERROR and "idempotency_key" in (blank.error or "")
    missing = await call(
        platform,
        "scale_endpoint",
        endpoint="no-such-endpoint",
        workload_size="Large",
        idempotency_key="s",
        dry_run=False,
    )
    assert missing.status is ToolStatus.ERROR and "endpoint" in (missing.error or "")
    assert await sizes(platform) == {"Medium"}


async def test_disable_scale_to_zero(platform: Platform, sandbox: Any) -> None:
    await sandbox.inject("latency.cold_start", ENDPOINT)
    before = await platform.serving.get_endpoint(ENDPOINT)
    assert any(e.scale_to_zero_enabled for e in before.config.served_entities)

    applied = await call(
        platform, "disable_scale_to_zero", endpoint=ENDPOINT, idempotency_key="z", dry_run=False
    )
    assert applied.evidence["applied"] is True
    after = await platform.serving.get_endpoint(ENDPOINT)
    assert not any(e.scale_to_zero_enabled for e in after.config.served_entities)
    again = await call(
        platform, "disable_scale_to_zero", endpoint=ENDPOINT, idempotency_key="z", dry_run=False
    )
    assert again.evidence["already_applied"] is True


async def test_restart_unsticks_an_update_and_a_repeat_is_replayed(
    platform: Platform, sandbox: Any
) -> None:
    await sandbox.inject("endpoint.stuck_updating", ENDPOINT)
    dry = await call(platform, "restart_endpoint", endpoint=ENDPOINT, idempotency_key="r")
    assert dry.evidence["applied"] is False
    assert (await platform.serving.get_endpoint(ENDPOINT)).state.config_update == "IN_PROGRESS"

    applied = await call(
        platform, "restart_endpoint", endpoint=ENDPOINT, idempotency_key="r", dry_run=False
    )
    assert applied.status is ToolStatus.OK, applied.error
    assert applied.evidence["applied"] is True
    state = (await platform.serving.get_endpoint(ENDPOINT)).state
    assert (state.ready, state.config_update) == ("READY", "NOT_UPDATING")

    again = await call(
        platform, "restart_endpoint", endpoint=ENDPOINT, idempotency_key="r", dry_run=False
    )
    assert again.evidence["already_applied"] is True and again.evidence["applied"] is False


async def test_recreate_a_deleted_endpoint_from_its_last_config(
    platform: Platform, sandbox: Any
) -> None:
    await sandbox.inject("endpoint.deleted", ENDPOINT)
    dry = await call(platform, "recreate_endpoint", endpoint=ENDPOINT, idempotency_key="c")
    assert dry.evidence["after"]["exists"] is True
    assert dry.evidence["after"]["config"]["served_entities"][0]["entity_version"] == "4"

    applied = await call(
        platform, "recreate_endpoint", endpoint=ENDPOINT, idempotency_key="c", dry_run=False
    )
    assert applied.status is ToolStatus.OK, applied.error
    assert applied.evidence["applied"] is True
    assert await routes(platform) == {"4": 100}
    again = await call(
        platform, "recreate_endpoint", endpoint=ENDPOINT, idempotency_key="c", dry_run=False
    )
    assert again.evidence["already_applied"] is True


async def test_recreate_refuses_without_a_known_config(platform: Platform, sandbox: Any) -> None:
    await sandbox.inject("endpoint.never_created", ENDPOINT)
    result = await call(
        platform, "recreate_endpoint", endpoint=ENDPOINT, idempotency_key="c", dry_run=False
    )
    assert result.status is ToolStatus.ERROR and "config" in (result.error or "")
