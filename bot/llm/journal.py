"""Where the assistant writes each call (the audit chain) and reads what an incident has spent."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel

from bot.audit import append as audit_append
from bot.store.db import Store

ASSISTANT = "llm-assistant"


class Spent(BaseModel):
    """What an incident's LLM calls have cost so far."""

    calls: int = 0
    tokens: int = 0


class Journal(Protocol):
    async def record(self, incident_id: str, payload: dict[str, Any]) -> None: ...

    async def spent(self, incident_id: str) -> Spent: ...


class AuditJournal:
    """The audit chain as the assistant's journal: every call is an ``llm_call`` entry, and the
    budget is read back from those entries, so it holds across restarts and replicas."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def record(self, incident_id: str, payload: dict[str, Any]) -> None:
        await audit_append(self._store, incident_id, "llm_call", ASSISTANT, payload)

    async def spent(self, incident_id: str) -> Spent:
        entries = await self._store.list_audit(incident_id=incident_id)
        return spent_of(e.payload for e in entries if e.kind == "llm_call")


def spent_of(payloads: Any) -> Spent:
    """Calls and tokens of the incident-scoped ``llm_call`` payloads."""
    total = Spent()
    for p in payloads:
        if p.get("scope", "incident") != "incident":
            continue
        total.calls += int(p.get("attempts", 0))
        total.tokens += int(p.get("prompt_tokens", 0)) + int(p.get("completion_tokens", 0))
    return total
