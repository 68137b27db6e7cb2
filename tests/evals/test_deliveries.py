"""Deliveries the eval harness scores as the alert intake reads them: fleet alerts without an
agent label go to the gateway, infrastructure and resolved alerts open nothing and are still
scored."""

from __future__ import annotations

from evals.drive import scenario_triggers
from evals.runner import SEED_SCENARIOS, load_all
from evals.scenario import parse_scenario

FLEET = SEED_SCENARIOS / "fleet"


def test_an_agent_alert_without_an_agent_label_is_about_the_fleet() -> None:
    triggers, skipped = scenario_triggers(
        parse_scenario(FLEET / "429-alert-without-target-label.yaml")
    )
    assert [(t.target, t.alertname) for t in triggers] == [("gateway", "ProviderRateLimited")]
    assert skipped == []


def test_a_node_alert_beside_an_agent_alert_opens_only_the_agents_incident() -> None:
    triggers, skipped = scenario_triggers(parse_scenario(FLEET / "404-beside-node-alert.yaml"))
    assert [t.target for t in triggers] == ["vega_agent"]
    assert len(skipped) == 1 and "NodeFilesystemAlmostFull" in skipped[0]
    assert "infrastructure" in skipped[0]


def test_a_resolved_only_delivery_opens_nothing_and_still_loads() -> None:
    path = FLEET / "resolved-only-delivery.yaml"
    triggers, skipped = scenario_triggers(parse_scenario(path))
    assert triggers == [] and "resolved" in skipped[0]
    loaded, errors = load_all([path])
    assert errors == [] and len(loaded) == 1
