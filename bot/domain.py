"""The bot's one vocabulary: risk levels, target kinds, decisions and the proposal itself.

The lowest layer of ``bot/``: it imports nothing of the bot, so the store, the audit, the agent,
the service and every surface speak these same types (``tests/test_imports.py`` keeps the module
graph free of cycles).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_serializer


class Risk(StrEnum):
    """How much a change can hurt; the approval policy has one rule per level."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


# What an incident is about: the kinds a runbook applies to (``endpoint``, ``agent``), a
# registered ``model`` (``check``), or ``unknown`` when no source that could tell answered.
TargetKind = Literal["endpoint", "agent", "model", "unknown"]
ProposalStatus = Literal["pending", "approved", "rejected", "expired", "executed", "failed"]
# What a person's answer is recorded as: the vote, and the proposal's status once it is settled.
Decision = Literal["approved", "rejected"]


class DecisionKind(StrEnum):
    """A person's (or the clock's) answer to a proposal."""

    APPROVE = "approve"
    REJECT = "reject"
    EXPIRE = "expire"

    @property
    def vote(self) -> Decision:
        """The decision an approve or reject answer records (an expiry is the clock's: none)."""
        if self is DecisionKind.EXPIRE:
            raise ValueError("an expiry is not a person's decision")
        return "approved" if self is DecisionKind.APPROVE else "rejected"


# The columns of the ``proposals`` table; ``node`` and ``diagnosis`` travel with the graph's
# interrupt only.
_COLUMNS = {
    "proposal_id": "id",
    "incident_id": "incident_id",
    "title": "action",
    "tool": "tool",
    "params": "params",
    "dry_run": "dry_run",
    "risk": "risk",
    "idempotency_key": "idempotency_key",
    "status": "status",
    "created_at": "created_at",
    "expires_at": "expires_at",
}


class Proposal(BaseModel):
    """A change the runbook calls for, with its dry run, waiting for a person's decision.

    The store keeps it (a ``proposals`` row, whose columns say ``id`` and ``action``); the graph's
    approval interrupt carries it, with the runbook ``node`` that proposed it and the
    ``diagnosis`` it remedies. Only ``proposal_id`` is ever taken back from a client; the change
    that runs is always read from the store.
    """

    model_config = ConfigDict(populate_by_name=True)

    proposal_id: str = Field(validation_alias=AliasChoices("proposal_id", "id"))
    incident_id: str
    title: str = Field(
        validation_alias=AliasChoices("title", "action"),
        description="one line a person reads, e.g. 'Roll back fraud-model to v3'",
    )
    tool: str
    params: dict[str, Any] = Field(default_factory=dict)
    dry_run: dict[str, Any] = Field(default_factory=dict, description="the dry run's evidence")
    risk: Risk = Risk.MEDIUM
    idempotency_key: str
    status: ProposalStatus = "pending"
    created_at: datetime | None = None
    expires_at: datetime
    node: str = Field("", description="the runbook node that proposed it (not stored)")
    diagnosis: str | None = Field(None, description="the diagnosis it remedies (not stored)")

    @field_serializer("risk")
    def _plain_risk(self, risk: Risk) -> str:
        return risk.value  # a plain string in rows and payloads, whatever the dump mode

    def row(self, mode: Literal["python", "json"] = "python") -> dict[str, Any]:
        """The ``proposals`` row (column names), as the store writes it and the chain records."""
        dumped = self.model_dump(mode=mode, include=set(_COLUMNS))
        return {_COLUMNS[name]: value for name, value in dumped.items()}
