"""Graph nodes are plain functions: called directly with a state dict and real dependencies (the
sandbox platform, the test database), they return only the update, and the routing functions
read the merged state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from bot.agent.deps import AgentDeps
from bot.agent.graph import build_graph
from bot.agent.nodes.decide import after_decide, decide
from bot.agent.nodes.open import open_incident
from bot.agent.nodes.plan import after_plan, plan
from bot.agent.records import IncidentRecords
from bot.agent.state import CausePlan, IncidentState, merge_actions, merge_plans
from bot.agent.types import Trigger
from bot.runbooks.loader import default_runbook_dir, load_runbooks
from bot.settings import Settings
from bot.store.db import open_store
from sandbox.runtime import Sandbox
from tests.agent.conftest import APPROVER

ENDPOINT = "sentiment-endpoint"
REGRESSION = "performance.new_version_regression"
WRONG_NAME = "endpoint.wrong_name"
RUNBOOKS = load_runbooks(default_runbook_dir())


@pytest.fixture
async def deps(settings: Settings, platform: Any) -> AsyncIterator[AgentDeps]:
    """What the nodes need: the sandbox platform and the records on the test database."""
    store = await open_store(settings.resolved_database_url())
    try:
        yield AgentDeps(
            platform=platform,
            records=IncidentRecords(store, settings),
            runbooks=RUNBOOKS,
            settings=settings,
        )
    finally:
        await store.close()


def incident(incident_id: str, **fields: Any) -> IncidentState:
    state: IncidentState = {
        "incident_id": incident_id,
        "trigger": Trigger(target=ENDPOINT).model_dump(mode="json"),
        "target": ENDPOINT,
        "runbook": "serving-endpoint",
        "facts": {
            "pipeline_name": "nightly_scoring",
            "called_name": "sentiment-endpont",
            "suggested_name": ENDPOINT,
            "available_endpoints": [ENDPOINT],
        },
        "steps": [],
    }
    state.update(fields)  # type: ignore[typeddict-item]
    return state


def cause(diagnosis: str, options: list[str], index: int = 0) -> CausePlan:
    return CausePlan(diagnosis=diagnosis, options=options, index=index, outcome=None)


async def test_plan_gives_advice_then_proposes_the_next_causes_action(deps: AgentDeps) -> None:
    earlier = {"node": "x", "runbook": "serving-endpoint", "kind": "check", "title": "x"}
    regression = cause(REGRESSION, ["rollback_to_previous_champion", "retrain_model"])
    state = incident(
        "inc-plan-advice",
        plans=[cause(WRONG_NAME, ["fix_endpoint_reference"]), regression],
        steps=[earlier, earlier],
    )
    update = await plan(state, deps)

    assert update["cursor"] == "rollback_to_previous_champion"
    assert "escalation" not in update
    # Only the plan that changed comes back; the reducer keeps the other as it was.
    assert update["plans"] == [
        {**cause(WRONG_NAME, ["fix_endpoint_reference"]), "outcome": "advice"}
    ]
    merged = merge_plans(state["plans"], update["plans"])
    assert [p["outcome"] for p in merged] == ["advice", None]
    assert merged[1] == regression
    assert len(update["advice"]) == 1
    assert update["advice"][0].startswith("Fix the endpoint name in the pipeline SQL: ")
    assert "nightly_scoring" in update["advice"][0]
    [step] = update["steps"]
    assert (step["kind"], step["incident_id"], step["seq"]) == ("advice", "inc-plan-advice", 3)
    assert after_plan({**state, **update}) == "propose"


async def test_plan_escalates_a_cause_whose_remedies_are_used_up(deps: AgentDeps) -> None:
    used_up = cause(REGRESSION, ["rollback_to_previous_champion", "retrain_model"], index=2)
    last_resort = cause("latency.cold_start", ["keep_warm", "escalate_infrastructure"], index=1)
    exhausted = await plan(incident("inc-plan-1", plans=[used_up]), deps)
    escalated = await plan(
        incident("inc-plan-2", plans=[last_resort], facts={"latency_p95_ms": 2400}), deps
    )

    assert exhausted["plans"][0]["outcome"] == "exhausted"
    assert exhausted["escalation"] is not None and exhausted["escalation"]["to"] == "on-call"
    assert REGRESSION in exhausted["escalation"]["reason"]
    assert escalated["plans"][0]["outcome"] == "escalated"
    assert escalated["escalation"] == {
        "to": "infrastructure",
        "reason": escalated["steps"][0]["summary"],
    }
    assert "2400" in escalated["escalation"]["reason"]
    for update in (exhausted, escalated):
        assert update["cursor"] is None
        assert after_plan({**incident("inc"), **update}) == "finish"


async def test_decide_refuses_a_forged_answer_and_moves_on_after_a_rejection(
    deps: AgentDeps,
) -> None:
    incident_id = "inc-decide"
    plans = [cause(REGRESSION, ["rollback_to_previous_champion", "retrain_model"])]
    state = incident(incident_id, plans=plans)
    await open_incident(state, deps)
    pending = await deps.records.create_proposal(
        incident_id=incident_id,
        node="rollback_to_previous_champion",
        title="Roll back to the previous champion",
        tool="rollback_to_previous_champion",
        params={"endpoint": ENDPOINT},
        risk="medium",
        idempotency_key=f"{incident_id}:rollback_to_previous_champion:0",
        dry_run={},
        diagnosis=REGRESSION,
    )
    waiting = {**state, "pending": pending}
    forged = {"proposal_id": "prop-forged", "decision": "approve", "actor": APPROVER}
    refused = await decide({**waiting, "decision": forged}, deps)
    rejection = {"proposal_id": pending["proposal_id"], "decision": "reject", "actor": APPROVER}
    rejected = await decide({**waiting, "decision": rejection}, deps)
    stored = await deps.records.store.get_proposal(pending["proposal_id"])

    assert refused["decision"] is not None and refused["decision"]["outcome"] == "refused"
    assert "pending" not in refused and "plans" not in refused, "a refusal changes no plan"
    assert after_decide({**waiting, **refused}) == "approval"

    assert rejected["decision"] is not None and rejected["decision"]["outcome"] == "rejected"
    assert rejected["pending"] is None
    assert rejected["plans"] == [{**plans[0], "index": 1}]
    assert merge_actions([], rejected["actions"]) == [
        {
            "proposal_id": pending["proposal_id"],
            "tool": "rollback_to_previous_champion",
            "params": {"endpoint": ENDPOINT},
            "decision": "reject",
            "decided_by": APPROVER,
            "executed": False,
        }
    ]
    assert after_decide({**waiting, **rejected}) == "plan"
    assert stored is not None and stored.status == "rejected"


async def test_each_step_is_streamed_with_its_incident_and_seq_and_kept_in_the_state(
    sandbox: Sandbox, deps: AgentDeps
) -> None:
    await sandbox.inject(REGRESSION, ENDPOINT)
    graph = build_graph(deps).compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "inc-stream"}, "recursion_limit": 1000}
    start = incident("inc-stream")
    streamed: list[dict[str, Any]] = []
    values: dict[str, Any] = {}
    async for mode, chunk in graph.astream(start, config, stream_mode=["custom", "values"]):
        if mode == "custom":
            streamed.append(chunk)
        else:
            values = chunk

    assert values["pending"]["tool"] == "rollback_to_previous_champion", "stopped at the approval"
    steps = values["steps"]
    assert [s["kind"] for s in steps][:2] == ["select", "check"]
    assert steps[-1]["kind"] == "proposal"
    assert [s["seq"] for s in steps] == list(range(1, len(steps) + 1))
    assert {s["incident_id"] for s in steps} == {"inc-stream"}
    assert streamed == [{"type": "step", **s} for s in steps]
    assert REGRESSION in [d["id"] for d in values["diagnoses"]]
