"""`slis` against the sandbox: healthy targets, faults, missing series and Prometheus outages."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from sandbox.runtime import Sandbox
from sandbox.world import MetricPins
from tests.conftest import DEFAULT_POLICY
from tools.catalog import run_tool
from tools.sli_queries import LABEL_SLIS, load_queries


async def test_healthy_endpoint(platform: Any) -> None:
    result = await run_tool(platform, "slis", {"target": "sentiment-endpoint"})
    assert result.status == "ok", result.error
    ev = result.evidence
    assert ev["error_rate"] < 0.01 and ev["latency_p95_ms"] > 0
    assert ev["deployed_version"] == ev["expected_version"] == "4"
    assert ev["accuracy_trend"] == "stable" and ev["missing"] == []
    assert ev["accuracy_drop"] == pytest.approx(ev["accuracy_baseline"] - ev["accuracy"])
    # One recorded, re-runnable query asks for every SLI, each under its own name.
    [request] = result.requests
    assert request.method == "POST" and not request.params
    assert all(f'"sli", "{name}"' in request.form["query"] for name in load_queries())
    assert "--data-urlencode 'query=label_replace(" in request.as_curl()


@pytest.mark.parametrize(
    ("fault", "target"),
    [
        (None, "sentiment-endpoint"),
        ("deploy.version_drift", "sentiment-endpoint"),
        ("performance.new_version_regression", "sentiment-endpoint"),
        ("provider.rate_limited", "qa_agent"),
    ],
)
async def test_the_one_query_answers_what_each_sli_query_answers(
    sandbox: Sandbox, platform: Any, fault: str | None, target: str
) -> None:
    if fault is not None:
        await sandbox.inject(fault, None if target == "qa_agent" else target)
    metrics = platform.metrics
    together = await metrics.all_slis(target, 60)
    one_by_one = {
        name: await (metrics.sli_label if name in LABEL_SLIS else metrics.sli)(name, target, 60)
        for name in load_queries()
    }
    assert together == one_by_one
    assert sum(value is not None for value in together.values()) >= 15  # not all "no series"


async def test_rate_limited_provider_shows_as_429s_on_an_agent(
    sandbox: Sandbox, platform: Any
) -> None:
    await sandbox.inject("provider.rate_limited")
    result = await run_tool(platform, "slis", {"target": "qa_agent"})
    assert result.status == "ok", result.error
    assert result.evidence["rate_429"] > 0


async def test_version_drift(sandbox: Sandbox, platform: Any) -> None:
    await sandbox.inject("deploy.version_drift", "sentiment-endpoint")
    result = await run_tool(platform, "slis", {"target": "sentiment-endpoint"})
    assert result.status == "ok", result.error
    assert result.evidence["deployed_version"] != result.evidence["expected_version"]


async def test_no_series_is_no_data_not_zero(sandbox: Sandbox, platform: Any) -> None:
    world = sandbox.world.model_copy(deep=True)
    world.metrics["sentiment-endpoint"] = MetricPins(missing=True)
    await sandbox.set_world(world)
    result = await run_tool(platform, "slis", {"target": "sentiment-endpoint"})
    assert result.status == "no_data"
    assert result.evidence["error_rate"] is None
    assert "error_rate" in result.evidence["missing"]


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("down", "HTTP 503"),
        ("error", "too many samples"),
        ("garbage", "not JSON"),
        ("slow", f"no answer within {DEFAULT_POLICY.timeout_s:g} s"),
    ],
)
async def test_prometheus_outage_is_an_error_naming_the_request(
    outage: Callable[..., Awaitable[None]], platform: Any, mode: str, reason: str
) -> None:
    await outage(prometheus=mode)
    started = time.perf_counter()
    result = await run_tool(platform, "slis", {"target": "sentiment-endpoint"})
    assert time.perf_counter() - started < DEFAULT_POLICY.timeout_s * 3
    assert result.status == "error"
    assert reason in (result.error or "")
    assert "/prometheus/api/v1/query" in (result.error or "")
    assert result.evidence["error_rate"] is None  # nothing made up
    assert all(r.error for r in result.requests)
