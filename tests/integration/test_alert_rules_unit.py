"""The alert rules' own unit tests (deploy/prometheus/tests/), run by the real promtool: every
alert of every rule file is tested firing above its threshold after its ``for:`` and quiet
below it, every alert the runbooks name has a rule, and the guide's split of pages and tickets."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from bot.runbooks.loader import default_runbook_dir, load_runbooks

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def _alerts() -> dict[str, dict[str, Any]]:
    """Every alert rule of ``rules/*.yml`` by name."""
    return {
        rule["alert"]: rule
        for path in sorted((DEPLOY / "rules").glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def _checks() -> list[dict[str, Any]]:
    return [
        check
        for path in sorted((DEPLOY / "tests").glob("*.yml"))
        for test in yaml.safe_load(path.read_text())["tests"]
        for check in test.get("alert_rule_test", [])
    ]


def test_promtool_rule_tests_pass() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: run scripts/ensure-services.sh"
    tests = sorted(str(p) for p in (DEPLOY / "tests").glob("*.yml"))
    assert tests
    run = subprocess.run(
        [promtool, "test", "rules", *tests], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_alert_the_runbooks_name_has_a_rule() -> None:
    named = {name for runbook in load_runbooks(default_runbook_dir()) for name in runbook.alerts}
    assert named and named <= set(_alerts()), sorted(named - set(_alerts()))


def test_every_rule_is_tested_firing_and_quiet_and_before_its_for() -> None:
    """Firing: some check expects the alert. Quiet: promtool compares the whole list, so a check
    expecting only the loud target proves the quiet one silent; the checks' series must hold a
    target (or instance) that is not expected. Before ``for:``: a check expecting nothing."""
    checks = _checks()
    for name, rule in _alerts().items():
        mine = [c for c in checks if c["alertname"] == name]
        assert any(c["exp_alerts"] for c in mine), f"{name}: never tested firing"
        if rule.get("for", "0m") not in ("0m", "0s"):
            assert any(not c["exp_alerts"] for c in mine), f"{name}: not tested before its for:"


def test_severities_follow_the_deployment_guide() -> None:
    """Page for outages, high burn and data leakage; ticket for degraded accuracy, drift, cost and
    moderate burn (model-deployment-guide.md, Alerting guidance)."""
    severity = {name: rule["labels"]["severity"] for name, rule in _alerts().items()}
    assert set(severity.values()) == {"page", "ticket"}
    pages = {
        "ModelSensitiveDataInLogs",
        "ModelErrorBudgetBurn",
        "AgentErrorBudgetBurn",
        "ModelEndpointNotFound",
        "ModelEndpointNotReady",
        "AgentHealthCheckFailing",
    }
    tickets = {
        "ModelAccuracyDrop",
        "ModelDataDrift",
        "ModelCostOverrun",
        "ModelErrorBudgetBurnSlow",
        "AgentErrorBudgetBurnSlow",
    }
    assert {n for n in pages if severity[n] != "page"} == set()
    assert {n for n in tickets if severity[n] != "ticket"} == set()


def test_the_fast_burn_page_reads_a_fast_and_a_slow_window() -> None:
    alerts = _alerts()
    for name in ("ModelErrorBudgetBurn", "AgentErrorBudgetBurn"):
        expr = alerts[name]["expr"]
        assert "burn_rate1h" in expr and "burn_rate5m" in expr, name
        assert expr.count("> 4") == 2, name
