"""`provider_check` against the sandbox's Mistral stand-in."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.runtime import Sandbox
from tools.catalog import run_tool

QA_MODEL = "ft:open-mistral-7b:qa:20251015"


async def test_healthy_provider(sandbox: Sandbox, platform: Any) -> None:
    wanted = [a.finetuned_model for a in sandbox.world.agents]
    result = await run_tool(platform, "provider_check", {"model_ids": wanted})
    ev = result.evidence
    assert result.status == "ok"
    assert ev["reachable"] and ev["key_valid"] and not ev["rate_limited"]
    assert ev["missing_models"] == [] and ev["available_models_count"] >= len(set(wanted))


@pytest.mark.parametrize(
    ("fault", "status", "key_valid", "rate_limited"),
    [
        ("provider.invalid_key", 401, False, False),
        ("provider.forbidden", 403, False, False),
        ("provider.rate_limited", 429, True, True),
    ],
)
async def test_key_and_quota_faults(
    sandbox: Sandbox, platform: Any, fault: str, status: int, key_valid: bool, rate_limited: bool
) -> None:
    await sandbox.inject(fault)
    ev = (await run_tool(platform, "provider_check", {"model_ids": [QA_MODEL]})).evidence
    assert (ev["http_status"], ev["key_valid"], ev["rate_limited"]) == (
        status,
        key_valid,
        rate_limited,
    )
    assert ev["missing_models"] == []  # unknown, not missing: the list was refused


async def test_finetuned_model_gone(sandbox: Sandbox, platform: Any) -> None:
    await sandbox.inject("provider.finetuned_model_gone", "qa_agent")
    ev = (await run_tool(platform, "provider_check", {"model_ids": [QA_MODEL]})).evidence
    assert ev["missing_models"] == [QA_MODEL] and ev["key_valid"]


async def test_unreachable_provider(sandbox: Sandbox, platform: Any) -> None:
    world = sandbox.world.model_copy(deep=True)
    world.provider.reachable = False
    await sandbox.set_world(world)
    result = await run_tool(platform, "provider_check", {})
    assert result.status == "ok"
    assert result.evidence["reachable"] is False and result.evidence["key_valid"] is None
    assert result.requests[0].status_code == 503
