"""The catalogue of injectable faults: each one turns a world into the world of one failure of the
seed documents. Faults are pure (``World -> World``) and combine by applying them in sequence.

``source`` names the seed document and section the failure comes from:
  serving  = model-serving-issues-runbook.txt
  failure  = model-failure-runbook.md
  guide    = model-deployment-guide.md ("Failure modes & mitigation", F1-F8)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sandbox.simulation import ai_query_calls
from sandbox.world import (
    Endpoint,
    EndpointConfig,
    Event,
    Field_,
    LogLine,
    MetricPins,
    ModelVersion,
    ProviderModel,
    World,
)

TargetKind = Literal["endpoint", "agent", "provider", "fleet"]


class FaultError(ValueError):
    """A fault cannot apply to this world and target (e.g. an unknown endpoint)."""


@dataclass(frozen=True)
class Fault:
    """One injectable failure. ``apply`` returns a new world and never changes its argument."""

    id: str
    title: str
    source: str
    target_kind: TargetKind
    default_target: str
    mutate: Callable[[World, str], None]

    def apply(self, world: World, target: str | None = None) -> World:
        """The world with this fault injected on ``target`` (default: :attr:`default_target`)."""
        copy = world.model_copy(deep=True)
        self.mutate(copy, target or self.default_target)
        # Re-validate: a fault must leave a consistent world behind.
        return World.model_validate(copy.model_dump())


# --------------------------------------------------------------------------- helpers


def _endpoint(world: World, name: str) -> Endpoint:
    ep = world.endpoint(name)
    if ep is None:
        raise FaultError(
            f"no endpoint {name!r} in the world; endpoints: {[e.name for e in world.endpoints]}"
        )
    return ep


def _served(world: World, name: str) -> ModelVersion:
    ep = _endpoint(world, name)
    entity = ep.config.served_entities[0]
    model = world.model(entity.entity_name)
    version = model.version(entity.entity_version) if model else None
    if version is None:
        raise FaultError(f"endpoint {name!r} serves a version missing from the world")
    return version


def _agents(world: World, target: str) -> list[str]:
    if target == "*":
        return [a.name for a in world.agents]
    if world.agent(target) is None:
        raise FaultError(f"no agent {target!r}; agents: {[a.name for a in world.agents]}")
    return [target]


def _log(
    world: World, minutes: list[float], source: str, message: str, level: str = "ERROR"
) -> None:
    for m in minutes:
        world.logs.append(LogLine(minutes_ago=m, level=level, source=source, message=message))  # type: ignore[arg-type]


def _fail_callers(world: World, endpoint: str, called: str | None = None) -> None:
    called = called or endpoint
    for pipeline in world.pipelines:
        if any(c.endpoint == called for c in ai_query_calls(pipeline.sql)):
            pipeline.state = "FAILED"
            pipeline.last_error = (
                "[REMOTE_FUNCTION_HTTP_FAILED_ERROR] The remote HTTP request failed with code 404, "
                f"and error message 'Endpoint with name '{called}' does not exist.'"
            )


def _remove_endpoint(world: World, name: str) -> Endpoint:
    ep = _endpoint(world, name)
    world.endpoints = [e for e in world.endpoints if e.name != name]
    world.metrics.pop(name, None)
    return ep


# --------------------------------------------------------------------------- serving: Issue 1


def _never_created(world: World, target: str) -> None:
    if world.endpoint(target) is not None:
        _remove_endpoint(world, target)
    world.events = [e for e in world.events if e.resource != target]
    if not any(c.endpoint == target for p in world.pipelines for c in ai_query_calls(p.sql)):
        raise FaultError(f"no pipeline calls {target!r}; the fault needs a caller")
    _fail_callers(world, target)


def _deleted(world: World, target: str) -> None:
    ep = _remove_endpoint(world, target)
    world.events.append(
        Event(
            minutes_ago=35,
            type="endpoint_deleted",
            resource=target,
            actor="j.smith@example.com",
            details={"reason": "cleanup of unused dev endpoints"},
            config=ep.config,
        )
    )
    _fail_callers(world, target)


def misspelled(name: str) -> str:
    """The misspelling the wrong-name fault writes into pipelines (``-`` and ``_`` swapped)."""
    if "-" in name:
        return name.replace("-", "_")
    if "_" in name:
        return name.replace("_", "-")
    return name + "s"


def _wrong_name(world: World, target: str) -> None:
    _endpoint(world, target)
    wrong = misspelled(target)
    touched = False
    for pipeline in world.pipelines:
        if any(c.endpoint == target for c in ai_query_calls(pipeline.sql)):
            pipeline.sql = pipeline.sql.replace(f"'{target}'", f"'{wrong}'")
            touched = True
    if not touched:
        raise FaultError(f"no pipeline calls {target!r}")
    _fail_callers(world, target, called=wrong)
    world.events.append(
        Event(
            minutes_ago=50,
            type="deploy",
            resource="pipelines",
            actor="data-eng@example.com",
            details={"change": f"pipeline SQL refactor (endpoint name now '{wrong}')"},
        )
    )


# --------------------------------------------------------------------------- serving: Issue 2


def _stuck_updating(world: World, target: str) -> None:
    ep = _endpoint(world, target)
    pending = ep.config.model_copy(deep=True)
    for entity in pending.served_entities:
        entity.deployment = "DEPLOYMENT_CREATING"
        entity.deployment_state_message = "Creating container image: waiting for build slot."
    ep.config_update = "IN_PROGRESS"
    ep.pending_config = pending
    ep.ready = "NOT_READY"
    ep.updated_minutes_ago = 25
    world.events.append(
        Event(
            minutes_ago=25, type="endpoint_updated", resource=target, details={"status": "started"}
        )
    )


def _update_failed(world: World, target: str) -> None:
    ep = _endpoint(world, target)
    message = (
        "Container build failed: could not install package 'tokenizers==0.19.1' "
        "(dependency resolution error). See build logs."
    )
    ep.config_update = "UPDATE_FAILED"
    ep.ready = "NOT_READY"
    ep.updated_minutes_ago = 18
    for entity in ep.config.served_entities:
        entity.deployment = "DEPLOYMENT_FAILED"
        entity.deployment_state_message = message
    world.events.append(
        Event(
            minutes_ago=18,
            type="endpoint_config_failed",
            resource=target,
            details={"message": message},
        )
    )
    _log(world, [18, 17], target, f"deployment failed: {message}")


def _input_mismatch(world: World, target: str) -> None:
    version = _served(world, target)
    first = version.inputs[0].name
    for pipeline in world.pipelines:
        for call in ai_query_calls(pipeline.sql):
            if call.endpoint == target and first in call.request_fields:
                pipeline.sql = pipeline.sql.replace(f"'{first}'", f"'{first}_input'", 1)


def _signature_mismatch(world: World, target: str) -> None:
    version = _served(world, target)
    version.outputs = [
        Field_(name="sentiment", type="string"),
        Field_(name="confidence", type="double"),
    ]


# --------------------------------------------------------------------------- serving: Issue 3


def _dynamic_keys(world: World, target: str) -> None:
    _served(world, target).behaviour.output_style = "dynamic_keys"


def _floats(world: World, target: str) -> None:
    _served(world, target).behaviour.output_style = "floats"


# --------------------------------------------------------------------------- serving: Issue 4


def _under_provisioned(world: World, target: str) -> None:
    ep = _endpoint(world, target)
    for entity in ep.config.served_entities:
        entity.workload_size = "Small"
    ep.request_rate_per_min = 3600.0
    _log(world, [9, 6, 3], target, "request timed out after 120000 ms (queue full)", "WARNING")


def _slow_model(world: World, target: str) -> None:
    _served(world, target).behaviour.latency_ms = 1800.0


def _cold_start(world: World, target: str) -> None:
    ep = _endpoint(world, target)
    for entity in ep.config.served_entities:
        entity.scale_to_zero_enabled = True
    ep.idle_minutes = 45
    ep.request_rate_per_min = 6.0


def _concurrency_too_high(world: World, target: str) -> None:
    _endpoint(world, target)
    found = False
    for pipeline in world.pipelines:
        if any(c.endpoint == target for c in ai_query_calls(pipeline.sql)):
            pipeline.concurrency = 64
            pipeline.state = "RUNNING"
            found = True
    if not found:
        raise FaultError(f"no pipeline calls {target!r}")


# --------------------------------------------------------------------------- serving: Issue 5


def _new_version_regression(world: World, target: str) -> None:
    ep = _endpoint(world, target)
    entity = ep.config.served_entities[0]
    model = world.model(entity.entity_name)
    assert model is not None
    current = model.version(entity.entity_version)
    assert current is not None
    new_version = str(max(int(v.version) for v in model.versions) + 1)
    behaviour = current.behaviour.model_copy(update={"accuracy": current.behaviour.accuracy - 0.14})
    model.versions.append(
        current.model_copy(
            update={
                "version": new_version,
                "created_minutes_ago": 90.0,
                "description": "retrained with new tokenizer",
                # Offline validation looked fine: the regression only shows on production traffic.
                "tags": {"accuracy": "0.93", "validation_status": "approved"},
                "behaviour": behaviour,
            },
            deep=True,
        )
    )
    previous = model.aliases.get("champion", entity.entity_version)
    model.aliases["champion"] = new_version
    ep.config = EndpointConfig(
        served_entities=[entity.model_copy(update={"entity_version": new_version, "name": ""})]
    )
    ep.updated_minutes_ago = 40
    ep.expected_version = new_version
    world.events += [
        Event(
            minutes_ago=90,
            type="model_version_created",
            resource=model.name,
            actor="ml-pipeline",
            details={"version": new_version},
        ),
        Event(
            minutes_ago=42,
            type="alias_set",
            resource=model.name,
            actor="ml-pipeline",
            details={"alias": "champion", "version": new_version, "previous_version": previous},
        ),
        Event(
            minutes_ago=40,
            type="endpoint_updated",
            resource=target,
            actor="ml-pipeline",
            details={"served_versions": new_version},
        ),
    ]


def _data_drift(world: World, target: str) -> None:
    _endpoint(world, target)
    pins = world.metrics.setdefault(target, MetricPins())
    pins.input_psi = 0.34


# ---------------------------------------------------------------- agents (failure runbook)


def _invalid_key(world: World, target: str) -> None:
    world.provider.auth = "invalid_key"
    world.provider.key_rotation_pending = True
    for agent in world.agents:
        _log(world, [14, 8, 2], agent.name, "MistralAPIError: 401 Unauthorized")


def _forbidden(world: World, target: str) -> None:
    world.provider.auth = "forbidden"
    for agent in world.agents:
        _log(
            world, [11, 4], agent.name, "MistralAPIError: 403 Forbidden (workspace access revoked)"
        )


def _rate_limited(world: World, target: str) -> None:
    world.provider.rate_limited = True
    for agent in world.agents:
        _log(world, [9, 6, 3, 1], agent.name, "MistralAPIError: 429 Requests rate limit exceeded")


def _model_gone(world: World, target: str) -> None:
    for name in _agents(world, target):
        agent = world.agent(name)
        assert agent is not None
        world.provider.available_models = [
            m for m in world.provider.available_models if m != agent.finetuned_model
        ]
        _log(
            world, [12, 7, 2], name, f"MistralAPIError: 404 Invalid model: {agent.finetuned_model}"
        )


def _fallback_disabled(world: World, target: str) -> None:
    # Disabling fallback alone changes nothing visible; the incident is a failing fine-tuned model
    # with no fallback to absorb it (failure runbook, "Enable Fallback").
    _model_gone(world, target)
    for name in _agents(world, target):
        agent = world.agent(name)
        assert agent is not None
        agent.use_fallback = False
    world.events.append(
        Event(
            minutes_ago=70,
            type="agent_config_changed",
            resource=target,
            actor="ops@example.com",
            details={"use_fallback": "false"},
        )
    )


def _finetuned_errors(world: World, target: str) -> None:
    # A fine-tuned model that fails a share of its calls (5xx) while the fallback absorbs them:
    # the fallback rate rises above the seed's 10 % and users still get answers.
    for name in _agents(world, target):
        agent = world.agent(name)
        assert agent is not None
        world.provider.models[agent.finetuned_model] = ProviderModel(
            error_code=503, error_share=0.3, error_message="503 fine-tuned model host overloaded"
        )
        _log(
            world,
            [8, 3],
            name,
            "503 fine-tuned model host overloaded; answered by fallback",
            "WARNING",
        )


def _all_agents_down(world: World, target: str) -> None:
    # Scenario 4 with its Fix 2 in reach: the crashes follow a gateway release.
    world.events.append(
        Event(
            minutes_ago=25,
            type="deploy",
            resource="gateway",
            actor="ci-bot",
            details={"release": "gateway worker pool resize"},
        )
    )
    for agent in world.agents:
        agent.process_up = False
        _log(world, [6], agent.name, "worker exited with code 137; restart back-off")
    _log(world, [5, 2], "gateway", "no healthy agents: all upstreams down")


# --------------------------------------------------------------------------- deployment guide F1-F8


def _memory_leak(world: World, target: str) -> None:
    ep = _endpoint(world, target)
    _served(world, target).behaviour.memory_leak_mb_per_hour = 180.0
    ep.updated_minutes_ago = 20 * 60
    _log(world, [30, 10], target, "worker memory at 92% of limit", "WARNING")
    _log(world, [4], target, "worker killed: out of memory (OOMKilled), restarting")


def _version_drift(world: World, target: str) -> None:
    ep = _endpoint(world, target)
    entity = ep.config.served_entities[0]
    model = world.model(entity.entity_name)
    assert model is not None
    older = [v.version for v in model.versions if v.version != entity.entity_version]
    if not older:
        raise FaultError(f"model {model.name} has a single version: nothing to drift to")
    expected = entity.entity_version
    ep.config = EndpointConfig(
        served_entities=[entity.model_copy(update={"entity_version": older[-1], "name": ""})]
    )
    ep.expected_version = expected
    world.events.append(
        Event(
            minutes_ago=65,
            type="deploy",
            resource=target,
            actor="ci-bot",
            details={"artifact": f"{model.name}/{older[-1]}", "expected_version": expected},
        )
    )


def _sensitive_logs(world: World, target: str) -> None:
    _served(world, target).behaviour.logs_payloads = True
    payloads = [
        "request payload: {'text': 'Order late, contact me at maria.rossi@example.com'}",
        "request payload: {'text': 'charged twice on card 4111 1111 1111 1111'}",
        "request payload: {'text': 'my key is sk-live-9f8e7d6c5b4a39281706 pls help'}",
    ]
    for i, line in enumerate(payloads):
        world.logs.append(
            LogLine(minutes_ago=20 - 5 * i, level="INFO", source=target, message=line)
        )


def _cost_overrun(world: World, target: str) -> None:
    ep = _endpoint(world, target)
    budget = ep.cost_budget_per_hour_usd or 5.0
    ep.cost_budget_per_hour_usd = budget
    ep.cost_per_hour_usd = budget * 3.2
    for entity in ep.config.served_entities:
        entity.workload_size = "Large"
        entity.workload_type = "GPU_MEDIUM"


# --------------------------------------------------------------------------- the catalogue

_EP = "sentiment-endpoint"
_SERVING = "model-serving-issues-runbook.txt"
_FAILURE = "model-failure-runbook.md"
_GUIDE = "model-deployment-guide.md"

FAULTS: dict[str, Fault] = {
    f.id: f
    for f in [
        Fault(
            "endpoint.never_created",
            "The endpoint was never created",
            f"{_SERVING}: Issue 1 / Step 1",
            "endpoint",
            _EP,
            _never_created,
        ),
        Fault(
            "endpoint.deleted",
            "The endpoint was deleted",
            f"{_SERVING}: Issue 1 / Step 2",
            "endpoint",
            _EP,
            _deleted,
        ),
        Fault(
            "endpoint.wrong_name",
            "The pipeline calls a misspelled endpoint name",
            f"{_SERVING}: Issue 1 / Step 3",
            "endpoint",
            _EP,
            _wrong_name,
        ),
        Fault(
            "endpoint.stuck_updating",
            "The endpoint has been updating for 25 minutes",
            f"{_SERVING}: Issue 2 / Step 1",
            "endpoint",
            _EP,
            _stuck_updating,
        ),
        Fault(
            "endpoint.update_failed",
            "The endpoint's last config update failed",
            f"{_SERVING}: Issue 2 / Step 1",
            "endpoint",
            _EP,
            _update_failed,
        ),
        Fault(
            "schema.input_mismatch",
            "The pipeline sends fields the signature does not have",
            f"{_SERVING}: Issue 2 / Step 2",
            "endpoint",
            _EP,
            _input_mismatch,
        ),
        Fault(
            "schema.signature_mismatch",
            "The registered output signature differs from the pipeline's returnType",
            f"{_SERVING}: Issue 2 / Step 3",
            "endpoint",
            _EP,
            _signature_mismatch,
        ),
        Fault(
            "schema.dynamic_keys",
            "The model returns varying output keys",
            f"{_SERVING}: Issue 3 / Step 1",
            "endpoint",
            _EP,
            _dynamic_keys,
        ),
        Fault(
            "schema.floats",
            "The model returns floats where the signature says string",
            f"{_SERVING}: Issue 3 / Root Cause",
            "endpoint",
            _EP,
            _floats,
        ),
        Fault(
            "latency.under_provisioned",
            "The endpoint is too small for its load",
            f"{_SERVING}: Issue 4 / Step 1",
            "endpoint",
            _EP,
            _under_provisioned,
        ),
        Fault(
            "latency.slow_model",
            "The model itself is slow",
            f"{_SERVING}: Issue 4 / Step 2",
            "endpoint",
            _EP,
            _slow_model,
        ),
        Fault(
            "latency.cold_start",
            "Scale-to-zero cold starts",
            f"{_GUIDE}: F4 Cold start",
            "endpoint",
            _EP,
            _cold_start,
        ),
        Fault(
            "latency.pipeline_concurrency",
            "A pipeline's ai_query concurrency is too high",
            f"{_SERVING}: Issue 4 / Step 3",
            "endpoint",
            _EP,
            _concurrency_too_high,
        ),
        Fault(
            "performance.new_version_regression",
            "A new champion version is less accurate",
            f"{_SERVING}: Issue 5 / Step 1",
            "endpoint",
            _EP,
            _new_version_regression,
        ),
        Fault(
            "performance.data_drift",
            "Input data drifted: gradual accuracy decline",
            f"{_SERVING}: Issue 5 / Step 2; {_GUIDE}: F2",
            "endpoint",
            _EP,
            _data_drift,
        ),
        Fault(
            "provider.invalid_key",
            "The provider rejects the API key (401)",
            f"{_FAILURE}: Scenario 1",
            "provider",
            "*",
            _invalid_key,
        ),
        Fault(
            "provider.forbidden",
            "The provider forbids the key (403)",
            f"{_FAILURE}: Scenario 1",
            "provider",
            "*",
            _forbidden,
        ),
        Fault(
            "provider.rate_limited",
            "The provider rate-limits the fleet (429)",
            f"{_FAILURE}: Scenario 2",
            "provider",
            "*",
            _rate_limited,
        ),
        Fault(
            "provider.finetuned_model_gone",
            "The fine-tuned model no longer exists (404)",
            f"{_FAILURE}: Scenario 3",
            "agent",
            "qa_agent",
            _model_gone,
        ),
        Fault(
            "agent.fallback_disabled",
            "The fine-tuned model fails and fallback is disabled",
            f"{_FAILURE}: Immediate Actions / 3",
            "agent",
            "qa_agent",
            _fallback_disabled,
        ),
        Fault(
            "agent.finetuned_errors",
            "The fine-tuned model fails intermittently behind a working fallback",
            f"{_FAILURE}: Rollback Procedure; Symptoms (fallback rate > 10 %)",
            "agent",
            "qa_agent",
            _finetuned_errors,
        ),
        Fault(
            "agent.all_down",
            "Every agent of the fleet is down",
            f"{_FAILURE}: Scenario 4",
            "fleet",
            "*",
            _all_agents_down,
        ),
        Fault(
            "runtime.memory_leak",
            "The served model leaks memory",
            f"{_GUIDE}: F5 Memory leak",
            "endpoint",
            _EP,
            _memory_leak,
        ),
        Fault(
            "deploy.version_drift",
            "The deployed version is not the expected one",
            f"{_GUIDE}: F8 Version drift",
            "endpoint",
            _EP,
            _version_drift,
        ),
        Fault(
            "security.sensitive_logs",
            "Raw payloads with personal data in the logs",
            f"{_GUIDE}: F7 Data leak",
            "endpoint",
            _EP,
            _sensitive_logs,
        ),
        Fault(
            "cost.overrun",
            "The endpoint costs far above its budget",
            f"{_GUIDE}: F6 Cost overrun",
            "endpoint",
            _EP,
            _cost_overrun,
        ),
    ]
}


def get_fault(fault_id: str) -> Fault:
    """The fault with this id. Raises ``KeyError`` naming the known ids."""
    if fault_id not in FAULTS:
        raise KeyError(f"unknown fault {fault_id!r}; known: {', '.join(sorted(FAULTS))}")
    return FAULTS[fault_id]


def inject(world: World, *faults: tuple[str, str | None]) -> World:
    """Apply ``(fault_id, target)`` pairs in order."""
    for fault_id, target in faults:
        world = get_fault(fault_id).apply(world, target)
    return world
