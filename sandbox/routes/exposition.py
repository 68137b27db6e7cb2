"""``/metrics``: the serving platform's exporter, in the Prometheus text format.

Counters advance by simulated traffic (the SLIs' request rate over the real time since the last
scrape), so a real Prometheus scraping this page computes about the same SLIs as the sandbox's own
query API. Histogram quantiles match only approximately (bucket interpolation).
"""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from sandbox.routes.gateway import agent_status
from sandbox.simulation import FLEET_TARGET, ai_query_calls, slis
from sandbox.state import SandboxState
from sandbox.world import World
from tools.redact import redact

BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
TREND_LABELS = ("stable", "sudden_drop", "gradual_decline")
_STARTED = "started"

Labels = tuple[tuple[str, str], ...]


def _codes(values: dict[str, Any], not_ready: bool) -> dict[str, float]:
    """The share of requests per HTTP status code."""
    error = values["error_rate"] or 0.0
    shares = {code: values[f"rate_{code}"] or 0.0 for code in ("401", "403", "404", "429")}
    shares["503" if not_ready else "500"] = values["rate_5xx"] or 0.0
    shares["400"] = max(0.0, error - sum(shares.values()))
    shares["200"] = max(0.0, 1.0 - error)
    return {code: share for code, share in shares.items() if share > 0 or code == "200"}


def _share_within(values: dict[str, Any], seconds: float) -> float:
    """The share of requests answered within ``seconds``: a piecewise-linear distribution through
    the percentiles (0 at 0 s, 0.5 at p50, 0.95 at p95, 0.99 at p99, 1 a little past p99).

    Continuous on purpose: each percentile then falls inside the bucket a real Prometheus'
    ``histogram_quantile`` interpolates in, so the two agree to one bucket's width. (Point masses
    put the percentiles on flat steps of the distribution, where floating-point rounding decides
    between two buckets far apart.)
    """
    p50, p95, p99 = (values[f"latency_{p}_ms"] / 1000 for p in ("p50", "p95", "p99"))
    p95, p99 = max(p95, p50), max(p99, p95, p50)
    knots = [(0.0, 0.0), (p50, 0.5), (p95, 0.95), (p99, 0.99), (p99 + (p99 - p95) + 0.001, 1.0)]
    for (x0, y0), (x1, y1) in itertools.pairwise(knots):
        if seconds < x1:
            return y0 + (y1 - y0) * (seconds - x0) / (x1 - x0) if x1 > x0 else y0
    return 1.0


def _fmt(labels: Labels) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in labels) + "}"


def _add(state: SandboxState, key: tuple[str, Labels], amount: float) -> None:
    state.counters[key] = state.counters.get(key, 0.0) + amount


def _count(
    state: SandboxState, t: Labels, values: dict[str, Any], elapsed: float, ready: bool
) -> None:
    """Advance one target's counters by ``elapsed`` seconds of its simulated traffic."""
    requests = values["request_rate_per_min"] / 60 * elapsed
    for code, share in _codes(values, not ready).items():
        _add(state, ("model_requests_total", (*t, ("code", code))), requests * share)
    has_latency = values["latency_p50_ms"] is not None
    for le in (*BUCKETS_S, float("inf")):
        below = _share_within(values, le) if has_latency else 0.0
        le_text = "+Inf" if le == float("inf") else f"{le:g}"
        _add(
            state,
            ("model_request_duration_seconds_bucket", (*t, ("le", le_text))),
            requests * below,
        )
    for metric, rate_name in (
        ("model_predictions_null_total", "null_rate"),
        ("model_fallback_total", "fallback_rate"),
    ):
        _add(state, (metric, t), requests * (values[rate_name] or 0))
    if values["cost_per_hour_usd"] is not None:
        _add(state, ("model_cost_usd_total", t), values["cost_per_hour_usd"] * elapsed / 3600)


def _gauges(
    world: World, target: str, t: Labels, values: dict[str, Any], age_s: float
) -> list[tuple[str, Labels, float]]:
    """One target's gauges and info series (memory grown over the sandbox's ``age_s``)."""
    gauges: list[tuple[str, Labels, float]] = []
    for metric, name in (
        ("model_accuracy_proxy", "accuracy"),
        ("model_accuracy_baseline", "accuracy_baseline"),
        ("model_input_psi", "input_psi"),
        ("model_cost_budget_usd_per_hour", "cost_budget_per_hour_usd"),
    ):
        if values[name] is not None:
            gauges.append((metric, t, float(values[name])))
    if values["memory_mb"] is not None:
        growth = values["memory_growth_mb_per_hour"] or 0.0
        memory = values["memory_mb"] + growth * age_s / 3600
        gauges.append(("model_memory_bytes", t, memory * 1024 * 1024))
    # F7: log lines of this target that carry personal or secret data (what an audit of the
    # logs would count); the redactor is the bot's, so both agree on what is sensitive.
    sensitive = sum(
        1 for line in world.logs if line.source == target and redact(line.message).found
    )
    gauges.append(("model_log_sensitive_lines_total", t, float(sensitive)))
    if values["accuracy_trend"] is not None:
        gauges.append(("model_accuracy_trend_info", (*t, ("trend", values["accuracy_trend"])), 1))
    if values["deployed_version"] is not None:
        labels = (
            *t,
            ("version", str(values["deployed_version"])),
            ("expected_version", str(values["expected_version"] or "")),
        )
        gauges.append(("model_deployed_version_info", labels, 1))
    return gauges


def _render(
    state: SandboxState, targets: list[str], gauges: list[tuple[str, Labels, float]]
) -> list[str]:
    """The exposition text: every counter of a live target and every gauge, by family."""
    by_metric: dict[str, list[str]] = {}
    for (metric, labels), value in state.counters.items():
        if metric.startswith("_") or dict(labels).get("target") not in targets:
            continue
        by_metric.setdefault(metric, []).append(f"{metric}{_fmt(labels)} {value:.6f}")
    for metric, labels, value in gauges:
        by_metric.setdefault(metric, []).append(f"{metric}{_fmt(labels)} {value:.6g}")
    lines: list[str] = []
    for metric, samples in by_metric.items():
        family = metric.removesuffix("_bucket")
        kind = (
            "histogram"
            if metric.endswith("_bucket")
            else ("counter" if metric.endswith("_total") else "gauge")
        )
        lines += [f"# TYPE {family} {kind}", *samples]
    return lines


def advance(state: SandboxState, now: float) -> list[str]:
    """Advance the counters to ``now`` and render every series."""
    world = state.world
    elapsed = max(0.0, now - state.last_scrape)
    state.last_scrape = now
    started = state.counters.setdefault(("_started", ()), now)
    gauges: list[tuple[str, Labels, float]] = []
    targets = [e.name for e in world.endpoints] + [a.name for a in world.agents]
    if world.agents and FLEET_TARGET not in targets:
        targets.append(FLEET_TARGET)  # the gateway's own series: the sum of its agents
    for target in targets:
        values = slis(world, target)
        if values["request_rate_per_min"] is None:
            continue  # no series at all for this target
        t: Labels = (("target", target),)
        ep = world.endpoint(target)
        # Which kind of thing a target is: alert rules join on it to name the alert after the
        # runbook that applies (Model* for serving endpoints, Agent* for the agent fleet).
        kind = "endpoint" if ep is not None else "agent" if world.agent(target) else "gateway"
        gauges.append(("model_target_info", (*t, ("kind", kind)), 1))
        _count(state, t, values, elapsed, ready=ep is None or ep.ready == "READY")
        gauges += _gauges(world, target, t, values, now - started)
    gauges += rule_series(world)
    return _render(state, targets, gauges)


_ERROR_CLASS = re.compile(r"^\[([A-Z0-9_]+)\]")
_HTTP_CODE = re.compile(r"failed with code (\d{3})")


def rule_series(world: World) -> list[tuple[str, Labels, float]]:
    """Series some alert rules need beyond the SLIs (deploy/prometheus/rules/model-alerts.yml):
    each endpoint's config update state and the age of its last update (an update stuck in
    progress), the gateway's health verdict per agent, and every failed ``ai_query`` pipeline
    with the endpoint it calls, its error class and HTTP code (a deleted or misspelled endpoint
    has no series of its own, but its callers' failures name it)."""
    out: list[tuple[str, Labels, float]] = []
    for ep in world.endpoints:
        t: Labels = (("target", ep.name),)
        out.append(("model_endpoint_config_update_info", (*t, ("state", ep.config_update)), 1))
        out.append(("model_endpoint_last_update_age_seconds", t, ep.updated_minutes_ago * 60))
    for agent in world.agents:
        status = agent_status(world, agent)
        out.append(("model_agent_health_info", (("target", agent.name), ("status", status)), 1))
    for pipeline in world.pipelines:
        if pipeline.state != "FAILED":
            continue
        error_class = _ERROR_CLASS.match(pipeline.last_error)
        code = _HTTP_CODE.search(pipeline.last_error)
        for call in ai_query_calls(pipeline.sql):
            labels: Labels = (
                ("target", call.endpoint),
                ("pipeline", pipeline.name),
                ("error_class", error_class.group(1) if error_class else "UNKNOWN"),
                ("code", code.group(1) if code else ""),
            )
            out.append(("model_pipeline_failure_info", labels, 1))
    return out


def exposition_router(state: SandboxState) -> APIRouter:
    router = APIRouter()

    @router.get("/metrics")
    async def metrics() -> PlainTextResponse:
        async with state.lock:
            lines = advance(state, time.time())
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

    return router
