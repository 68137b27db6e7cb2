"""The incident's own asks: triage returns only leaf ids that exist, and the summary carries the
why of each real proposal; a made-up id makes the answer invalid and the deterministic text
stands."""

from __future__ import annotations

from typing import Any

from bot.llm.tasks import summarise, triage
from bot.store.db import Store
from tests.llm.conftest import AssistantFactory, llm_rows

LEAVES = {
    "performance.new_version_regression": "The new version is worse",
    "latency.cold_start": "Scale to zero cold starts",
}
STATE: dict[str, Any] = {
    "incident_id": "inc-s",
    "target": "fraud-scorer",
    "trigger": {"labels": {"alertname": "ModelAccuracyDrop"}, "annotations": {}},
    "final_state": "resolved",
    "diagnoses": [{"id": "performance.new_version_regression", "explanation": "v5 dropped 0.15"}],
    "actions": [
        {"proposal_id": "prop-1", "tool": "rollback_to_previous_champion", "params": {}},
    ],
    "steps": [{"kind": "check", "node": "slis", "summary": "accuracy 0.78", "branch": "otherwise"}],
}


async def test_triage_keeps_only_leaves_that_exist(
    assistant_for: AssistantFactory, store: Store
) -> None:
    good = {"ranked": ["performance.new_version_regression"], "reason": "accuracy dropped"}
    made_up = {"ranked": ["model.haunted"], "reason": "a guess"}
    for incident, reply, expected in (("inc-a", good, good["ranked"]), ("inc-b", made_up, [])):
        async with assistant_for([{"prompt": "triage", "reply": {"json": reply}}]) as (a, calls):
            ranked = await triage(a, incident, state=STATE, leaves=LEAVES, evidence="accuracy 0.78")
        assert ranked == expected
        assert len(calls) == 1  # triage is asked once, never again
    [row] = await llm_rows(store, "inc-b")
    assert row["outcome"] == "invalid"


async def test_the_summary_carries_the_why_of_each_real_proposal(
    assistant_for: AssistantFactory,
) -> None:
    why = [{"proposal_id": "prop-1", "why": "v5's accuracy 0.78 is below v4's 0.92"}]
    good = {"summary": "fraud-scorer: rolled back to v4 after v5 dropped accuracy.", "why": why}
    async with assistant_for([{"prompt": "summarise", "reply": {"json": good}}]) as (a, _):
        text = await summarise(a, STATE)
    assert text is not None and text.splitlines() == [
        good["summary"],
        "Why rollback_to_previous_champion: v5's accuracy 0.78 is below v4's 0.92",
    ]
    made_up = {**good, "why": [{"proposal_id": "prop-9", "why": "restart too"}]}
    nameless = {"summary": "Everything is fine.", "why": []}
    for incident, bad in (("inc-x", made_up), ("inc-y", nameless)):
        async with assistant_for([{"prompt": "summarise", "reply": {"json": bad}}]) as (a, calls):
            assert await summarise(a, {**STATE, "incident_id": incident}) is None
        assert len(calls) == 2  # asked again once, then the deterministic summary stands
