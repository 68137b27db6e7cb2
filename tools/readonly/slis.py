"""`slis`: the service-level indicators of an endpoint or agent over a window, from Prometheus.

Every SLI is one query of ``tools/sli_queries.yaml``; the tool asks for all of them in one request
(each sample labelled with its SLI's name) under the adapter's deadline. An SLI with no series is
``None`` and listed in ``missing``; nothing is ever estimated.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from tools.clients.errors import UpstreamError
from tools.platform import Platform
from tools.result import ToolStatus
from tools.sli_queries import LABEL_SLIS, load_queries
from tools.spec import Finding, tool

# Every SLI of the query file that is read as a number (the file is the one list of SLIs).
NUMERIC_SLIS: tuple[str, ...] = tuple(n for n in load_queries() if n not in LABEL_SLIS)


class SlisParams(BaseModel):
    target: str = Field(min_length=1, description="endpoint or agent name")
    window_minutes: int = Field(30, ge=1, le=7 * 24 * 60)


class SlisEvidence(BaseModel):
    error_rate: float | None = None
    rate_401: float | None = None
    rate_403: float | None = None
    rate_404: float | None = None
    rate_429: float | None = None
    rate_5xx: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    request_rate_per_min: float | None = None
    null_rate: float | None = None
    fallback_rate: float | None = None
    accuracy: float | None = None
    accuracy_baseline: float | None = None
    accuracy_drop: float | None = Field(None, description="accuracy_baseline - accuracy")
    accuracy_trend: str | None = Field(None, description="stable / sudden_drop / gradual_decline")
    input_psi: float | None = None
    memory_mb: float | None = None
    memory_growth_mb_per_hour: float | None = None
    burn_rate_1h: float | None = None
    cost_per_hour_usd: float | None = None
    cost_budget_per_hour_usd: float | None = None
    deployed_version: str | None = None
    expected_version: str | None = None
    missing: list[str] = Field(default_factory=list, description="SLIs with no series")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _num(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:.0f}{unit}"


@tool("slis", kind="read", params=SlisParams, evidence=SlisEvidence)
async def slis(platform: Platform, params: SlisParams) -> Finding:
    """Error rates, latency, traffic, accuracy, drift, memory, cost and versions of a target."""
    target, window = params.target, params.window_minutes
    names = [*NUMERIC_SLIS, *LABEL_SLIS]
    try:
        values: dict[str, Any] = dict(await platform.metrics.all_slis(target, window))
    except UpstreamError as exc:
        return Finding(
            ToolStatus.ERROR,
            f"Prometheus did not answer for {target}: {exc.reason}",
            SlisEvidence(),
            f"the query for all {len(names)} SLIs failed: {exc.reason}",
        )
    missing = [name for name in names if values.get(name) is None]
    if values.get("accuracy") is not None and values.get("accuracy_baseline") is not None:
        values["accuracy_drop"] = round(values["accuracy_baseline"] - values["accuracy"], 6)
    evidence = SlisEvidence(**values, missing=missing)

    if len(missing) == len(names):
        return Finding(
            ToolStatus.NO_DATA,
            f"Prometheus has no series for {target!r} in the last {window} min",
            evidence,
        )
    summary = (
        f"{target} over {window} min: error rate {_pct(evidence.error_rate)}, "
        f"p95 {_num(evidence.latency_p95_ms, ' ms')}, "
        f"{_num(evidence.request_rate_per_min, ' req/min')}, "
        f"accuracy {'n/a' if evidence.accuracy is None else f'{evidence.accuracy:.2f}'}"
    )
    if evidence.deployed_version is not None:
        summary += f", deployed v{evidence.deployed_version}"
    return Finding(ToolStatus.OK, summary, evidence)
