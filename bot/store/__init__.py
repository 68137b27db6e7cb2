"""Durable state: incidents, proposals, approvals, the exactly-once ledger and the audit chain."""

from bot.store.db import NotFoundError, Store, StoreError, default_idempotency_key, open_store
from bot.store.models import (
    Approval,
    ApprovalVote,
    AuditEntry,
    AuditKind,
    DecideOutcome,
    DecideResult,
    Decision,
    Incident,
    IncidentStatus,
    LedgerEntry,
    LedgerState,
    Proposal,
    ProposalStatus,
    Refusal,
    Risk,
)

__all__ = [
    "Approval",
    "ApprovalVote",
    "AuditEntry",
    "AuditKind",
    "DecideOutcome",
    "DecideResult",
    "Decision",
    "Incident",
    "IncidentStatus",
    "LedgerEntry",
    "LedgerState",
    "NotFoundError",
    "Proposal",
    "ProposalStatus",
    "Refusal",
    "Risk",
    "Store",
    "StoreError",
    "default_idempotency_key",
    "open_store",
]
