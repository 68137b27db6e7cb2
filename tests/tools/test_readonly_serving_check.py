"""`model-incident check`: the target's kind and the findings of every relevant read-only tool."""

from __future__ import annotations

from typing import Any

from bot.commands.check import check_target
from tools.platform import Platform


async def test_a_deleted_endpoint_is_checked_as_an_endpoint(
    platform: Platform, sandbox: Any
) -> None:
    await sandbox.inject("endpoint.deleted", "sentiment-endpoint")
    report = await check_target(platform, "sentiment-endpoint")
    assert report.kind == "endpoint"
    by_tool = {r.tool: r for r in report.results}
    assert by_tool["endpoint_status"].evidence["exists"] is False
    assert by_tool["platform_events"].evidence["deleted"] is True
    assert all(r.requests for r in report.results)


async def test_agents_and_models_are_recognised(platform: Platform) -> None:
    assert (await check_target(platform, "qa_agent")).kind == "agent"
    assert (await check_target(platform, "main.ml.churn_model")).kind == "model"
