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


GUIDE = SEED_SCENARIOS / "guide"


def _renamed(path: Path, pairs: tuple[tuple[str, str], ...], new_id: str) -> dict[str, Any]:
    text = path.read_text()
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new)
    doc: dict[str, Any] = yaml.safe_load(text)
    doc["id"] = new_id
    return doc


async def test_renaming_the_fleet_and_its_alert_labels_keeps_the_diagnosis(tmp_path: Path) -> None:
    # A gateway alert (service=gateway, no agent label) over a 401 with a key waiting.
    pairs = (("quokka", "dingo"), ("numbat", "possum"), ("wombat", "bilby"))
    path = FLEET / "401-gateway-alert-key-waiting.yaml"
    before = await _run(yaml.safe_load(path.read_text()), tmp_path, "original")
    after = await _run(_renamed(path, pairs, "metamorphic-fleet-renamed"), tmp_path, "renamed")
    assert after.passed, [c for c in after.criteria if c.verdict == "fail"]
    assert after.diagnosed_causes == before.diagnosed_causes == ["provider.invalid_key"]
    assert [p["tool"] for p in after.proposals] == [p["tool"] for p in before.proposals]


async def test_renaming_an_endpoint_and_its_model_keeps_the_diagnosis(tmp_path: Path) -> None:
    pairs = (("claims-extractor", "policy-reader"), ("main.ins.claims_extractor", "main.p.reader"))
    doc = _renamed(GUIDE / "fast-growth-no-oom-yet.yaml", pairs, "metamorphic-endpoint-renamed")
    result = await _run(doc, tmp_path, "endpoint-renamed")
    assert result.passed, [c for c in result.criteria if c.verdict == "fail"]
    assert result.top1 == "runtime.memory_leak"
    assert result.proposals[0]["params"] == {"endpoint": "policy-reader"}


async def test_error_share_across_five_percent_flips_the_fallback_diagnosis(
    tmp_path: Path,
) -> None:
    outcomes = {}
    for share in (0.045, 0.06):
        doc = _load("errors-6pct-fallback-off")
        doc["id"] = f"metamorphic-errors-{share}"
        model = next(iter(doc["world"]["provider"]["models"]))
        doc["world"]["provider"]["models"][model]["error_share"] = share
        result = await _run(doc, tmp_path, f"errors-{share}")
        outcomes[share] = (result.diagnosed_causes, [p["tool"] for p in result.proposals])
    assert outcomes[0.045] == ([], [])
    assert outcomes[0.06] == (["agent.fallback_disabled"], ["enable_fallback"])


async def test_a_spike_is_acted_on_only_while_it_lasts(tmp_path: Path) -> None:
    # The same 429 episode, ended 58 minutes ago (history) or still going on (the present).
    causes = {}
    for ended in (58, 0):
        doc = _load("recovered-429-spike")
        doc["id"] = f"metamorphic-spike-{ended}"
        doc["world"]["metrics"]["lumen_agent"]["history"][0]["to_minutes_ago"] = ended
        result = await _run(doc, tmp_path, f"spike-{ended}")
        causes[ended] = result.diagnosed_causes
    assert causes == {58: [], 0: ["provider.rate_limited"]}


async def test_memory_growth_across_the_chosen_rate_flips_the_leak(tmp_path: Path) -> None:
    # No OOM kill in the day: only the growth rate against the 50 MB/h of thresholds.yaml decides.
    causes = {}
    for growth in (40.0, 60.0):
        doc: dict[str, Any] = yaml.safe_load((GUIDE / "growth-40mb-no-oom.yaml").read_text())
        doc["id"] = f"metamorphic-growth-{growth:g}"
        doc["world"]["metrics"]["lease-pricer"]["memory_growth_mb_per_hour"] = growth
        result = await _run(doc, tmp_path, f"growth-{growth:g}")
        causes[growth] = result.diagnosed_causes
    assert causes == {40.0: [], 60.0: ["runtime.memory_leak"]}


async def test_a_teams_own_fallback_threshold_moves_the_diagnosis(
    tmp_path: Path, monkeypatch: Any
) -> None:
    # 16 % of refund_agent's calls fall back: above the seed's 10 %, below the 20 % its team set.
    import shutil

    import evals.drive
    from bot.runbooks.loader import default_runbook_dir, load_runbooks

    folder = tmp_path / "runbooks"
    shutil.copytree(default_runbook_dir(), folder)
    thresholds = yaml.safe_load((folder / "thresholds.yaml").read_text())
    thresholds["targets"] = {"refund_agent": {"fallback_rate": 0.2}}
    (folder / "thresholds.yaml").write_text(yaml.safe_dump(thresholds, sort_keys=False))
    monkeypatch.setattr(evals.drive, "_RUNBOOKS", load_runbooks(folder))
    doc = _load("fallback-above-10pct")
    doc["id"] = "metamorphic-team-threshold"
    result = await _run(doc, tmp_path, "team-threshold")
    assert result.diagnosed_causes == [] and result.proposals == []
