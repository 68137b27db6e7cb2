"""Metamorphic checks on the fleet seed scenarios: renaming every agent changes nothing, and moving
one value across a seed threshold changes the diagnosis exactly there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from evals.drive import run_scenario
from evals.metrics import score
from evals.runner import SEED_SCENARIOS
from evals.scenario import parse_scenario
from evals.worlds import build_world

FLEET = SEED_SCENARIOS / "fleet"


async def _run(doc: dict[str, Any], tmp_path: Path, name: str) -> Any:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    scenario = parse_scenario(path)
    observation = await run_scenario(scenario, build_world(scenario, path), llm="off")
    return score(scenario, observation, str(path))


def _load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((FLEET / f"{name}.yaml").read_text())
    return doc


async def test_renaming_every_agent_keeps_the_diagnosis(tmp_path: Path) -> None:
    text = (FLEET / "fallback-above-10pct.yaml").read_text()
    for old, new in (("refund", "rebate"), ("intake", "inbox"), ("quote", "offer")):
        text = text.replace(old, new)
    doc = yaml.safe_load(text)
    doc["id"] = "metamorphic-renamed"
    result = await _run(doc, tmp_path, "renamed")
    assert result.passed, [c for c in result.criteria if c.verdict == "fail"]
    assert result.top1 == "agent.finetuned_errors"
    assert result.proposals[0]["params"] == {"agent": "rebate_agent"}


async def test_fallback_share_across_ten_percent_flips_the_diagnosis(tmp_path: Path) -> None:
    outcomes = {}
    for share in (0.09, 0.12):
        doc = _load("fallback-above-10pct")
        doc["id"] = f"metamorphic-fallback-{share}"
        model = next(iter(doc["world"]["provider"]["models"]))
        doc["world"]["provider"]["models"][model]["error_share"] = share
        result = await _run(doc, tmp_path, f"share-{share}")
        outcomes[share] = (result.diagnosed_causes, [p["tool"] for p in result.proposals])
    assert outcomes[0.09] == ([], [])
    assert outcomes[0.12] == (["agent.finetuned_errors"], ["switch_agent_to_baseline"])


async def test_a_waiting_key_is_what_decides_the_restart(tmp_path: Path) -> None:
    proposed = {}
    for pending in (True, False):
        doc = _load("401-valid-key-waiting")
        doc["id"] = f"metamorphic-key-{str(pending).lower()}"
        doc["world"]["provider"]["key_rotation_pending"] = pending
        result = await _run(doc, tmp_path, f"key-{pending}")
        assert result.diagnosed_causes[:1] == ["provider.invalid_key"]
        proposed[pending] = [p["tool"] for p in result.proposals]
    assert proposed == {True: ["restart_gateway"], False: []}
