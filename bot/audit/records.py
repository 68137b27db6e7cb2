"""The proposal, approval and ledger rows checked against what the audit chain recorded.

The chain is signed and anchored; the tables next to it are not. Someone who edits
``proposals.params``, changes an approver in ``approvals`` or marks a failed execution as
succeeded in ``ledger`` leaves the chain intact, so each row is compared with the chain entry the
store wrote in the same transaction as the row: what the chain says is the truth, a row that
disagrees is reported. The comparison is made on the recorded form (plain JSON, scrubbed of
secrets), because that is what the chain holds.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from bot.audit.hashing import canonical_json, to_json_value
from bot.audit.verify import RecordProblem
from bot.store.models import AuditRow
from tools.redact import redact_value

# The fields of a proposal that define the change; the chain's ``proposal`` entry has them all.
PROPOSAL_FIELDS = ("tool", "params", "idempotency_key", "action", "risk", "dry_run")
DecisionTable = Literal["approvals", "approval_votes"]
DECISION_KINDS = {"approved": "approval", "rejected": "rejection"}
# What a proposal's status claims happened, as the chain must show it.
_STATUS_NEEDS = {
    "approved": ("approval",),
    "rejected": ("rejection",),
    "expired": ("expiry",),
    "executed": ("approval", "succeeded"),
    "failed": ("approval", "failed"),
}


def recorded_form(value: Any) -> Any:
    """``value`` as the chain records it: plain JSON, secrets scrubbed."""
    return redact_value(to_json_value(value))


def digest(value: Any) -> str:
    """A short fingerprint of a JSON value, for messages that must not print the value."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:16]


def _payload(row: AuditRow) -> dict[str, Any]:
    return row.payload if isinstance(row.payload, dict) else {}


def is_accepted_decision(row: AuditRow) -> bool:
    """An ``approval`` / ``rejection`` entry the store recorded (not a refused answer)."""
    return row.kind in ("approval", "rejection") and "refused" not in _payload(row)


def settles(row: AuditRow) -> bool:
    """A counted vote that decided its proposal (not one still waiting for another approver).

    Entries written before votes were counted carry no ``status``: each of them decided.
    """
    return bool(_payload(row).get("status", "decided") != "pending")


class ChainIndex:
    """The chain's entries about proposals, decisions and executions, by the row they vouch for."""

    def __init__(self, rows: Sequence[AuditRow]) -> None:
        self.proposals: dict[str, AuditRow] = {}
        self.decisions: dict[str, list[AuditRow]] = defaultdict(list)
        self.expiries: dict[str, list[AuditRow]] = defaultdict(list)
        self.executions: dict[str, list[AuditRow]] = defaultdict(list)
        for row in rows:
            payload = _payload(row)
            if row.kind == "proposal" and isinstance(payload.get("id"), str):
                self.proposals.setdefault(payload["id"], row)
            elif is_accepted_decision(row):
                self.decisions[str(payload.get("proposal_id"))].append(row)
            elif row.kind == "expiry":
                self.expiries[str(payload.get("proposal_id"))].append(row)
            elif row.kind in ("execution_started", "execution_finished"):
                self.executions[str(payload.get("idempotency_key"))].append(row)

    def finished_states(self, idempotency_key: str) -> set[str]:
        return {
            str(_payload(e).get("state"))
            for e in self.executions.get(idempotency_key, [])
            if e.kind == "execution_finished"
        }


def proposal_differences(row: Mapping[str, Any], entry: AuditRow) -> list[str]:
    """The fields in which a proposal row differs from its chain ``proposal`` entry."""
    recorded = _payload(entry)
    fields = [f for f in PROPOSAL_FIELDS if recorded_form(row.get(f)) != recorded.get(f)]
    if row.get("incident_id") != entry.incident_id:
        fields.append("incident_id")
    expires = row.get("expires_at")
    try:
        anchored = datetime.fromisoformat(str(recorded.get("expires_at")))
    except ValueError:
        anchored = None
    if not isinstance(expires, datetime) or anchored is None or expires != anchored:
        fields.append("expires_at")
    return fields


def _check_proposal(row: Mapping[str, Any], index: ChainIndex) -> RecordProblem | None:
    proposal_id = str(row.get("id"))
    entry = index.proposals.get(proposal_id)
    if entry is None:
        return RecordProblem(
            table="proposals",
            key=proposal_id,
            problem="unrecorded",
            detail="the chain has no proposal entry for this row",
        )
    fields = proposal_differences(row, entry)
    status = str(row.get("status"))
    seen = {e.kind for e in index.decisions.get(proposal_id, []) if settles(e)}
    seen |= {"expiry"} if index.expiries.get(proposal_id) else set()
    seen |= index.finished_states(str(row.get("idempotency_key")))
    missing = [need for need in _STATUS_NEEDS.get(status, ()) if need not in seen]
    if missing:
        fields.append("status")
    if not fields:
        return None
    detail = f"differs from chain seq {entry.seq} in {', '.join(fields)}"
    if "params" in fields:
        detail += (
            f" (params digest: row {digest(recorded_form(row.get('params')))}, "
            f"chain {digest(_payload(entry).get('params'))})"
        )
    if missing:
        detail += f"; status {status!r} but the chain shows no {' / '.join(missing)}"
    return RecordProblem(
        table="proposals", key=proposal_id, problem="differs", fields=fields, detail=detail
    )


def _check_approval(
    row: Mapping[str, Any], index: ChainIndex, table: DecisionTable
) -> RecordProblem | None:
    """An ``approvals`` row (the settling decision) or an ``approval_votes`` row (any vote)."""
    proposal_id, actor = str(row.get("proposal_id")), str(row.get("actor"))
    key = f"{proposal_id} by {actor}"
    entries = [
        e for e in index.decisions.get(proposal_id, []) if table == "approval_votes" or settles(e)
    ]
    if not entries:
        detail = "the chain records no such decision on this proposal"
        return RecordProblem(table=table, key=key, problem="unrecorded", detail=detail)
    wanted = DECISION_KINDS.get(str(row.get("decision")))
    by_actor = [e for e in entries if e.actor == actor]
    if not by_actor:
        who = ", ".join(sorted({e.actor for e in entries}))
        detail = f"the chain records the decision by {who}, not by {actor}"
        return RecordProblem(
            table=table, key=key, problem="differs", fields=["actor"], detail=detail
        )
    match = next((e for e in by_actor if e.kind == wanted), None)
    if match is None:
        detail = f"the chain records {by_actor[-1].kind} by {actor}, not {row.get('decision')}"
        return RecordProblem(
            table=table, key=key, problem="differs", fields=["decision"], detail=detail
        )
    recorded = _payload(match)
    fields = [
        f
        for f in ("source", "channel", "reason")
        if f in recorded and recorded_form(row.get(f)) != recorded[f]
    ]
    if not fields:
        return None
    detail = f"differs from chain seq {match.seq} in {', '.join(fields)}"
    return RecordProblem(table=table, key=key, problem="differs", fields=fields, detail=detail)


def _check_ledger(row: Mapping[str, Any], index: ChainIndex) -> RecordProblem | None:
    key = str(row.get("idempotency_key"))
    events = index.executions.get(key, [])
    started = [e for e in events if e.kind == "execution_started"]
    if not started:
        detail = "the chain records no execution with this key"
        return RecordProblem(table="ledger", key=key, problem="unrecorded", detail=detail)
    claim = _payload(started[-1])
    fields = [f for f in ("tool", "params") if recorded_form(row.get(f)) != claim.get(f)]
    if row.get("proposal_id") != claim.get("proposal_id"):
        fields.append("proposal_id")
    last = events[-1]
    state = str(row.get("state"))
    detail = ""
    if state == "started":
        if last.kind != "execution_started":
            fields.append("state")
            detail = f"; the chain says it finished {_payload(last).get('state')}"
    elif last.kind != "execution_finished" or _payload(last).get("state") != state:
        fields.append("state")
        detail = f"; the chain's last event for it is {last.kind} {_payload(last).get('state')}"
    elif recorded_form(row.get("result")) != _payload(last).get("result"):
        fields.append("result")
        detail = (
            f" (result digest: row {digest(recorded_form(row.get('result')))}, "
            f"chain {digest(_payload(last).get('result'))})"
        )
    if not fields:
        return None
    return RecordProblem(
        table="ledger",
        key=key,
        problem="differs",
        fields=fields,
        detail=f"differs from the chain in {', '.join(fields)}{detail}",
    )


def _missing_decisions(
    index: ChainIndex, rows: Sequence[Mapping[str, Any]], table: DecisionTable
) -> list[RecordProblem]:
    have = {(str(r.get("proposal_id")), str(r.get("actor"))) for r in rows}
    return [
        RecordProblem(
            table=table,
            key=f"{pid} by {e.actor}",
            problem="missing",
            detail=f"chain seq {e.seq} records a {e.kind}; the row is gone",
        )
        for pid, entries in index.decisions.items()
        for e in entries
        if (table == "approval_votes" or settles(e)) and (pid, e.actor) not in have
    ]


def _missing_rows(
    index: ChainIndex,
    proposals: Sequence[Mapping[str, Any]],
    ledger: Sequence[Mapping[str, Any]],
) -> list[RecordProblem]:
    """Chain entries whose row is gone: a deleted row hides what happened as well as an edit."""
    have_proposals = {str(r.get("id")) for r in proposals}
    have_keys = {str(r.get("idempotency_key")) for r in ledger}
    problems = [
        RecordProblem(
            table="proposals",
            key=pid,
            problem="missing",
            detail=f"chain seq {e.seq} records it; the row is gone",
        )
        for pid, e in index.proposals.items()
        if pid not in have_proposals
    ]
    for key, events in index.executions.items():
        if key not in have_keys and any(e.kind == "execution_started" for e in events):
            problems.append(
                RecordProblem(
                    table="ledger",
                    key=key,
                    problem="missing",
                    detail=f"chain seq {events[0].seq} records it; the row is gone",
                )
            )
    return problems


def check_records(
    chain: Sequence[AuditRow],
    proposals: Sequence[Mapping[str, Any]],
    approvals: Sequence[Mapping[str, Any]],
    ledger: Sequence[Mapping[str, Any]],
    votes: Sequence[Mapping[str, Any]] | None = None,
) -> list[RecordProblem]:
    """Every proposal, approval (and vote) and ledger row the chain does not vouch for, and why.

    ``votes`` are the ``approval_votes`` rows (None: a schema without them, nothing checked).
    """
    index = ChainIndex(chain)
    problems = [p for row in proposals if (p := _check_proposal(row, index)) is not None]
    problems += [
        p for row in approvals if (p := _check_approval(row, index, "approvals")) is not None
    ]
    if votes is not None:
        problems += [
            p for row in votes if (p := _check_approval(row, index, "approval_votes")) is not None
        ]
    problems += [p for row in ledger if (p := _check_ledger(row, index)) is not None]
    problems += _missing_rows(index, proposals, ledger)
    problems += _missing_decisions(index, approvals, "approvals")
    if votes is not None:
        problems += _missing_decisions(index, votes, "approval_votes")
    return problems
