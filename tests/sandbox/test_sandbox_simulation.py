"""The simulation and the fault catalogue: a healthy default world, each fault's effect."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.default_world import AGENTS, SENTIMENT_ENDPOINT, default_world
from sandbox.faults import FAULTS, FaultError, get_fault, inject, misspelled
from sandbox.simulation import SLI_NAMES, ai_query_calls, invoke, slis, within_slo
from sandbox.world import MetricPins, World

EP = SENTIMENT_ENDPOINT


def test_default_world_is_healthy() -> None:
    world = default_world()
    for target in [e.name for e in world.endpoints] + list(AGENTS):
        values = slis(world, target)
        assert within_slo(values) == [], target
        assert set(values) == {*SLI_NAMES, "missing"}


def test_unknown_target_has_no_series() -> None:
    values = slis(default_world(), "no-such-endpoint")
    assert values["missing"] == list(SLI_NAMES)


def test_pins_override_and_missing_removes_everything() -> None:
    world = default_world()
    world.metrics[EP] = MetricPins(latency_p95_ms=9000.0)
    assert slis(world, EP)["latency_p95_ms"] == 9000.0
    world.metrics[EP] = MetricPins(missing=True)
    assert slis(world, EP)["error_rate"] is None


def _ep(world: World) -> dict[str, Any]:
    return slis(world, EP)


# fault id -> a check of the faulted world (every fault must change what the bot can observe)
CHECKS: dict[str, Any] = {
    "endpoint.never_created": lambda w: (
        w.endpoint(EP) is None
        and not any(e.resource == EP for e in w.events)
        and any(p.state == "FAILED" for p in w.pipelines)
    ),
    "endpoint.deleted": lambda w: (
        w.endpoint(EP) is None
        and any(e.type == "endpoint_deleted" and e.config is not None for e in w.events)
    ),
    "endpoint.wrong_name": lambda w: any(
        c.endpoint == misspelled(EP) for p in w.pipelines for c in ai_query_calls(p.sql)
    ),
    "endpoint.stuck_updating": lambda w: (
        w.endpoint(EP).config_update == "IN_PROGRESS"
        and w.endpoint(EP).updated_minutes_ago > 15
        and w.endpoint(EP).pending_config is not None
    ),
    "endpoint.update_failed": lambda w: (
        w.endpoint(EP).config_update == "UPDATE_FAILED"
        and w.endpoint(EP).config.served_entities[0].deployment_state_message != ""
    ),
    "schema.input_mismatch": lambda w: _ep(w)["error_rate"] > 0.5,
    "schema.signature_mismatch": lambda w: _ep(w)["null_rate"] > 0.5 and _ep(w)["error_rate"] == 0,
    "schema.dynamic_keys": lambda w: _ep(w)["null_rate"] > 0.5,
    "schema.floats": lambda w: _ep(w)["null_rate"] > 0.5,
    "latency.under_provisioned": lambda w: (
        _ep(w)["rate_5xx"] > 0.1 and _ep(w)["latency_p99_ms"] >= 120_000
    ),
    "latency.slow_model": lambda w: _ep(w)["latency_p50_ms"] > 1000 and _ep(w)["rate_5xx"] == 0,
    "latency.cold_start": lambda w: _ep(w)["latency_p99_ms"] > 10 * _ep(w)["latency_p95_ms"],
    "latency.pipeline_concurrency": lambda w: (
        max(p.concurrency for p in w.pipelines) >= 64 and _ep(w)["rate_5xx"] > 0.5
    ),
    "performance.new_version_regression": lambda w: (
        _ep(w)["accuracy_trend"] == "sudden_drop"
        and _ep(w)["accuracy_baseline"] - _ep(w)["accuracy"] > 0.1
    ),
    "performance.data_drift": lambda w: (
        _ep(w)["accuracy_trend"] == "gradual_decline" and _ep(w)["input_psi"] > 0.2
    ),
    "provider.invalid_key": lambda w: slis(w, "qa_agent")["rate_401"] == 1.0,
    "provider.forbidden": lambda w: slis(w, "qa_agent")["rate_403"] == 1.0,
    "provider.rate_limited": lambda w: slis(w, "qa_agent")["rate_429"] == 1.0,
    "provider.finetuned_model_gone": lambda w: (
        slis(w, "qa_agent")["fallback_rate"] == 1.0
        and slis(w, "qa_agent")["error_rate"] == 0.0
        and slis(w, "support_agent")["fallback_rate"] == 0.0
    ),
    "agent.fallback_disabled": lambda w: (
        slis(w, "qa_agent")["rate_404"] == 1.0 and slis(w, "qa_agent")["fallback_rate"] == 0.0
    ),
    "agent.finetuned_errors": lambda w: (
        slis(w, "qa_agent")["fallback_rate"] == pytest.approx(0.3)
        and slis(w, "qa_agent")["error_rate"] == 0.0
    ),
    "agent.all_down": lambda w: all(slis(w, a)["error_rate"] == 1.0 for a in AGENTS),
    "runtime.memory_leak": lambda w: _ep(w)["memory_growth_mb_per_hour"] > 100,
    "deploy.version_drift": lambda w: _ep(w)["deployed_version"] != _ep(w)["expected_version"],
    "security.sensitive_logs": lambda w: any("@example.com" in line.message for line in w.logs),
    "cost.overrun": lambda w: _ep(w)["cost_per_hour_usd"] > _ep(w)["cost_budget_per_hour_usd"],
}


def test_every_fault_is_checked() -> None:
    assert set(CHECKS) == set(FAULTS)


@pytest.mark.parametrize("fault_id", sorted(FAULTS))
def test_fault_effect(fault_id: str) -> None:
    before = default_world()
    snapshot = before.model_dump()
    after = get_fault(fault_id).apply(before)
    assert before.model_dump() == snapshot, "apply must not change its argument"
    assert not CHECKS[fault_id](before)
    assert CHECKS[fault_id](after)


def test_faults_combine_in_sequence() -> None:
    world = inject(default_world(), ("provider.rate_limited", None), ("latency.cold_start", EP))
    assert slis(world, "qa_agent")["rate_429"] == 1.0
    assert slis(world, EP)["latency_p99_ms"] >= 45_000


def test_fault_on_unknown_target_is_refused() -> None:
    with pytest.raises(FaultError, match="no endpoint"):
        get_fault("latency.slow_model").apply(default_world(), "nope")


def test_fallback_is_lost_only_when_the_baseline_also_fails() -> None:
    gone = get_fault("provider.finetuned_model_gone").apply(default_world(), "*")
    assert slis(gone, "legal_agent")["error_rate"] == 0.0
    gone.provider.available_models.remove("open-mistral-7b")
    assert slis(gone, "legal_agent")["error_rate"] == 1.0


def test_baseline_only_agents_avoid_finetuned_failures() -> None:
    world = get_fault("agent.fallback_disabled").apply(default_world(), "qa_agent")
    world.agent("qa_agent").rollout_percentage = 0  # type: ignore[union-attr]
    assert slis(world, "qa_agent")["error_rate"] == 0.0


def test_invocation_follows_output_style_and_signature() -> None:
    world = default_world()
    ok = invoke(world, EP, {"dataframe_records": [{"text": "great"}, {"text": "awful"}]})
    assert ok.status == 200
    assert all(set(p) == {"label", "score"} for p in ok.body["predictions"])
    assert all(isinstance(p["score"], str) for p in ok.body["predictions"])

    bad = invoke(world, EP, {"dataframe_records": [{"review": "great"}]})
    assert bad.status == 400 and "review" in bad.body["message"] and "text" in bad.body["message"]

    floats = get_fault("schema.floats").apply(world)
    answer = invoke(floats, EP, {"dataframe_records": [{"text": "x"}]})
    assert all(isinstance(v, float) for v in answer.body["predictions"][0].values())

    dynamic = get_fault("schema.dynamic_keys").apply(world)
    rows = [{"text": str(i)} for i in range(4)]
    keys = {tuple(p) for p in invoke(dynamic, EP, {"dataframe_records": rows}).body["predictions"]}
    assert len(keys) > 1

    world.models[0].versions[3].behaviour.output_style = "null"
    assert invoke(world, EP, {"inputs": [{"text": "x"}]}).body["predictions"] == [None]
    world.models[0].versions[3].behaviour.output_style = "error"
    assert invoke(world, EP, {"inputs": {"text": ["x"]}}).status == 500

    stuck = get_fault("endpoint.stuck_updating").apply(default_world())
    assert invoke(stuck, EP, {"inputs": [{"text": "x"}]}).status == 503
    assert invoke(world, "missing", {}).body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
