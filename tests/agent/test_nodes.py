"""Graph nodes are plain functions: called directly with a state dict and real dependencies (the
sandbox platform, the test database), they return only the update, and the routing functions
read the merged state."""

from __future__ import annotations

from typing import Any

from bot.agent.nodes.decide import after_decide, decide
from bot.agent.nodes.open import open_incident
from bot.agent.nodes.plan import after_plan, plan
from bot.agent.state import CausePlan, IncidentState, merge_actions, merge_plans
from bot.agent.types import Trigger
from tests.agent.conftest import APPROVER

ENDPOINT = "sentiment-endpoint"
REGRESSION = "performance.new_version_regression"
WRONG_NAME = "endpoint.wrong_name"


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


async def test_plan_gives_advice_then_proposes_the_next_causes_action(
    platform: Any, open_incident_agent: Any
) -> None:
    earlier = {"node": "x", "runbook": "serving-endpoint", "kind": "check", "title": "x"}
    regression = cause(REGRESSION, ["rollback_to_previous_champion", "retrain_model"])
    state = incident(
        "inc-plan-advice",
        plans=[cause(WRONG_NAME, ["fix_endpoint_reference"]), regression],
        steps=[earlier, earlier],
    )
    async with open_incident_agent(platform) as agent:
        update = await plan(state, agent.deps)

    assert update["cursor"] == "rollback_to_previous_champion"
    assert "escalation" not in update
    # Only the plan that changed comes back; the reducer keeps the other as it was.
    assert update["plans"] == [{**cause(WRONG_NAME, ["fix_endpoint_reference"]), "outcome": "advice"}]
    merged = merge_plans(state["plans"], update["plans"])
    assert [p["outcome"] for p in merged] == ["advice", None]
    assert merged[1] == regression
    assert len(update["advice"]) == 1
    assert update["advice"][0].startswith("Fix the endpoint name in the pipeline SQL: ")
    assert "nightly_scoring" in update["advice"][0]
    [step] = update["steps"]
    assert (step["kind"], step["incident_id"], step["seq"]) == ("advice", "inc-plan-advice", 3)
    assert after_plan({**state, **update}) == "propose"


async def test_plan_escalates_a_cause_whose_remedies_are_used_up(
    platform: Any, open_incident_agent: Any
) -> None:
    used_up = cause(REGRESSION, ["rollback_to_previous_champion", "retrain_model"], index=2)
    last_resort = cause("latency.cold_start", ["keep_warm", "escalate_infrastructure"], index=1)
    async with open_incident_agent(platform) as agent:
        exhausted = await plan(incident("inc-plan-1", plans=[used_up]), agent.deps)
        escalated = await plan(
            incident("inc-plan-2", plans=[last_resort], facts={"latency_p95_ms": 2400}),
            agent.deps,
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
    platform: Any, open_incident_agent: Any
) -> None:
    incident_id = "inc-decide"
    plans = [cause(REGRESSION, ["rollback_to_previous_champion", "retrain_model"])]
    async with open_incident_agent(platform) as agent:
        state = incident(incident_id, plans=plans)
        await open_incident(state, agent.deps)
        pending = await agent.deps.records.create_proposal(
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
        refused = await decide({**waiting, "decision": forged}, agent.deps)
        rejection = {"proposal_id": pending["proposal_id"], "decision": "reject", "actor": APPROVER}
        rejected = await decide({**waiting, "decision": rejection}, agent.deps)
        stored = await agent.deps.records.store.get_proposal(pending["proposal_id"])

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
