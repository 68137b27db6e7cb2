"""The shipped runbooks: they load, lint clean against the tool catalogue, name only documented
tools, and have a diagnosis for every fault the sandbox can inject."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.runbooks.lint import lint_dir
from bot.runbooks.loader import default_runbook_dir, load_runbooks
from bot.runbooks.model import ActionNode, CheckNode
from sandbox.faults import FAULTS

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_runbooks_lint_clean() -> None:
    assert lint_dir(default_runbook_dir()) == []


def _shipped_copy(tmp_path: Path, old: str, new: str) -> Path:
    """The shipped runbooks (and the files they load with them), one edit in the serving tree."""
    for path in default_runbook_dir().iterdir():
        if path.suffix == ".yaml":
            (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    serving = tmp_path / "serving-endpoint.yaml"
    text = serving.read_text(encoding="utf-8")
    assert old in text
    serving.write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("tool: pipeline_usage", "tool: pipeline_census", "tool", "unknown tool 'pipeline_census'"),
        (
            'params: {endpoint: "=target"}',
            'params: {endpoint: "=target", region: eu}',
            "params.region",
            "takes no parameter 'region'",
        ),
        (
            "evidence.exists == False",
            "evidence.exists_now == False",
            "when",
            "has no field 'exists_now'",
        ),
    ],
)
def test_lint_alone_fails_on_a_missing_tool_parameter_or_evidence_field(
    tmp_path: Path, old: str, new: str, field: str, message: str
) -> None:
    findings = lint_dir(_shipped_copy(tmp_path, old, new))
    assert findings, "lint must report the broken reference against the real tool catalogue"
    assert any(field in f.field and message in f.message for f in findings), findings
    assert all(f.file.endswith("serving-endpoint.yaml") for f in findings)


def test_every_tool_a_runbook_names_is_documented() -> None:
    documented = set(re.findall(r"^\| `(\w+)` \|", (ROOT / "docs" / "tools.md").read_text(), re.M))
    used = {
        node.tool
        for runbook in load_runbooks(default_runbook_dir())
        for node in runbook.nodes.values()
        if isinstance(node, CheckNode | ActionNode)
    }
    assert used - documented == set()


def test_every_sandbox_fault_has_a_diagnosis() -> None:
    runbooks = load_runbooks(default_runbook_dir())
    ids = set(runbooks.diagnosis_ids())
    assert set(FAULTS) - ids == set()
    for fault_id, fault in FAULTS.items():
        ref = runbooks.leaf_ref(fault_id)
        expected = "agent" if fault.target_kind in ("agent", "provider", "fleet") else "endpoint"
        assert ref.runbook.applies_to == expected, fault_id
        assert ref.node.role == "cause"


def test_alerts_pick_the_right_runbook() -> None:
    runbooks = load_runbooks(default_runbook_dir())
    assert runbooks.for_alert("ModelNullPredictions") is runbooks.get("serving-endpoint")
    assert runbooks.for_alert("ProviderRateLimited") is runbooks.get("agent-fleet")
    assert [r.id for r in runbooks.for_kind("agent")] == ["agent-fleet"]


def test_the_staged_rollout_moves_one_stage_per_incident_after_24_hours() -> None:
    runbook = load_runbooks(default_runbook_dir()).get("serving-endpoint")
    stages = ["canary_10", "canary_25", "canary_50", "canary_100"]
    for name in stages:
        node = runbook.node(name)
        assert isinstance(node, ActionNode)
        assert node.then is None, f"{name}: one stage per incident, never chained"
        gate = runbook.node(node.verify or "")
        assert isinstance(gate, CheckNode) and gate.tool == "slis"
    percentages = [str(runbook.node(n).params.get("routes", "")) for n in stages[:3]]
    assert [p.split(": ")[1].split(",")[0] for p in percentages] == ["10", "25", "50"]
    # 100 % and the champion alias together, only at the last stage.
    assert runbook.node("canary_100").params["to_version"] == "=facts.challenger_version"
    # The stage is judged over its 24 h, by each version's own series (or the endpoint's).
    for name in ("rollout_check", "rollout_champion_check", "rollout_endpoint_check"):
        rollout = runbook.node(name)
        assert isinstance(rollout, CheckNode) and rollout.params["window_minutes"] == 1440
    rollout = runbook.node("rollout_endpoint_check")
    assert isinstance(rollout, CheckNode)
    due = {b.goto: b.when for b in rollout.branches}
    for share, stage in [(10, "canary_25"), (25, "canary_50"), (50, "canary_100")]:
        assert f"facts.challenger_share == {share}" in due[stage]
        assert "facts.update_minutes >= 1440" in due[stage]
