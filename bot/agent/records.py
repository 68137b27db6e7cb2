"""The agent's side of the store: incidents, proposals, decisions, the ledger and the audit log,
expressed in the agent's terms. Every record the graph writes goes through here."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.audit import append as audit_append
from bot.settings import Settings
from bot.store.db import Store
from bot.store.models import LedgerEntry
from tools.result import ToolResult

BOT = "model-incident-bot"


@dataclass(frozen=True)
class Verdict:
    """The validated answer to a proposal."""

    outcome: str  # approved | rejected | expired | refused
    actor: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"outcome": self.outcome, "actor": self.actor, "message": self.message}


class IncidentRecords:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    async def audit(self, incident_id: str, kind: str, actor: str, payload: dict[str, Any]) -> None:
        await audit_append(self.store, incident_id, kind, actor, payload)  # type: ignore[arg-type]

    async def open_incident(self, incident_id: str, target: str, trigger: dict[str, Any]) -> None:
        if await self.store.get_incident(incident_id) is not None:
            return  # re-run after a crash
        await self.store.create_incident(incident_id, target, trigger)
        await self.audit(incident_id, "incident_opened", trigger.get("actor") or BOT, {"trigger": trigger})

    async def set_runbook(self, incident_id: str, runbook: str | None, target_kind: str) -> None:
        await self.store.update_incident(incident_id, status="diagnosing", runbook=runbook)

    async def close_incident(
        self, incident_id: str, final: str, escalation: dict[str, str] | None
    ) -> None:
        status = {"resolved": "resolved", "escalated": "escalated"}.get(final, "closed")
        await self.store.update_incident(
            incident_id,
            status=status,  # type: ignore[arg-type]
            final_state={"final_state": final, "escalation": escalation},
        )
        if escalation:
            await self.audit(incident_id, "escalation", BOT, escalation)
        await self.audit(incident_id, "incident_closed", BOT, {"final_state": final})

    async def create_proposal(
        self,
        *,
        incident_id: str,
        node: str,
        title: str,
        tool: str,
        params: dict[str, Any],
        risk: str,
        idempotency_key: str,
        dry_run: dict[str, Any],
        diagnosis: str,
    ) -> dict[str, Any]:
        """Record the proposal (once per idempotency key) and return the interrupt payload."""
        existing = await self.store.get_proposal_by_key(idempotency_key)
        if existing is None:
            proposal_id = f"prop-{uuid.uuid4().hex[:12]}"
            expires = datetime.now(UTC) + timedelta(seconds=self.settings.proposal_ttl_s)
            existing = await self.store.create_proposal(
                id=proposal_id,
                incident_id=incident_id,
                action=title,
                tool=tool,
                params=params,
                dry_run=dry_run,
                risk=risk,  # type: ignore[arg-type]
                idempotency_key=idempotency_key,
                expires_at=expires,
                node=node,
            )
            await self.audit(
                incident_id,
                "proposal",
                BOT,
                {
                    "proposal_id": proposal_id,
                    "tool": tool,
                    "params": params,
                    "risk": risk,
                    "idempotency_key": idempotency_key,
                    "diff": dry_run.get("diff", []),
                    "diagnosis": diagnosis,
                },
            )
            await self.store.update_incident(incident_id, status="awaiting_approval")
        return {
            "proposal_id": existing.id,
            "incident_id": incident_id,
            "node": node,
            "title": existing.action,
            "tool": existing.tool,
            "params": existing.params,
            "risk": existing.risk,
            "idempotency_key": existing.idempotency_key,
            "dry_run": existing.dry_run,
            "diagnosis": diagnosis,
            "expires_at": existing.expires_at.timestamp(),
        }

    async def load_proposal(self, proposal_id: str) -> dict[str, Any]:
        """The server's copy of a proposal: the change that runs is this, never the client's."""
        proposal = await self.store.get_proposal(proposal_id)
        if proposal is None:
            raise LookupError(f"proposal {proposal_id} does not exist")
        return {
            "proposal_id": proposal.id,
            "incident_id": proposal.incident_id,
            "node": proposal.node,
            "title": proposal.action,
            "tool": proposal.tool,
            "params": proposal.params,
            "idempotency_key": proposal.idempotency_key,
        }

    async def decide(self, pending: dict[str, Any], answer: dict[str, Any]) -> Verdict:
        """Validate an untrusted answer and record it. Only ``proposal_id``, ``decision``,
        ``actor``, ``source`` and ``reason`` are read from it."""
        actor = str(answer.get("actor") or "")
        proposal_id = str(answer.get("proposal_id") or "")
        decision = str(answer.get("decision") or "")
        incident_id = str(pending.get("incident_id", ""))
        if proposal_id != pending.get("proposal_id"):
            message = f"answer is for proposal {proposal_id or '?'}, not the pending one"
            await self.audit(incident_id, "rejection", actor or "unknown", {"refused": message})
            return Verdict("refused", actor, message)
        if decision == "expire" or time.time() > float(pending.get("expires_at", 0)):
            result = await self.store.expire(proposal_id)
            await self.audit(incident_id, "expiry", BOT, {"proposal_id": proposal_id})
            return Verdict("expired", actor or BOT, result.message if result else "proposal expired")
        if decision not in ("approve", "reject"):
            message = f"unknown decision {decision!r}"
            return Verdict("refused", actor, message)
        result = await self.store.decide(
            proposal_id,
            "approved" if decision == "approve" else "rejected",
            actor,
            source=str(answer.get("source") or "cli"),
            approvers=list(self.settings.approvers),
            reason=str(answer.get("reason") or "") or None,
        )
        if not result.accepted:
            await self.audit(
                incident_id,
                "rejection",
                actor or "unknown",
                {"proposal_id": proposal_id, "refused": result.message, "refusal": result.refusal},
            )
            if result.refusal == "expired":
                return Verdict("expired", actor, result.message)
            return Verdict("refused", actor, result.message)
        kind = "approval" if decision == "approve" else "rejection"
        await self.audit(
            incident_id,
            kind,
            actor,
            {"proposal_id": proposal_id, "source": answer.get("source") or "cli"},
        )
        outcome = "approved" if decision == "approve" else "rejected"
        return Verdict(outcome, actor, f"{outcome} by {actor}")

    async def ledger_begin(self, proposal: dict[str, Any]) -> LedgerEntry:
        entry = await self.store.ledger_begin(
            proposal["idempotency_key"],
            proposal_id=proposal["proposal_id"],
            tool=proposal["tool"],
            params=proposal["params"],
        )
        await self.audit(
            proposal["incident_id"],
            "execution_started",
            BOT,
            {
                "proposal_id": proposal["proposal_id"],
                "tool": proposal["tool"],
                "idempotency_key": proposal["idempotency_key"],
                "resumed": not entry.claimed,
            },
        )
        await self.store.update_incident(proposal["incident_id"], status="executing")
        return entry

    async def ledger_finish(self, proposal: dict[str, Any], result: ToolResult) -> None:
        state = "succeeded" if result.ok else "failed"
        await self.store.ledger_finish(
            proposal["idempotency_key"], state, result.model_dump(mode="json")
        )
        await self.store.mark_proposal(proposal["proposal_id"], "executed" if result.ok else "failed")
        await self.audit(
            proposal["incident_id"],
            "execution_finished",
            BOT,
            {
                "proposal_id": proposal["proposal_id"],
                "status": result.status.value,
                "summary": result.summary,
                "diff": result.evidence.get("diff", []),
            },
        )
        await self.store.update_incident(proposal["incident_id"], status="verifying")
