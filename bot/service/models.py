"""What crosses the incident service's boundary: typed requests in, typed views out.

Every surface (the CLI, Slack, the Alertmanager webhook, the eval driver) speaks these types and
nothing else; none of them sees the graph, the checkpointer or the store.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from bot.agent.types import IncidentOutcome, Refusal, Trigger
from bot.domain import DecisionKind, Proposal

# ``dry-run`` is the bot itself declining each proposal of a ``--dry-run`` incident: a rejection
# changes nothing, so it needs no approver.
Surface = Literal["cli", "slack", "alertmanager", "eval", "api", "dry-run"]


class ReportTo(BaseModel):
    """Where an incident reports its progress: the terminal, or a Slack channel and thread."""

    surface: Surface = "cli"
    team: str | None = None
    channel: str | None = None
    thread_ts: str | None = None

    def thread_ref(self) -> str | None:
        """The incident's ``thread_ref`` in the store (``channel:thread_ts``), when it has one."""
        if self.channel is None:
            return None
        return f"{self.channel}:{self.thread_ts}" if self.thread_ts else self.channel


class OpenRequest(BaseModel):
    """Open an incident from a trigger, on behalf of ``requester``."""

    trigger: Trigger
    requester: str = Field(min_length=1, max_length=200, description="CLI user, Slack user id, ...")
    report_to: ReportTo = Field(default_factory=ReportTo)
    incident_id: str | None = Field(None, description="a caller-chosen id; new one when empty")


class Answer(BaseModel):
    """A person's answer to a proposal. Only the proposal id is taken from the caller; the change
    itself is always read back from the store."""

    proposal_id: str = Field(min_length=1, max_length=100)
    decision: DecisionKind
    actor: str = Field(min_length=1, max_length=200)
    source: Surface = "cli"
    channel: str | None = None
    reason: str = Field("", max_length=2000)


IncidentPhase = Literal["waiting", "finished", "running", "unknown"]


class IncidentView(BaseModel):
    """Where an incident stands: waiting on a proposal, finished with an outcome, or mid-step."""

    incident_id: str
    phase: IncidentPhase
    target: str = ""
    status: str = ""
    pending: Proposal | None = None
    outcome: IncidentOutcome | None = None
    refusal: Refusal | None = Field(None, description="set when the last answer was refused")

    @property
    def finished(self) -> bool:
        return self.phase == "finished"


class IncidentSummary(BaseModel):
    """One line of ``list open incidents``."""

    incident_id: str
    target: str
    status: str
    requested_by: str | None = None
    thread_ref: str | None = None
