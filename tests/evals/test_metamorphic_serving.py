"""Metamorphic checks on the serving seed scenarios: renaming every target changes nothing, and
moving one value across a seed threshold changes the diagnosis exactly there (and only there)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from evals.drive import run_scenario
from evals.metrics import score
from evals.runner import SEED_SCENARIOS
from evals.scenario import parse_scenario
from evals.worlds import build_world

SERVING = SEED_SCENARIOS / "serving"
Doc = dict[str, Any]


async def _run(doc: Doc, tmp_path: Path, name: str) -> Any:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    scenario = parse_scenario(path)
    observation = await run_scenario(scenario, build_world(scenario, path), llm="off")
    return score(scenario, observation, str(path))


def _load(name: str) -> Doc:
    doc: Doc = yaml.safe_load((SERVING / f"{name}.yaml").read_text())
    return doc


def _outcome(result: Any) -> tuple[list[str], list[tuple[str, Any]]]:
    return result.diagnosed_causes, [(p["tool"], p["params"]) for p in result.proposals]


async def test_renaming_endpoint_model_and_pipeline_keeps_the_diagnosis(tmp_path: Path) -> None:
    text = (SERVING / "new-v4-drop-after-deleted-v3.yaml").read_text()
    for old, new in (("loan-scorer", "mortgage-rater"), ("main.credit.loan_model",
                     "prod.lending.rate_model"), ("loan_scorer", "mortgage_rater")):  # fmt: skip
        text = text.replace(old, new)
    doc = yaml.safe_load(text)
    doc["id"] = "metamorphic-serving-renamed"
    renamed = await _run(doc, tmp_path, "renamed")
    original = await _run(_load("new-v4-drop-after-deleted-v3"), tmp_path, "original")
    assert renamed.passed, [c for c in renamed.criteria if c.verdict == "fail"]
    assert renamed.diagnosed_causes == original.diagnosed_causes
    assert renamed.diagnosed_causes[:1] == ["performance.new_version_regression"]
    assert [p["params"]["endpoint"] for p in renamed.proposals] == ["mortgage-rater"]
    assert [p["tool"] for p in renamed.proposals] == [p["tool"] for p in original.proposals]


def _rate(value: float) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        doc["world"]["endpoints"][0]["request_rate_per_min"] = value

    return change


def _updating(minutes: float) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        doc["world"]["endpoints"][0]["updated_minutes_ago"] = minutes

    return change


def _psi(value: float) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        name = doc["world"]["endpoints"][0]["name"]
        doc["world"]["metrics"][name]["input_psi"] = value

    return change


def _champion_moved(minutes: float) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        doc["world"]["events"][0]["minutes_ago"] = minutes
        doc["world"]["endpoints"][0]["updated_minutes_ago"] = minutes

    return change


# (scenario, below the threshold, above it, outcome below, outcome above). Rates add the
# pipeline's 60 req/min; rollout and update times are in minutes.
CROSSINGS: list[tuple[str, Callable[[Doc], None], Callable[[Doc], None], Any, Any]] = [
    # Best Practices 1: Small < 100 req/min (90 vs 110 in all).
    ("small-110-needs-medium", _rate(30.0), _rate(50.0), ([], []),
     (["latency.under_provisioned"],
      [("scale_endpoint", {"endpoint": "coupon-picker", "workload_size": "Medium"})])),
    # Best Practices 1: Medium up to 1,000 req/min (960 vs 1,040).
    ("medium-1040-needs-large", _rate(900.0), _rate(980.0), ([], []),
     (["latency.under_provisioned"],
      [("scale_endpoint", {"endpoint": "claim-triager", "workload_size": "Large"})])),
    # Issue 2 / Step 1: updating for more than 15 minutes is stuck (13 vs 17 min).
    ("updating-17-min", _updating(13.0), _updating(17.0), (["endpoint.update_in_progress"], []),
     (["endpoint.stuck_updating"], [("restart_endpoint", {"endpoint": "parcel-sizer"})])),
    # Issue 5 / Step 3: the next stage after 24 h at the current one (22 vs 26 h).
    ("rollout-25pct-26h-next-50", _updating(22 * 60.0), _updating(26 * 60.0), ([], []),
     ([], [("set_traffic_split", {"endpoint": "slot-allocator", "routes": {"3": 50, "2": 50}})])),
    # F2 / When to retrain: input drift above PSI 0.2 (0.18 vs 0.22).
    ("psi-022-drift-with-challenger", _psi(0.18), _psi(0.22), ([], []),
     (["performance.data_drift"],
      [("set_traffic_split", {"endpoint": "energy-forecaster", "routes": {"3": 10, "2": 90}})])),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "below", "above", "expect_below", "expect_above"),
    CROSSINGS,
    ids=[c[0] for c in CROSSINGS],
)
async def test_a_value_across_a_seed_threshold_flips_the_diagnosis(
    tmp_path: Path,
    name: str,
    below: Callable[[Doc], None],
    above: Callable[[Doc], None],
    expect_below: Any,
    expect_above: Any,
) -> None:
    outcomes = []
    for side, change in (("below", below), ("above", above)):
        doc = _load(name)
        doc["id"] = f"metamorphic-{name}-{side}"
        change(doc)
        outcomes.append(_outcome(await _run(doc, tmp_path, side)))
    assert outcomes == [expect_below, expect_above]


async def test_a_recent_update_is_what_makes_a_drop_a_rollback(tmp_path: Path) -> None:
    """When to Retrain vs Rollback: the same drop, no drift; the champion moved 3 h or 30 h ago."""
    causes = {}
    for hours in (3, 30):
        doc = _load("new-v4-drop-after-deleted-v3")
        doc["id"] = f"metamorphic-champion-{hours}h"
        _champion_moved(hours * 60.0)(doc)
        result = await _run(doc, tmp_path, f"moved-{hours}")
        causes[hours] = (result.diagnosed_causes[:1], [p["tool"] for p in result.proposals])
    assert causes == {
        3: (["performance.new_version_regression"], ["rollback_to_previous_champion"]),
        30: (["performance.degraded"], []),
    }


def test_the_serving_seed_set_covers_both_sides_of_its_thresholds() -> None:
    names = {path.stem for path in SERVING.glob("*.yaml")}
    pairs = [
        ("small-90-healthy", "small-110-needs-medium"),  # Small < 100 req/min
        ("medium-130-healthy", "small-400-needs-medium"),  # Medium from 100
        ("medium-880-healthy", "medium-1040-needs-large"),  # Medium up to 1,000
        ("large-1200-healthy", "large-slow-no-noop-scale"),  # Large above: never Large -> Large
        ("pipeline-concurrency-12-on-medium", "pipeline-concurrency-24-on-medium"),  # 16
        ("updating-13-min", "updating-17-min"),  # stuck after 15 min
        ("rollout-25pct-22h-wait", "rollout-25pct-26h-next-50"),  # 24 h per stage
        ("rollout-10pct-canary-on-par-next-25", "rollout-10pct-canary-less-accurate"),
        ("psi-018-healthy", "psi-022-drift-with-challenger"),  # PSI 0.2
        ("new-version-drop-002-healthy", "new-v4-drop-after-deleted-v3"),  # drop 0.03
        ("new-v4-drop-after-deleted-v3", "drop-after-30h-no-drift"),  # a recent update: 24 h
        ("signature-broken-since-v1", "signature-broken-by-v3"),  # a regression or not
        ("input-mismatch-since-v1", "input-renamed-by-v3"),
        ("dev-cold-start-by-design", "prod-cold-start"),  # dev vs production
        ("cost-large-within-budget", "cost-large-over-budget-at-600"),
    ]
    missing = [pair for pair in pairs if not set(pair) <= names]
    assert missing == []
    assert len(names) >= 60
