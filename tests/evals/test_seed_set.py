"""The second public set (evals/scenarios-seed/): worlds written field by field from the seeds.

It must stand on its own: valid, without injected faults, with names that do not give the answer
away, and meeting the same gates as the generated set.
"""

from __future__ import annotations

import os

import pytest
import yaml

from evals.gates import failed_gates, load_gates
from evals.metrics import aggregate
from evals.runner import DEFAULT_SCENARIOS, SEED_SCENARIOS, load_all, run_all


def test_the_seed_set_loads_without_faults_and_is_run_by_default() -> None:
    loaded, errors = load_all([SEED_SCENARIOS])
    assert errors == []
    assert len(loaded) >= 80
    assert SEED_SCENARIOS in DEFAULT_SCENARIOS
    for item in loaded:
        raw = yaml.safe_load(item.path.read_text(encoding="utf-8"))
        assert not raw["world"].get("faults"), item.path  # field by field, never a fault function
        world = item.scenario.world.model_dump_json()
        for expected in item.scenario.expected.root_causes:
            # A root cause may be one leaf id or "any of these" leaf ids.
            for leaf in [expected] if isinstance(expected, str) else expected:
                assert leaf not in world, (item.path, leaf)


def test_the_fleet_seed_set_covers_both_sides_of_its_thresholds() -> None:
    loaded, _ = load_all([SEED_SCENARIOS / "fleet"])
    ids = {item.scenario.id for item in loaded}
    for pair in (("fallback-above-10pct", "fallback-below-10pct"),
                 ("errors-above-5pct-no-fallback", "errors-below-5pct-no-fallback"),
                 ("latency-above-threshold", "latency-below-threshold"),
                 ("429-model-limit", "model-limit-not-reached"),
                 ("errors-4pct-fallback-off", "errors-6pct-fallback-off"),
                 ("intermittent-503-7pct-below-threshold", "intermittent-502-18pct-fallback-works"),
                 ("recovered-429-spike", "429-metrics-above-5pct")):  # fmt: skip
        assert {f"seed-fleet-{p}" for p in pair} <= ids, pair
    guide = {item.scenario.id for item in load_all([SEED_SCENARIOS / "guide"])[0]}
    for pair in (("growth-40mb-no-oom", "fast-growth-no-oom-yet"),
                 ("slow-growth-no-oom", "slow-leak-with-oom-kills"),
                 ("logs-ids-versions-no-personal-data", "leak-home-address")):  # fmt: skip
        assert {f"seed-guide-{p}" for p in pair} <= guide, pair


@pytest.mark.xdist_group("evals")
def test_seed_set_meets_the_gates() -> None:
    loaded, errors = load_all([SEED_SCENARIOS])
    assert errors == []
    results = run_all(loaded, llm="off", workers=os.cpu_count() or 1)
    failures = failed_gates(aggregate(results), load_gates())
    failed = [f"{r.id}: " + "; ".join(
        f"{c.name} {c.detail}" for c in r.criteria if c.verdict == "fail") for r in results
        if not r.passed]  # fmt: skip
    assert not failures, "\n".join([*failures, "failed scenarios:", *failed[:40]])
