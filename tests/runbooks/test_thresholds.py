"""The thresholds file: it validates, runbooks refer to it by name, per-target overrides reach the
decision, and the alert rules and SLI queries write the same numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.runbooks.expr import compile_expr
from bot.runbooks.loader import RunbookError, default_runbook_dir, load_runbooks, parse_runbook
from bot.runbooks.thresholds import ThresholdsError, load_thresholds, parse_thresholds
from tools.sli_queries import load_queries

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules" / "model-alerts.yml"

TINY = """\
id: tiny
title: Tiny
source: seed.md
applies_to: agent
entry: rates
nodes:
  rates:
    kind: check
    tool: slis
    params: {target: "=target", window_minutes: "${window}"}
    record:
      limit: "${fallback_rate}"
    branches:
      - when: "evidence.fallback_rate > ${fallback_rate}"
        goto: spike
    otherwise: done
    on_no_data: done
  spike:
    kind: diagnosis
    id: tiny.spike
    title: Spike above ${fallback_rate}
    role: impact
  done:
    kind: advice
    title: Done
    instructions: nothing
"""

THRESHOLDS = """\
thresholds:
  fallback_rate: {value: 0.1, unit: ratio, source: seed, reason: "failure runbook Symptoms >10%"}
  window: {value: 30, unit: minutes, source: chosen, reason: "a few health checks long"}
targets:
  billing_agent: {fallback_rate: 0.25}
"""


def _folder(tmp_path: Path, thresholds: str = THRESHOLDS, runbook: str = TINY) -> Path:
    (tmp_path / "thresholds.yaml").write_text(thresholds)
    (tmp_path / "tiny.yaml").write_text(runbook)
    return tmp_path


def test_placeholders_become_numbers_and_per_target_choices(tmp_path: Path) -> None:
    runbook = load_runbooks(_folder(tmp_path)).get("tiny")
    rates = runbook.nodes["rates"]
    assert rates.params["window_minutes"] == 30  # a plain parameter is a number
    when = compile_expr(rates.branches[0].when)
    spike = {"evidence": {"fallback_rate": 0.16}, "facts": {}, "trigger": {}}
    assert when.truth({**spike, "target": "qa_agent"}) is True
    assert when.truth({**spike, "target": "billing_agent"}) is False  # its own 25 %
    limit = compile_expr(rates.record["limit"])
    assert limit.evaluate({**spike, "target": "billing_agent"}) == 0.25
    assert runbook.nodes["spike"].title == "Spike above 0.1"  # text shows the default


def test_an_unknown_threshold_names_the_file_node_and_field(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    bad = TINY.replace('"evidence.fallback_rate > ${fallback_rate}"', '"evidence.x > ${nope}"')
    (folder / "tiny.yaml").write_text(bad)
    with pytest.raises(RunbookError) as err:
        load_runbooks(folder)
    assert err.value.node == "rates" and err.value.field == "branches.0.when"
    assert "${nope}" in err.value.message and "fallback_rate" in err.value.message


def test_without_a_thresholds_file_a_placeholder_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    with pytest.raises(RunbookError, match="unknown threshold"):
        parse_runbook(TINY, path)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (THRESHOLDS.replace('reason: "a few health checks long"', 'reason: ""'), "reason"),
        (THRESHOLDS.replace("source: seed", "source: folklore"), "source"),
        (THRESHOLDS.replace("{fallback_rate: 0.25}", "{fallbak_rate: 0.25}"), "targets"),
    ],
)
def test_an_invalid_thresholds_file_is_refused(text: str, field: str) -> None:
    with pytest.raises(ThresholdsError, match=field):
        parse_thresholds(text, "thresholds.yaml")


def test_the_shipped_runbooks_use_the_shipped_thresholds() -> None:
    shipped = load_thresholds(default_runbook_dir())
    assert shipped is not None
    text = (default_runbook_dir() / "agent-fleet.yaml").read_text()
    fleet = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    used = set(re.findall(r"\$\{([a-z0-9_]+)\}", fleet))
    assert {"error_rate", "fallback_rate", "evidence_window_minutes"} <= used
    assert used <= set(shipped.thresholds)
    # Loaded, no placeholder is left anywhere.
    for runbook in load_runbooks(default_runbook_dir()):
        assert "${" not in runbook.model_dump_json(), runbook.id
    # One number for the fallback symptom (the tree once said 10 %, the alert rule 5 %).
    assert shipped.value("fallback_rate") == 0.10


def _alert_thresholds() -> dict[str, float]:
    """The number each alert compares with last (`... > 0.1`, `... > 4`)."""
    out: dict[str, float] = {}
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                numbers = re.findall(r"(?:>=?|<=?)\s*([0-9.]+)", rule["expr"])
                if numbers:
                    out[rule["alert"]] = float(numbers[0])
    return out


def test_alert_rules_write_the_thresholds_numbers() -> None:
    shipped = load_thresholds(default_runbook_dir())
    assert shipped is not None
    alerts = _alert_thresholds()
    scale = {"agent_latency_p95_ms": 1000.0, "latency_p95_ms": 1000.0}  # rules are in seconds
    checked = 0
    for name, threshold in shipped.thresholds.items():
        for alert in threshold.used_by.alerts:
            assert alert in alerts, f"{name}: no alert rule {alert}"
            assert alerts[alert] * scale.get(name, 1.0) == pytest.approx(threshold.value), alert
            checked += 1
    assert checked >= 15


def test_the_burn_rate_query_divides_by_the_error_budget() -> None:
    shipped = load_thresholds(default_runbook_dir())
    assert shipped is not None
    budget = round(1 - shipped.value("availability"), 6)
    assert load_queries()["burn_rate_1h"].rstrip().endswith(f"/ {budget:g}")
    assert f"/ {budget:g}" in RULES.read_text()


def test_every_alert_rule_starts_a_runbook() -> None:
    runbooks = load_runbooks(default_runbook_dir())
    for alert in _alert_thresholds():
        assert runbooks.for_alert(alert) is not None, alert


def test_the_sandbox_gateway_judges_health_by_the_same_numbers() -> None:
    from sandbox.simulation import FLEET_ERROR_RATE, FLEET_FALLBACK_RATE, SLO

    shipped = load_thresholds(default_runbook_dir())
    assert shipped is not None
    assert shipped.value("error_rate") == FLEET_ERROR_RATE
    assert FLEET_FALLBACK_RATE == SLO["fallback_rate"] == shipped.value("fallback_rate")
