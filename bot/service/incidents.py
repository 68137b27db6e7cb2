"""The incident service: the one API every surface calls.

    open(request)      → run the incident until it needs a person or ends
    answer(answer)     → check the answer, record it (or its refusal, once) and run on
    resume(id)         → pick up an incident after a restart
    status(id), list_open(), expire_due()
    drive(request, decide) → the one loop of open → answer → … → end

Progress events go to the ``on_event`` callback of the call that runs the graph, and to the
per-incident subscribers of the hub; never to a process-wide sink.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.types import Command

from bot.agent.events import StepEvent
from bot.agent.records import IncidentRecords
from bot.agent.types import Refusal
from bot.domain import Proposal
from bot.service.hub import EventHub
from bot.service.models import (
    Answer,
    IncidentSummary,
    IncidentView,
    OpenRequest,
)
from bot.service.outcome import outcome_from_state

EventSink = Callable[[StepEvent], Awaitable[None]]
Decider = Callable[[Proposal, Refusal | None], Awaitable[Answer | None]]
BOT = "model-incident-bot"
CLOSED = frozenset({"resolved", "escalated", "closed"})
# LangGraph's default of 25 super-steps is far too few for a walk of one node per step.
RECURSION_LIMIT = 1000


def new_incident_id() -> str:
    return f"inc-{uuid.uuid4().hex[:12]}"


def _config(incident_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": incident_id}, "recursion_limit": RECURSION_LIMIT}


class IncidentService:
    """Incidents over one compiled graph (with a durable checkpointer) and one store."""

    def __init__(self, graph: Any, records: IncidentRecords, hub: EventHub | None = None) -> None:
        self.graph = graph  # CompiledStateGraph
        self.records = records
        self.hub = hub or EventHub()
        # One run of an incident's graph at a time in this process: two clicks at once must not
        # resume the same checkpoint twice (the store's compare-and-set settles the decision;
        # this keeps the loser from writing a stale checkpoint after the winner's).
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    # ------------------------------------------------------------------ commands

    async def open(self, request: OpenRequest, on_event: EventSink | None = None) -> IncidentView:
        """Open an incident (requester and thread recorded first) and run it."""
        incident_id = request.incident_id or new_incident_id()
        trigger = request.trigger.model_copy(update={"actor": request.requester})
        await self.records.open_incident(
            incident_id,
            trigger.target,
            trigger.model_dump(mode="json"),
            thread_ref=request.report_to.thread_ref(),
        )
        state = {
            "incident_id": incident_id,
            "trigger": trigger.model_dump(mode="json"),
            "target": trigger.target,
        }
        async with self._locks[incident_id]:
            await self._run(incident_id, state, on_event)
        return await self.status(incident_id)

    async def answer(self, answer: Answer, on_event: EventSink | None = None) -> IncidentView:
        """Take a person's answer. A refused answer is audited once and the proposal keeps
        waiting for a valid one; it never re-enters the graph."""
        proposal = await self.records.store.get_proposal(answer.proposal_id)
        if proposal is None:
            missing = Refusal(code="not_found", message=f"no proposal {answer.proposal_id}")
            await self.records.audit(None, "rejection", answer.actor, _refused(answer, missing))
            return IncidentView(incident_id="", phase="unknown", refusal=missing)
        async with self._locks[proposal.incident_id]:
            return await self._answer(proposal, answer, on_event)

    async def _answer(
        self, proposal: Proposal, answer: Answer, on_event: EventSink | None
    ) -> IncidentView:
        view = await self.status(proposal.incident_id)
        if view.pending is None or view.pending.proposal_id != answer.proposal_id:
            state = view.pending and view.pending.proposal_id
            refusal = Refusal(
                code="not_pending",
                message=f"proposal {answer.proposal_id} is {proposal.status}, not awaiting an "
                f"answer" + (f" (the incident waits on {state})" if state else ""),
            )
            await self.records.audit(
                proposal.incident_id, "rejection", answer.actor, _refused(answer, refusal)
            )
            return view.model_copy(update={"refusal": refusal})
        refused = await self.records.precheck(proposal, answer)
        if refused is not None:
            return view.model_copy(update={"refusal": refused})
        decisions = await self._run(
            proposal.incident_id, Command(resume=answer.model_dump()), on_event
        )
        after = await self.status(proposal.incident_id)
        last = decisions[-1] if decisions else None
        waits = after.pending is not None and after.pending.proposal_id == answer.proposal_id
        if waits and (last is None or last.title != "waiting"):
            # The graph refused it after all (another answer won the race): say so, stop.
            message = last.summary if last else "the answer was not taken"
            return after.model_copy(update={"refusal": Refusal(code="refused", message=message)})
        return after

    async def resume(self, incident_id: str, on_event: EventSink | None = None) -> IncidentView:
        """After a restart: waiting at a proposal → that proposal again; mid-step → run that step
        again (side effects are keyed, so nothing happens twice); finished → its outcome."""
        view = await self.status(incident_id)
        if view.phase == "unknown":
            raise LookupError(f"no incident {incident_id!r} in this database")
        if view.phase != "running":
            return view
        async with self._locks[incident_id]:
            await self._run(incident_id, None, on_event)
        return await self.status(incident_id)

    async def expire_due(self, on_event: EventSink | None = None) -> list[IncidentView]:
        """Expire every proposal past its time and move its incident on to the next remedy."""
        views = []
        for proposal in await self.records.store.expire_due_proposals():
            async with self._locks[proposal.incident_id]:
                view = await self.status(proposal.incident_id)
                if view.pending is None or view.pending.proposal_id != proposal.proposal_id:
                    continue
                resume = {"proposal_id": proposal.proposal_id, "decision": "expire", "actor": BOT}
                await self._run(proposal.incident_id, Command(resume=resume), on_event)
            views.append(await self.status(proposal.incident_id))
        return views

    async def drive(
        self, request: OpenRequest, decide: Decider, on_event: EventSink | None = None
    ) -> IncidentView:
        """Open an incident and answer its proposals with ``decide`` until it ends."""
        return await self.drive_from(await self.open(request, on_event), decide, on_event)

    async def drive_from(
        self, view: IncidentView, decide: Decider, on_event: EventSink | None = None
    ) -> IncidentView:
        """Answer proposals until the incident ends, ``decide`` returns None (leave it waiting),
        or ``decide`` repeats an answer that was refused (asking again would loop forever)."""
        given: set[tuple[str, str, str]] = set()
        while view.phase == "waiting" and view.pending is not None:
            answer = await decide(view.pending, view.refusal)
            if answer is None:
                return view
            key = (answer.proposal_id, answer.actor, answer.decision.value)
            if key in given:
                return view
            given.add(key)
            view = await self.answer(answer, on_event)
        return view

    # ------------------------------------------------------------------ queries

    async def status(self, incident_id: str) -> IncidentView:
        """Where the incident stands, from its checkpoint and its store record."""
        snapshot = await self.graph.aget_state(_config(incident_id))
        incident = await self.records.store.get_incident(incident_id)
        if not snapshot.values and incident is None:
            return IncidentView(incident_id=incident_id, phase="unknown")
        base = {
            "incident_id": incident_id,
            "target": incident.target if incident else snapshot.values.get("target", ""),
            "status": incident.status if incident else "",
        }
        for task in snapshot.tasks:
            for item in task.interrupts:
                pending = Proposal.model_validate(item.value)
                return IncidentView(**base, phase="waiting", pending=pending)
        if snapshot.values and not snapshot.next:
            outcome = outcome_from_state(incident_id, dict(snapshot.values))
            return IncidentView(**base, phase="finished", outcome=outcome)
        return IncidentView(**base, phase="running")

    async def list_open(self) -> list[IncidentSummary]:
        """Incidents that have not ended, newest first."""
        return [
            IncidentSummary(
                incident_id=i.id,
                target=i.target,
                status=i.status,
                requested_by=str(i.trigger.get("actor") or "") or None,
                thread_ref=i.thread_ref,
            )
            for i in await self.records.store.list_incidents()
            if i.status not in CLOSED
        ]

    # ------------------------------------------------------------------ running the graph

    async def _run(
        self, incident_id: str, graph_input: Any, on_event: EventSink | None
    ) -> list[StepEvent]:
        """Run the graph until it interrupts or ends, forwarding its step events; returns the
        decision steps of the run (what became of an answer)."""
        decisions: list[StepEvent] = []
        async for chunk in self.graph.astream(
            graph_input, _config(incident_id), stream_mode="custom"
        ):
            if not isinstance(chunk, dict) or chunk.get("type") != "step":
                continue
            event = StepEvent.model_validate(chunk)
            if event.kind == "decision":
                decisions.append(event)
            if on_event is not None:
                await on_event(event)
            self.hub.publish(event)
        return decisions


def _refused(answer: Answer, refusal: Refusal) -> dict[str, Any]:
    return {
        "proposal_id": answer.proposal_id,
        "decision": answer.decision.value,
        "refused": refusal.message,
        "refusal": refusal.code,
        "source": answer.source,
        "channel": answer.channel,
    }
