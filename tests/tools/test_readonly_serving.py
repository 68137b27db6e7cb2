"""Serving read-only tools against sandbox faults: each fault shows up in the evidence."""

from __future__ import annotations

from typing import Any

from tools.catalog import run_tool
from tools.platform import Platform
from tools.result import ToolStatus

ENDPOINT = "sentiment-endpoint"


async def test_healthy_endpoint_status(platform: Platform) -> None:
    result = await run_tool(platform, "endpoint_status", {"endpoint": ENDPOINT})
    assert result.status is ToolStatus.OK
    ev = result.evidence
    assert ev["exists"] and ev["ready"] == "READY" and ev["config_update"] == "NOT_UPDATING"
    assert (ev["primary_model"], ev["primary_version"]) == ("main.ml.sentiment_classifier", "4")
    assert ev["workload_size"] == "Medium"
    assert result.requests[0].as_curl().endswith("/api/2.0/serving-endpoints/sentiment-endpoint")


async def test_a_deleted_endpoint_is_a_finding_with_its_history(
    platform: Platform, sandbox: Any
) -> None:
    await sandbox.inject("endpoint.deleted", ENDPOINT)
    status = await run_tool(platform, "endpoint_status", {"endpoint": ENDPOINT})
    assert status.status is ToolStatus.OK and status.evidence["exists"] is False
    events = await run_tool(platform, "platform_events", {"resource": ENDPOINT})
    ev = events.evidence
    # Who deleted it is personal data: redacted before it reaches the agent (tools/redact.py).
    assert ev["deleted"] and ev["deleted_by"] == "[REDACTED:email]"
    assert 30 <= ev["deleted_minutes_ago"] <= 40
    assert ev["last_config"]["served_entities"][0]["entity_version"] == "4"


async def test_a_stuck_update_shows_its_age(platform: Platform, sandbox: Any) -> None:
    await sandbox.inject("endpoint.stuck_updating", ENDPOINT)
    ev = (await run_tool(platform, "endpoint_status", {"endpoint": ENDPOINT})).evidence
    assert ev["config_update"] == "IN_PROGRESS" and ev["update_minutes"] > 15


async def test_a_misspelled_caller_is_found_and_the_right_name_suggested(
    platform: Platform, sandbox: Any
) -> None:
    await sandbox.inject("endpoint.wrong_name", ENDPOINT)
    usage = await run_tool(platform, "pipeline_usage", {"endpoint": ENDPOINT})
    assert usage.evidence["referenced_names"] == ["sentiment_endpoint"]
    assert usage.evidence["callers_count"] == 1
    names = await run_tool(platform, "list_endpoints", {"name": "sentiment_endpoint"})
    assert names.evidence["exact_match"] is False
    assert names.evidence["best_suggestion"] == ENDPOINT


async def test_pipeline_usage_reads_fields_return_type_and_concurrency(platform: Platform) -> None:
    ev = (await run_tool(platform, "pipeline_usage", {"endpoint": ENDPOINT})).evidence
    (pipeline,) = ev["pipelines"]
    assert pipeline["request_fields"] == ["text"]
    assert [f["name"] for f in pipeline["return_fields"]] == ["label", "score"]
    assert pipeline["fail_on_error"] is False
    assert ev["max_concurrency"] == 2


async def test_healthy_sample_invocation_and_signature(platform: Platform) -> None:
    sample = await run_tool(platform, "sample_invocation", {"endpoint": ENDPOINT})
    assert sample.evidence["http_status"] == 200, sample.evidence
    assert sample.evidence["keys_consistent"] is True
    assert sample.evidence["null_fraction"] == 0
    check = await run_tool(platform, "signature_check", {"endpoint": ENDPOINT})
    assert check.status is ToolStatus.OK, check.error
    assert check.evidence["input_matches"] and check.evidence["output_matches"]
    assert check.evidence["signature_matches_observed"] is True


async def test_dynamic_keys_and_floats_are_observed(platform: Platform, sandbox: Any) -> None:
    await sandbox.inject("schema.dynamic_keys", ENDPOINT)
    ev = (await run_tool(platform, "signature_check", {"endpoint": ENDPOINT})).evidence
    assert ev["observed_dynamic_keys"] is True and ev["signature_matches_observed"] is False


async def test_floats_are_observed(platform: Platform, sandbox: Any) -> None:
    await sandbox.inject("schema.floats", ENDPOINT)
    ev = (await run_tool(platform, "sample_invocation", {"endpoint": ENDPOINT})).evidence
    assert ev["non_string_fields"]


async def test_input_mismatch_is_named(platform: Platform, sandbox: Any) -> None:
    await sandbox.inject("schema.input_mismatch", ENDPOINT)
    ev = (await run_tool(platform, "signature_check", {"endpoint": ENDPOINT})).evidence
    assert ev["input_matches"] is False
    assert ev["missing_inputs"] or ev["unexpected_inputs"]


async def test_a_serving_api_outage_is_an_error_naming_the_request(
    platform: Platform, sandbox: Any
) -> None:
    for mode in ("down", "garbage", "error_500"):
        world = sandbox.world.model_copy(deep=True)
        world.outages.serving_api = mode
        await sandbox.set_world(world)
        result = await run_tool(platform, "endpoint_status", {"endpoint": ENDPOINT})
        assert result.status is ToolStatus.ERROR, mode
        assert "/api/2.0/serving-endpoints/sentiment-endpoint" in (result.error or ""), mode
