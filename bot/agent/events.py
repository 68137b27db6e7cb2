"""The typed step event: what one step of an incident found, and how it leaves a node.

A node records its steps through a ``StepLog``. Each step is appended to the state's ``steps`` (the
checkpointed history) and written to LangGraph's stream writer as ``{"type": "step", ...}``, so a
caller that runs the graph with ``stream_mode="custom"`` sees its own incident's steps as they
happen, and no other incident's.

``seq`` numbers an incident's steps from 1 in the order they entered the state. A node that re-runs
(on resume, or after a crash) numbers its steps the same way again, so a subscriber may drop an
event whose ``(incident_id, seq)`` it has already seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from langgraph.config import get_stream_writer
from langgraph.types import StreamWriter
from pydantic import Field

from bot.agent.types import Step

if TYPE_CHECKING:
    from bot.agent.deps import AgentDeps

StepKind = Literal[
    "select",
    "check",
    "diagnosis",
    "advice",
    "escalate",
    "proposal",
    "decision",
    "execution",
    "action",
    "verify",
]


class StepEvent(Step):
    """One step of the walk (a :class:`Step`) as it leaves a node: with its incident and place."""

    incident_id: str
    seq: int = Field(ge=1, description="position in the incident's steps, from 1")
    kind: StepKind


def _stream_writer() -> StreamWriter | None:
    try:
        return get_stream_writer()
    except RuntimeError:  # a node called directly, outside a graph run: nobody is streaming
        return None


class StepLog:
    """The steps one run of a node adds, numbered after the incident's earlier steps."""

    def __init__(self, state: Mapping[str, Any], deps: AgentDeps) -> None:
        self._incident_id = str(state["incident_id"])
        self._first_seq = len(state.get("steps") or []) + 1
        self._deps = deps
        self._writer = _stream_writer()
        self.entries: list[dict[str, Any]] = []

    async def add(
        self,
        *,
        node: str,
        runbook: str,
        kind: StepKind,
        title: str,
        summary: str = "",
        tool: str | None = None,
        status: str | None = None,
        branch: str | None = None,
        next: str | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> StepEvent:
        """Record one step: into ``entries`` (the node's state update) and onto the stream."""
        event = StepEvent(
            incident_id=self._incident_id,
            seq=self._first_seq + len(self.entries),
            node=node,
            runbook=runbook,
            kind=kind,
            title=title,
            summary=summary,
            tool=tool,
            status=status,
            branch=branch,
            next=next,
            evidence=evidence or {},
        )
        data = event.model_dump(mode="json")
        self.entries.append(data)
        if self._writer is not None:
            self._writer({"type": "step", **data})
        return event
