"""What a :class:`World` looks like from outside: its SLIs and its models' invocation answers.

Pure, deterministic functions (no randomness, no clock): the same world always gives the same
numbers, so a scenario's expected diagnosis never flickers.
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass
from typing import Any

from sandbox.sqltypes import normalise, parse_type, sample_value
from sandbox.world import (
    WORKLOAD_CONCURRENCY,
    WORKLOAD_MAX_RATE_PER_MIN,
    Agent,
    Endpoint,
    EndpointConfig,
    Field_,
    MetricEpisode,
    MetricPins,
    ModelVersion,
    Pipeline,
    Route,
    World,
)
from tools.readonly.pipelines import parse_ai_query_calls

# The service-level objectives the default world is healthy against (and alerts are written for).
SLO_AVAILABILITY = 0.999
SLO = {
    "error_rate": 0.001,
    "latency_p95_ms": 1000.0,
    "latency_p99_ms": 2500.0,
    "null_rate": 0.01,
    "fallback_rate": 0.10,  # model-failure-runbook.md Symptoms: "Fallback rate spikes (>10%)"
    "input_psi": 0.2,
    "burn_rate_1h": 1.0,
    "memory_growth_mb_per_hour": 50.0,
}
# An ai_query call times out after this long (seed: "ai_query requests taking >120 seconds").
TIMEOUT_MS = 120_000.0
COLD_START_MS = 45_000.0
# Requests per minute each unit of pipeline concurrency sends.
PIPELINE_RATE_PER_SLOT = 60.0
BASE_MEMORY_MB = 2048.0
# USD per hour per served entity, by workload size (GPU workloads cost four times as much).
COST_PER_HOUR = {"Small": 1.0, "Medium": 3.0, "Large": 12.0}
PSI_BASELINE = 0.04
# Agents: how good and how slow each kind of model is on the fleet's traffic.
FINETUNED_ACCURACY = 0.91
BASELINE_ACCURACY = 0.83
FINETUNED_LATENCY_MS = 650.0
BASELINE_LATENCY_MS = 520.0
AGENT_COST_PER_REQUEST_USD = 0.0004

SLI_NAMES = (
    "error_rate",
    "rate_401",
    "rate_403",
    "rate_404",
    "rate_429",
    "rate_5xx",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "request_rate_per_min",
    "null_rate",
    "fallback_rate",
    "accuracy",
    "accuracy_baseline",
    "accuracy_drop",
    "accuracy_trend",
    "input_psi",
    "memory_mb",
    "memory_growth_mb_per_hour",
    "burn_rate_1h",
    "cost_per_hour_usd",
    "cost_budget_per_hour_usd",
    "deployed_version",
    "expected_version",
)


# --------------------------------------------------------------------------- pipelines' SQL


@dataclass(frozen=True)
class AiQueryCall:
    """One ``ai_query`` call of a pipeline's SQL."""

    endpoint: str
    request_fields: tuple[str, ...]
    return_fields: tuple[tuple[str, str], ...]  # (name, canonical type)
    fail_on_error: bool


@functools.lru_cache(maxsize=1024)
def ai_query_calls(sql: str) -> tuple[AiQueryCall, ...]:
    """The ``ai_query`` calls of SQL, in every form the SQL engine accepts: positional or named
    arguments (``endpoint =>``, ``request =>``, ``returnType =>``, ``failOnError =>``), quoted
    either way, ``named_struct`` or ``struct(col AS name)`` requests, and returnTypes with
    nested types (``STRUCT<labels: ARRAY<STRING>, meta: STRUCT<score: DOUBLE>>``) or the DDL
    form. The grammar is the bot's SQL reader's, so every call the bot can read, the platform runs
    the same way. Parsed once per SQL text: every SLI query reads the callers' pipelines."""
    return tuple(
        AiQueryCall(
            endpoint=call.endpoint_called,
            request_fields=tuple(call.request_fields),
            return_fields=tuple((f.name, normalise(f.type)) for f in call.return_fields),
            fail_on_error=call.fail_on_error,
        )
        for call in parse_ai_query_calls(sql)
    )


Routes = list[tuple[ModelVersion, float, str]]
Calls = list[tuple[Pipeline, AiQueryCall]]


def callers(world: World, endpoint: str) -> Calls:
    """The pipelines (and their calls) whose SQL calls ``endpoint``."""
    return [
        (p, c) for p in world.pipelines for c in ai_query_calls(p.sql) if c.endpoint == endpoint
    ]


# --------------------------------------------------------------------------- signatures


def input_problems(
    version: ModelVersion, fields: list[str] | tuple[str, ...]
) -> tuple[list[str], list[str]]:
    """``(missing required inputs, unexpected inputs)`` of a request against a signature."""
    names = {f.name for f in version.inputs}
    missing = [f.name for f in version.inputs if f.required and f.name not in fields]
    unexpected = [f for f in fields if f not in names]
    return missing, unexpected


def _returns_match(outputs: list[Field_], returns: tuple[tuple[str, str], ...]) -> bool:
    declared = {f.name: normalise(f.type) for f in outputs}
    return all(declared.get(name) == normalise(typ) for name, typ in returns)


# --------------------------------------------------------------------------- endpoints


def served_versions(world: World, ep: Endpoint) -> Routes:
    """``(version, traffic share 0-1, workload size)`` for every route with traffic."""
    out: Routes = []
    entities = {e.name: e for e in ep.config.served_entities}
    for route in ep.config.routes:
        entity = entities[route.served_entity_name]
        model = world.model(entity.entity_name)
        version = model.version(entity.entity_version) if model else None
        if version is not None and route.traffic_percentage > 0:
            out.append((version, route.traffic_percentage / 100, entity.workload_size))
    return out


def primary_version(world: World, ep: Endpoint) -> str | None:
    """The entity version that takes the most traffic (at an even split the older version: the
    one an A/B test is replacing, whatever the order of the routes)."""
    versions = {e.name: e.entity_version for e in ep.config.served_entities}

    def weight(route: Route) -> tuple[int, int]:
        version = versions[route.served_entity_name]
        return route.traffic_percentage, -int(version) if version.isdigit() else 0

    best = max(ep.config.routes, key=weight, default=None)
    return None if best is None else versions[best.served_entity_name]


def _capacity(ep: Endpoint) -> float:
    # Only entities that take traffic serve requests.
    routed = {r.served_entity_name for r in ep.config.routes if r.traffic_percentage > 0}
    return float(
        sum(
            WORKLOAD_CONCURRENCY[e.workload_size]
            for e in ep.config.served_entities
            if e.name in routed
        )
    )


def rate_utilisation(ep: Endpoint, rate: float) -> float:
    """How much of its workload size's request rate each routed entity carries (the busiest one):
    above 1 the endpoint is too small for its load (Best Practices 1)."""
    entities = {e.name: e for e in ep.config.served_entities}
    worst = 0.0
    for route in ep.config.routes:
        if route.traffic_percentage <= 0:
            continue
        size = entities[route.served_entity_name].workload_size
        load = rate * route.traffic_percentage / 100
        worst = max(worst, load / WORKLOAD_MAX_RATE_PER_MIN[size])
    return worst


def _accuracy_trend(world: World, ep: Endpoint, psi: float) -> str:
    served = primary_version(world, ep)
    model = world.model(ep.config.served_entities[0].entity_name)
    for event in sorted(world.events, key=lambda e: e.minutes_ago):
        if event.type != "alias_set" or event.minutes_ago > 24 * 60 or model is None:
            continue
        if event.resource != model.name or event.details.get("version") != served:
            continue
        previous = model.version(event.details.get("previous_version", ""))
        current = model.version(served or "")
        if previous and current and current.behaviour.accuracy < previous.behaviour.accuracy - 0.02:
            return "sudden_drop"
    return "gradual_decline" if psi > SLO["input_psi"] else "stable"


def _tag_accuracy(version: ModelVersion) -> float:
    try:
        return float(version.tags["accuracy"])
    except (KeyError, ValueError):
        return version.behaviour.accuracy


def _drift_penalty(psi: float) -> float:
    # A shift below the "significant" PSI (F2's drift line) costs no measurable accuracy; above it
    # every 0.1 of PSI costs 5 points.
    return max(0.0, psi - SLO["input_psi"]) * 0.5


def ep_rate(ep: Endpoint, calls: list[tuple[Pipeline, AiQueryCall]]) -> float:
    """Requests per minute reaching an endpoint: its own traffic plus its pipelines'."""
    return ep.request_rate_per_min + sum(p.concurrency * PIPELINE_RATE_PER_SLOT for p, _ in calls)


@dataclass(frozen=True)
class Latency:
    """Percentiles in ms and the share of requests that time out."""

    p50: float
    p95: float
    p99: float
    timeouts: float


def _latency(ep: Endpoint, versions: Routes, calls: Calls, rate: float) -> Latency:
    """Latency under load: within capacity a few times the model's own; past it, queueing."""
    latency = sum(v.behaviour.latency_ms * share for v, share, _ in versions) or 80.0
    # Little's law: in flight = arrival rate x service time; pipelines keep all their slots busy.
    demand = ep.request_rate_per_min / 60 * latency / 1000 + sum(p.concurrency for p, _ in calls)
    capacity = _capacity(ep)
    # Two limits: the concurrency the size provisions (pipelines keep their slots busy) and the
    # request rate the size is made for (the seed's table). Within both, latency stays within a
    # few times the model's own; past either, requests queue until they time out.
    rho = max(demand / capacity if capacity else float("inf"), rate_utilisation(ep, rate))
    if rho <= 1:
        return Latency(
            latency * (1 + rho / 2), 2 * latency * (1 + rho), 3 * latency * (1 + rho), 0.0
        )
    return Latency(
        min(TIMEOUT_MS, latency * 4 * rho),
        min(TIMEOUT_MS, latency * 40 * rho),
        TIMEOUT_MS,
        1 - 1 / rho,
    )


def _pipeline_effects(
    calls: Calls, versions: Routes, rate: float, errors_5xx: float
) -> tuple[float, float]:
    """(bad requests, NULL rows) as shares of all traffic: what each pipeline's SQL makes of the
    answers, where they do not parse as its returnType or errors become values (failOnError
    false)."""
    bad_requests = 0.0
    pipeline_nulls = 0.0
    for pipeline, call in calls:
        weight = pipeline.concurrency * PIPELINE_RATE_PER_SLOT / rate if rate else 0.0
        for version, share, _ in versions:
            missing, unexpected = input_problems(version, call.request_fields)
            style = version.behaviour.output_style
            if missing or unexpected:
                bad_requests += weight * share
                if not call.fail_on_error:
                    pipeline_nulls += weight * share
            elif style in ("dynamic_keys", "floats") or not _returns_match(
                version.outputs, call.return_fields
            ):
                pipeline_nulls += weight * share
            elif style in ("null",) or (not call.fail_on_error and errors_5xx > 0):
                pipeline_nulls += weight * share * (1.0 if style == "null" else errors_5xx)
    return bad_requests, pipeline_nulls


def _accuracy_baseline(world: World, ep: Endpoint, versions: Routes) -> float | None:
    """The best tagged accuracy among the model's versions not being served."""
    served = {v.version for v, _, _ in versions}
    model = world.model(ep.config.served_entities[0].entity_name)
    others = [
        _tag_accuracy(v) for v in (model.versions if model else []) if v.version not in served
    ]
    return max(others) if others else None


def _cost_per_hour(ep: Endpoint, cold: bool) -> float:
    """The endpoint's stated cost, or its sizes' list price (nothing while scaled to zero)."""
    if ep.cost_per_hour_usd is not None:
        return ep.cost_per_hour_usd
    if cold:
        return 0.0
    return sum(
        COST_PER_HOUR[e.workload_size] * (4 if e.workload_type.startswith("GPU") else 1)
        for e in ep.config.served_entities
    )


def endpoint_slis(world: World, ep: Endpoint, psi: float) -> dict[str, Any]:
    """The simulated SLIs of one serving endpoint (before pins)."""
    versions = served_versions(world, ep)
    calls = callers(world, ep.name)
    pipeline_rate = sum(p.concurrency * PIPELINE_RATE_PER_SLOT for p, _ in calls)
    rate = ep.request_rate_per_min + pipeline_rate
    lat = _latency(ep, versions, calls, rate)
    cold = any(e.scale_to_zero_enabled for e in ep.config.served_entities) and ep.idle_minutes > 0
    p99 = max(lat.p99, COLD_START_MS) if cold else lat.p99

    errors_5xx = 1.0 if ep.ready != "READY" else lat.timeouts
    model_errors = sum(share for v, share, _ in versions if v.behaviour.output_style == "error")
    errors_5xx = max(errors_5xx, min(1.0, lat.timeouts + model_errors))
    null_model = sum(share for v, share, _ in versions if v.behaviour.output_style == "null")
    bad_requests, pipeline_nulls = _pipeline_effects(calls, versions, rate, errors_5xx)
    direct = 1 - (pipeline_rate / rate if rate else 0.0)

    accuracy = sum(v.behaviour.accuracy * share for v, share, _ in versions) - _drift_penalty(psi)
    leak = sum(v.behaviour.memory_leak_mb_per_hour * share for v, share, _ in versions)
    deployed = primary_version(world, ep)
    return {
        "error_rate": min(1.0, errors_5xx + bad_requests * (1 - errors_5xx)),
        "rate_401": 0.0,
        "rate_403": 0.0,
        "rate_404": 0.0,
        "rate_429": 0.0,
        "rate_5xx": errors_5xx,
        "latency_p50_ms": lat.p50,
        "latency_p95_ms": lat.p95,
        "latency_p99_ms": p99,
        "request_rate_per_min": rate,
        "null_rate": min(1.0, null_model * direct + pipeline_nulls),
        "fallback_rate": 0.0,
        "accuracy": max(0.0, accuracy),
        "accuracy_baseline": _accuracy_baseline(world, ep, versions),
        "accuracy_trend": _accuracy_trend(world, ep, psi),
        "input_psi": psi,
        "memory_mb": BASE_MEMORY_MB + leak * ep.updated_minutes_ago / 60,
        "memory_growth_mb_per_hour": leak,
        "cost_per_hour_usd": _cost_per_hour(ep, cold),
        "cost_budget_per_hour_usd": ep.cost_budget_per_hour_usd,
        "deployed_version": deployed,
        "expected_version": ep.expected_version or deployed,
    }


# --------------------------------------------------------------------------- agents


@dataclass(frozen=True)
class ModelCall:
    """What calls to a provider model give: ``code`` 200 or the HTTP error, its message, and the
    share of calls that fail that way (1.0 for a hard failure, less for intermittent errors)."""

    code: int
    message: str = ""
    share: float = 1.0

    @property
    def ok(self) -> bool:
        """What one deterministic call (a probe) sees: a failure hits it from a 50 % share."""
        return self.code == 200 or self.share < 0.5

    @property
    def failing(self) -> float:
        return 0.0 if self.code == 200 else self.share


# Seed thresholds of the gateway's health (model-failure-runbook.md, Symptoms): an agent whose
# requests fail or fall back more than this is degraded. runbooks/thresholds.yaml has the same.
FLEET_ERROR_RATE = 0.05
FLEET_FALLBACK_RATE = 0.10


def model_demand(world: World, model_id: str) -> float:
    """Requests per minute the fleet sends to ``model_id`` first (before any fallback)."""
    demand = 0.0
    for agent in world.agents:
        if not agent.process_up:
            continue
        finetuned = agent.rollout_percentage / 100 if agent.use_finetuned else 0.0
        if agent.finetuned_model == model_id and agent.endpoint is None:
            demand += agent.request_rate_per_min * finetuned
        if agent.baseline_model == model_id:
            demand += agent.request_rate_per_min * (1 - finetuned)
    return demand


def provider_call(world: World, model_id: str, key: str = "default") -> ModelCall:
    """How the provider answers chats with ``model_id`` under API key ``key`` right now."""
    provider = world.provider
    behaviour = provider.key(key)
    if not provider.reachable:
        return ModelCall(503, "provider unreachable: connection timed out")
    if behaviour.auth == "invalid_key":
        return ModelCall(401, "401 Unauthorized: invalid API key")
    if behaviour.auth == "forbidden" or model_id in behaviour.forbidden_models:
        return ModelCall(403, f"403 Forbidden: the key may not use model {model_id}")
    if behaviour.rate_limited:
        return ModelCall(429, "429 Requests rate limit exceeded")
    if model_id not in provider.available_models:
        return ModelCall(404, f"404 Invalid model: {model_id}")
    model = provider.models.get(model_id)
    if model is None:
        return ModelCall(200)
    if model.rate_limit_per_min is not None:
        demand = model_demand(world, model_id)
        if demand > model.rate_limit_per_min:
            share = 1 - model.rate_limit_per_min / demand
            return ModelCall(429, f"429 Requests rate limit exceeded for model {model_id}", share)
    if model.error_code is not None:
        message = model.error_message or f"{model.error_code} upstream error from {model_id}"
        return ModelCall(model.error_code, message, model.error_share)
    return ModelCall(200)


def finetuned_call(world: World, agent: Agent) -> ModelCall:
    """The agent's fine-tuned model: at the provider, or on the serving endpoint it names."""
    if agent.endpoint is None:
        return provider_call(world, agent.finetuned_model, agent.api_key)
    ep = world.endpoint(agent.endpoint)
    if ep is None:
        return ModelCall(404, f"404 serving endpoint {agent.endpoint} does not exist")
    if ep.ready != "READY":
        return ModelCall(503, f"503 serving endpoint {agent.endpoint} is not ready")
    return ModelCall(200)


@dataclass(frozen=True)
class ChatOutcome:
    """What the gateway answers for one chat of an agent."""

    answered: bool
    model_used: str | None
    fell_back: bool
    code: int
    error: str | None


def agent_chat(world: World, agent: Agent, use_finetuned: bool, use_fallback: bool) -> ChatOutcome:
    """One chat through the gateway: the fine-tuned model first, the baseline on failure."""
    if not agent.process_up:
        return ChatOutcome(False, None, False, 503, f"agent {agent.name} process is not running")
    if use_finetuned:
        first = finetuned_call(world, agent)
        if first.ok:
            return ChatOutcome(True, agent.finetuned_model, False, 200, None)
        if not use_fallback:
            return ChatOutcome(False, None, False, first.code, first.message)
        second = provider_call(world, agent.baseline_model, agent.api_key)
        if second.ok:
            return ChatOutcome(True, agent.baseline_model, True, 200, first.message)
        return ChatOutcome(False, None, True, first.code, first.message)
    only = provider_call(world, agent.baseline_model, agent.api_key)
    if only.ok:
        return ChatOutcome(True, agent.baseline_model, False, 200, None)
    return ChatOutcome(False, None, False, only.code, only.message)


def last_error(world: World, agent: Agent) -> str | None:
    """The error the agent's calls show now, also when only a share of them fails."""
    probe = agent_chat(world, agent, agent.use_finetuned, agent.use_fallback)
    if probe.error or not agent.process_up:
        return probe.error
    calls = [provider_call(world, agent.baseline_model, agent.api_key)]
    if agent.use_finetuned and agent.rollout_percentage > 0:
        calls.insert(0, finetuned_call(world, agent))
    return next((c.message for c in calls if c.failing > 0), None)


@dataclass
class _Tally:
    codes: dict[int, float]
    fallback: float = 0.0
    answered: float = 0.0
    accurate: float = 0.0
    latency: float = 0.0

    def fail(self, share: float, code: int) -> None:
        self.codes[code] = self.codes.get(code, 0.0) + share
        self.latency += share * 40.0  # errors come back fast

    def answer(self, share: float, finetuned: bool, fell_back: bool) -> None:
        self.answered += share
        self.accurate += share * (FINETUNED_ACCURACY if finetuned else BASELINE_ACCURACY)
        if fell_back:
            self.fallback += share
            self.latency += share * (FINETUNED_LATENCY_MS * 0.2 + BASELINE_LATENCY_MS)
        else:
            self.latency += share * (FINETUNED_LATENCY_MS if finetuned else BASELINE_LATENCY_MS)


def _tally(world: World, agent: Agent) -> _Tally:
    """Shares of the agent's requests by outcome: fine-tuned, fallback, baseline, failed."""
    tally = _Tally(codes={})
    if not agent.process_up:
        tally.fail(1.0, 503)
        return tally
    finetuned_share = agent.rollout_percentage / 100 if agent.use_finetuned else 0.0
    baseline = provider_call(world, agent.baseline_model, agent.api_key)
    if finetuned_share > 0:
        first = finetuned_call(world, agent)
        bad = finetuned_share * first.failing
        if finetuned_share - bad > 0:
            tally.answer(finetuned_share - bad, True, False)
        if bad > 0 and agent.use_fallback:
            saved = bad * (1 - baseline.failing)
            if saved > 0:
                tally.answer(saved, False, True)
            if bad - saved > 0:
                tally.fail(bad - saved, first.code)
                tally.fallback += bad - saved  # a fallback was tried and failed too
        elif bad > 0:
            tally.fail(bad, first.code)
    rest = 1 - finetuned_share
    if rest > 0:
        lost = rest * baseline.failing
        if rest - lost > 0:
            tally.answer(rest - lost, False, False)
        if lost > 0:
            tally.fail(lost, baseline.code)
    return tally


def agent_slis(world: World, agent: Agent) -> dict[str, Any]:
    """The simulated SLIs of one gateway agent (before pins)."""
    tally = _tally(world, agent)
    codes, answered = tally.codes, tally.answered
    latency = tally.latency or 40.0
    return {
        "error_rate": min(1.0, sum(codes.values(), 0.0)),
        "rate_401": codes.get(401, 0.0),
        "rate_403": codes.get(403, 0.0),
        "rate_404": codes.get(404, 0.0),
        "rate_429": codes.get(429, 0.0),
        "rate_5xx": sum((v for c, v in codes.items() if c >= 500), 0.0),
        "latency_p50_ms": latency,
        "latency_p95_ms": latency * 1.4,
        "latency_p99_ms": latency * 2.0,
        "request_rate_per_min": agent.request_rate_per_min,
        "null_rate": 0.0,
        "fallback_rate": min(1.0, tally.fallback),
        "accuracy": tally.accurate / answered if answered else None,
        "accuracy_baseline": BASELINE_ACCURACY,
        "accuracy_trend": "stable",
        "input_psi": PSI_BASELINE,
        "memory_mb": 512.0 if agent.process_up else None,
        "memory_growth_mb_per_hour": 0.0 if agent.process_up else None,
        "cost_per_hour_usd": agent.request_rate_per_min
        * 60
        * AGENT_COST_PER_REQUEST_USD
        * answered,
        "cost_budget_per_hour_usd": None,
        "deployed_version": None,
        "expected_version": None,
    }


# --------------------------------------------------------------------------- public entry point


# A query without a window (the gateway's health, the exposition) reads the last few minutes.
INSTANT_WINDOW_MINUTES = 5.0
# The sum of the fleet's series: what the gateway exports about itself.
FLEET_TARGET = "gateway"
_EPISODE_SLIS = tuple(n for n in MetricEpisode.model_fields if n.endswith(("_rate", "_ms")))
_EPISODE_SLIS += ("rate_401", "rate_403", "rate_404", "rate_429", "rate_5xx")


def _fleet_slis(world: World) -> dict[str, Any]:
    """The gateway's own series: request-weighted means of its agents' shares and latencies."""
    per_agent = [(a, agent_slis(world, a)) for a in world.agents]
    total = sum(a.request_rate_per_min for a, _ in per_agent)
    values: dict[str, Any] = dict.fromkeys(SLI_NAMES)
    if not per_agent:
        return values
    for name in (*_EPISODE_SLIS, "accuracy"):
        known = [(a.request_rate_per_min, v[name]) for a, v in per_agent if v[name] is not None]
        weight = sum(w for w, _ in known)
        if known:
            values[name] = sum(w * x for w, x in known) / weight if weight else known[0][1]
    values["request_rate_per_min"] = total
    values["cost_per_hour_usd"] = sum(v["cost_per_hour_usd"] or 0.0 for _, v in per_agent)
    values["accuracy_baseline"] = BASELINE_ACCURACY
    values["accuracy_trend"] = "stable"
    return values


def _over_window(values: dict[str, Any], pins: MetricPins, window: float) -> dict[str, Any]:
    """The current values averaged with the past episodes that fall inside the window."""
    out = dict(values)
    for name in _EPISODE_SLIS:
        if values.get(name) is None:
            continue
        covered = weighted = 0.0
        for episode in pins.history:
            value = getattr(episode, name)
            start, end = min(episode.from_minutes_ago, window), episode.to_minutes_ago
            if value is None or start <= end:
                continue
            covered += start - end
            weighted += (start - end) * value
        if covered:
            covered = min(covered, window)
            out[name] = (weighted + (window - covered) * values[name]) / window
    return out


def served_entity_view(world: World, target: str) -> tuple[World, Endpoint] | None:
    """``<endpoint>/<served entity>``: the series the exporter writes per served entity (the
    canary's own numbers during a traffic split), as an endpoint that serves only that entity
    with its share of the load. Its pins are ``world.metrics['<endpoint>/<entity>']``."""
    name, _, entity_name = target.partition("/")
    ep = world.endpoint(name)
    if ep is None or not entity_name:
        return None
    entity = next((e for e in ep.config.served_entities if e.name == entity_name), None)
    if entity is None:
        return None
    share = sum(
        r.traffic_percentage for r in ep.config.routes if r.served_entity_name == entity_name
    )
    load = ep_rate(ep, callers(world, ep.name)) * share / 100
    config = EndpointConfig(
        served_entities=[entity],
        routes=[Route(served_entity_name=entity.name, traffic_percentage=100)] if share else [],
    )
    alone = ep.model_copy(update={"config": config, "request_rate_per_min": load})
    # The load of the pipelines is in the entity's share already.
    return world.model_copy(update={"pipelines": [], "endpoints": [alone]}), alone


def slis(world: World, target: str, window_minutes: float | None = None) -> dict[str, Any]:
    """Every SLI of ``target`` (an endpoint or agent name, ``<endpoint>/<served entity>`` for one
    served entity of an endpoint, or ``gateway`` for the whole fleet) by
    the evidence names of the ``slis`` tool, over the last ``window_minutes`` (default: the last
    few minutes). ``None`` means "no series"; ``missing`` lists those names. Pins in
    ``world.metrics[target]`` override single values (their ``history`` episodes count for the
    part of the window they cover); ``missing=True`` removes every series."""
    pins = world.metrics.get(target, MetricPins())
    ep, agent = world.endpoint(target), world.agent(target)
    view = served_entity_view(world, target) if ep is None and agent is None else None
    shown = world
    if view is not None:
        shown, ep = view
    fleet = ep is None and agent is None and target == FLEET_TARGET and bool(world.agents)
    values: dict[str, Any]
    if pins.missing or (ep is None and agent is None and not fleet):
        values = dict.fromkeys(SLI_NAMES)
    else:
        psi = pins.input_psi if pins.input_psi is not None else PSI_BASELINE
        if view is not None and pins.input_psi is None:
            parent = world.metrics.get(target.partition("/")[0], MetricPins()).input_psi
            psi = parent if parent is not None else psi
        if ep is not None:
            values = endpoint_slis(shown, ep, psi)
        elif agent is not None:
            values = agent_slis(world, agent)
        else:
            values = _fleet_slis(world)
        for name, pinned in pins.model_dump(exclude={"missing", "history"}).items():
            if pinned is not None:
                values[name] = pinned
        window = float(window_minutes or INSTANT_WINDOW_MINUTES)
        current = values
        values = _over_window(current, pins, window)
        if pins.burn_rate_1h is None and current["error_rate"] is not None:
            hour = _over_window(current, pins, 60.0)["error_rate"]
            values["burn_rate_1h"] = hour / (1 - SLO_AVAILABILITY)
        values.setdefault("burn_rate_1h", None)
        acc, base = values.get("accuracy"), values.get("accuracy_baseline")
        values["accuracy_drop"] = base - acc if acc is not None and base is not None else None
    values["missing"] = [name for name in SLI_NAMES if values.get(name) is None]
    return {name: values.get(name) for name in (*SLI_NAMES, "missing")}


def settle_after_change(world: World, targets: list[str]) -> None:
    """A change to a target makes the simulation answer for it again: the pinned live values of
    those targets are dropped (their past episodes and a missing series stay). Pins describe the
    symptoms of the world as written; once someone changes the thing, the physics decides."""
    for name in targets:
        pins = world.metrics.get(name)
        if pins is None:
            continue
        world.metrics[name] = MetricPins(missing=pins.missing, history=pins.history)


def within_slo(values: dict[str, Any]) -> list[str]:
    """The SLO breaches of an SLI dict (empty when healthy), e.g. ``["latency_p99_ms=45000"]``."""
    breaches = []
    for name, limit in SLO.items():
        value = values.get(name)
        if value is not None and value > limit:
            breaches.append(f"{name}={value:g}")
    acc, base = values.get("accuracy"), values.get("accuracy_baseline")
    if acc is not None and base is not None and base - acc > 0.03:
        breaches.append(f"accuracy_drop={base - acc:g}")
    if values.get("deployed_version") != values.get("expected_version"):
        breaches.append("version_drift")
    cost, budget = values.get("cost_per_hour_usd"), values.get("cost_budget_per_hour_usd")
    if cost is not None and budget is not None and cost > budget:
        breaches.append(f"cost_per_hour_usd={cost:g}")
    if values.get("accuracy_trend") not in (None, "stable"):
        breaches.append(f"accuracy_trend={values['accuracy_trend']}")
    return breaches


# --------------------------------------------------------------------------- invocations


@dataclass(frozen=True)
class InvocationAnswer:
    status: int
    body: dict[str, Any]


def _records(payload: Any) -> list[dict[str, Any]] | None:
    if not isinstance(payload, dict):
        return None
    if isinstance(payload.get("dataframe_records"), list):
        rows = payload["dataframe_records"]
    elif "inputs" in payload:
        inputs = payload["inputs"]
        if (
            isinstance(inputs, dict)
            and inputs
            and all(isinstance(v, list) for v in inputs.values())
        ):
            n = max(len(v) for v in inputs.values())
            rows = [{k: v[i] for k, v in inputs.items() if i < len(v)} for i in range(n)]
        else:
            rows = inputs if isinstance(inputs, list) else [inputs]
    elif isinstance(payload.get("dataframe_split"), dict):
        split = payload["dataframe_split"]
        cols = split.get("columns") or []
        rows = [dict(zip(cols, row, strict=False)) for row in split.get("data") or []]
    else:
        return None
    return rows if all(isinstance(r, dict) for r in rows) else None


def _route_for(world: World, ep: Endpoint, index: int) -> ModelVersion:
    # Deterministic traffic split: request i lands at slot (i * 37) % 100 of the cumulative routes.
    slot = (index * 37) % 100
    versions = served_versions(world, ep)
    cumulative = 0.0
    for version, share, _ in versions:
        cumulative += share * 100
        if slot < cumulative:
            return version
    return versions[-1][0]


def _prediction(version: ModelVersion, row: dict[str, Any], index: int) -> Any:
    style = version.behaviour.output_style
    if style == "null":
        return None
    seed = zlib.crc32(repr(sorted(row.items())).encode())
    score = 0.5 + (seed % 500) / 1000
    out: dict[str, Any] = {}
    for i, field in enumerate(version.outputs):
        kind = parse_type(field.type)
        value: Any = sample_value(kind, field.name, seed - i * 10)
        if style == "floats" and kind.kind == "string":
            value = round(score - i * 0.01, 3)  # a raw float where the signature says string
        key = field.name
        if style == "dynamic_keys":
            key = [
                field.name,
                f"{field.name}_{index % 3}",
                field.name.upper(),
                f"{field.name}_value",
            ][index % 4]
        out[key] = value
    return out


def invoke(world: World, endpoint: str, payload: Any) -> InvocationAnswer:
    """The answer of ``POST /serving-endpoints/{endpoint}/invocations`` for ``payload``."""
    ep = world.endpoint(endpoint)
    if ep is None:
        return InvocationAnswer(
            404,
            {
                "error_code": "RESOURCE_DOES_NOT_EXIST",
                "message": f"Endpoint with name '{endpoint}' does not exist.",
            },
        )
    if ep.ready != "READY" or not ep.config.routes:
        return InvocationAnswer(
            503,
            {
                "error_code": "TEMPORARILY_UNAVAILABLE",
                "message": f"Endpoint '{endpoint}' is not ready (state {ep.ready}, "
                f"config update {ep.config_update}).",
            },
        )
    rows = _records(payload)
    if rows is None:
        return InvocationAnswer(
            400,
            {
                "error_code": "BAD_REQUEST",
                "message": "Request must carry 'dataframe_records', 'dataframe_split' or 'inputs'.",
            },
        )
    predictions = []
    for index, row in enumerate(rows):
        version = _route_for(world, ep, index)
        missing, unexpected = input_problems(version, list(row))
        if missing or unexpected:
            problem = (f"Model is missing inputs {missing}." if missing else "") + (
                f" Unexpected input field(s) {unexpected}." if unexpected else ""
            )
            return InvocationAnswer(
                400,
                {
                    "error_code": "BAD_REQUEST",
                    "message": f"Failed to enforce schema of data: {problem.strip()} "
                    f"Expected inputs: {[f.name for f in version.inputs]}.",
                },
            )
        if version.behaviour.output_style == "error":
            return InvocationAnswer(
                500,
                {
                    "error_code": "INTERNAL_ERROR",
                    "message": f"Model version {version.version} raised: "
                    "ValueError: could not convert string to float",
                },
            )
        predictions.append(_prediction(version, row, index))
    return InvocationAnswer(200, {"predictions": predictions})
