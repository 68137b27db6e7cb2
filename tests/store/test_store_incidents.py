"""Incidents round-trip; the checkpointer keeps a paused graph across a restart."""

from __future__ import annotations

from typing import TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from bot.store import NotFoundError, Store
from bot.store.checkpoint import open_checkpointer


async def test_incident_lifecycle(store: Store) -> None:
    incident = await store.create_incident(
        "fraud-model", {"alertname": "AccuracyDrop", "fingerprint": "0123456789abcdef"}
    )
    assert incident.created_at.tzinfo is not None
    await store.update_incident(incident.id, status="diagnosing", thread_ref="C1:1712.0001")
    found = await store.find_incident(thread_ref="C1:1712.0001")
    assert found is not None and found.id == incident.id
    assert (await store.find_incident(target="fraud-model")) == found

    closed = await store.update_incident(
        incident.id, status="resolved", final_state={"branch": "rollback", "verified": True}
    )
    assert closed.final_state == {"branch": "rollback", "verified": True}
    assert closed.thread_ref == "C1:1712.0001"
    assert await store.find_incident(target="fraud-model") is None
    assert await store.get_incident(incident.id) == closed
    kinds = [a.kind for a in await store.list_audit(incident_id=incident.id)]
    assert kinds == ["incident_opened", "incident_closed"]
    assert [i.id for i in await store.list_incidents(status="resolved")] == [incident.id]


async def test_updating_a_missing_incident_fails(store: Store) -> None:
    with pytest.raises(NotFoundError):
        await store.update_incident("inc-missing", status="closed")


class _State(TypedDict):
    decision: str


def _ask(state: _State) -> dict[str, str]:
    return {"decision": interrupt("approve?")}


async def test_a_paused_graph_resumes_after_a_restart(database_url: str) -> None:
    graph = StateGraph(_State)
    graph.add_node("ask", _ask)
    graph.add_edge(START, "ask")
    graph.add_edge("ask", END)
    config = {"configurable": {"thread_id": "inc-1"}}

    async with open_checkpointer(database_url) as saver:
        paused = await graph.compile(checkpointer=saver).ainvoke({"decision": ""}, config)
        assert "__interrupt__" in paused

    async with open_checkpointer(database_url) as saver:
        resumed = await graph.compile(checkpointer=saver).ainvoke(
            Command(resume="approved"), config
        )
    assert resumed == {"decision": "approved"}
