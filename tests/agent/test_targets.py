"""How an incident's target is read: an unknown name lists the known ones, and a registry model
name beside an endpoint label is the endpoint's incident."""

from __future__ import annotations

from pathlib import Path

from bot.agent.targets import not_an_agent
from evals.drive import run_scenario
from evals.metrics import score
from evals.runner import SEED_SCENARIOS
from evals.scenario import parse_scenario
from evals.worlds import build_world


def test_an_unknown_name_lists_the_known_agents_and_the_near_miss() -> None:
    reason = not_an_agent("invoicng_agent", {"invoicing_agent": "ok", "dunning_agent": "ok"})
    assert "known agents: dunning_agent, invoicing_agent" in reason
    assert "did you mean 'invoicing_agent'?" in reason
    assert "did you mean" not in not_an_agent("fraud-scorer", {"dunning_agent": "ok"})


async def _run(path: Path):  # type: ignore[no-untyped-def]
    scenario = parse_scenario(path)
    observation = await run_scenario(scenario, build_world(scenario, path), llm="off")
    return score(scenario, observation, str(path)), observation


async def test_an_unknown_agent_name_is_escalated_naming_the_known_agents() -> None:
    result, observation = await _run(SEED_SCENARIOS / "fleet" / "unknown-name-lists-known.yaml")
    assert result.passed, [c for c in result.criteria if c.verdict == "fail"]
    select = observation.incidents[0].steps[0]
    assert "known agents: dunning_agent, invoicing_agent" in select.summary
    assert result.proposals == [] and result.escalated


async def test_a_registry_model_label_beside_a_service_label_is_the_endpoints_incident() -> None:
    path = SEED_SCENARIOS / "guide" / "alert-model-label-beside-service.yaml"
    result, observation = await _run(path)
    assert result.passed, [c for c in result.criteria if c.verdict == "fail"]
    assert observation.incidents[0].steps[0].title == "shelf-forecaster is endpoint"
    assert [p["params"]["endpoint"] for p in result.proposals] == ["shelf-forecaster"]


async def test_a_registry_model_name_alone_is_the_incident_of_the_endpoint_serving_it() -> None:
    path = SEED_SCENARIOS / "guide" / "alert-only-registry-model-label.yaml"
    result, observation = await _run(path)
    assert result.passed, [c for c in result.criteria if c.verdict == "fail"]
    select = observation.incidents[0].steps[0]
    assert select.title == "invoice-extractor is endpoint"
    assert "serves the registry model 'main.fin.invoice_model'" in select.summary
