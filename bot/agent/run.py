"""Running incidents: start one, answer its proposals, resume it after a crash.

An ``Agent`` owns a compiled graph with a durable checkpointer; everything about an incident
lives in the checkpoint and the store, so any process with the same database can pick it up.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from langgraph.types import Command

from bot.agent.deps import AgentDeps, StepSink
from bot.agent.graph import build_graph
from bot.agent.records import IncidentRecords
from bot.agent.types import (
    ActionRecord,
    Decision,
    Diagnosis,
    FinalState,
    IncidentOutcome,
    Proposal,
    Step,
    Trigger,
)
from bot.llm.assistant import Assistant
from bot.runbooks.loader import RunbookSet, default_runbook_dir, load_runbooks
from bot.settings import Settings
from bot.store.checkpoint import open_checkpointer
from bot.store.db import open_store
from tools.platform import Platform

Decider = Callable[[Proposal], Awaitable[Decision]]


def new_incident_id() -> str:
    return f"inc-{uuid.uuid4().hex[:12]}"


@dataclass
class Agent:
    """The compiled incident graph plus what it runs against."""

    graph: Any  # CompiledStateGraph; langgraph's generics are not worth spelling out here
    deps: AgentDeps

    @staticmethod
    def _config(incident_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": incident_id}, "recursion_limit": 1000}

    async def start(
        self, trigger: Trigger, incident_id: str | None = None
    ) -> Proposal | IncidentOutcome:
        """Open an incident and run it until it needs a person or ends."""
        incident_id = incident_id or new_incident_id()
        state = {
            "incident_id": incident_id,
            "trigger": trigger.model_dump(mode="json"),
            "target": trigger.target,
        }
        result = await self.graph.ainvoke(state, self._config(incident_id))
        return self._interpret(incident_id, result)

    async def resume(self, incident_id: str, decision: Decision) -> Proposal | IncidentOutcome:
        """Answer the proposal an incident waits on, and run on."""
        result = await self.graph.ainvoke(
            Command(resume=decision.model_dump(mode="json")), self._config(incident_id)
        )
        return self._interpret(incident_id, result)

    async def continue_after_crash(self, incident_id: str) -> Proposal | IncidentOutcome:
        """Pick up an incident whose process died: waiting at a proposal → that proposal again;
        mid-step → re-run that step (side effects are keyed, so nothing happens twice)."""
        pending = await self.pending(incident_id)
        if pending is not None:
            return pending
        snapshot = await self.graph.aget_state(self._config(incident_id))
        if not snapshot.values:
            raise LookupError(f"no incident {incident_id!r} in this database")
        if not snapshot.next:
            return self._outcome(incident_id, dict(snapshot.values))
        result = await self.graph.ainvoke(None, self._config(incident_id))
        return self._interpret(incident_id, result)

    async def pending(self, incident_id: str) -> Proposal | None:
        """The proposal an incident is waiting on, read from the checkpoint."""
        snapshot = await self.graph.aget_state(self._config(incident_id))
        for task in snapshot.tasks:
            for item in task.interrupts:
                return Proposal.model_validate(item.value)
        return None

    async def run(
        self, trigger: Trigger, decide: Decider, incident_id: str | None = None
    ) -> IncidentOutcome:
        """Run an incident to its end, asking ``decide`` for every proposal."""
        step = await self.start(trigger, incident_id)
        while isinstance(step, Proposal):
            step = await self.resume(step.incident_id, await decide(step))
        return step

    def _interpret(self, incident_id: str, result: dict[str, Any]) -> Proposal | IncidentOutcome:
        interrupts = result.get("__interrupt__") or []
        if interrupts:
            return Proposal.model_validate(interrupts[0].value)
        return self._outcome(incident_id, result)

    @staticmethod
    def _outcome(incident_id: str, state: dict[str, Any]) -> IncidentOutcome:
        return IncidentOutcome(
            incident_id=incident_id,
            target=state.get("target", ""),
            target_kind=state.get("target_kind", ""),
            runbook=state.get("runbook"),
            steps=[Step.model_validate(s) for s in state.get("steps", [])],
            diagnoses=[Diagnosis.model_validate(d) for d in state.get("diagnoses", [])],
            actions=[ActionRecord.model_validate(a) for a in state.get("actions", [])],
            advice=list(state.get("advice", [])),
            escalation=state.get("escalation"),
            final_state=FinalState(state.get("final_state") or "escalated"),
            summary=state.get("summary", ""),
        )


@asynccontextmanager
async def open_agent(
    settings: Settings,
    platform: Platform,
    *,
    runbooks: RunbookSet | None = None,
    on_step: StepSink | None = None,
    max_verify_wait_s: float = 30.0,
    assistant: Assistant | None = None,
) -> AsyncIterator[Agent]:
    """An agent on the configured database (tables and checkpoints in the same place)."""
    url = settings.resolved_database_url()
    store = await open_store(url)
    try:
        async with open_checkpointer(url) as saver:
            deps = AgentDeps(
                platform=platform,
                records=IncidentRecords(store, settings),
                runbooks=runbooks or load_runbooks(default_runbook_dir()),
                settings=settings,
                max_verify_wait_s=max_verify_wait_s,
                assistant=assistant,
            )
            if on_step is not None:
                deps.emit_step = on_step
            graph = build_graph(deps).compile(checkpointer=saver)
            yield Agent(graph, deps)
    finally:
        await store.close()
