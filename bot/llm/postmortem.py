"""A postmortem draft from an incident's audit timeline, in the shape the deployment guide asks
for ("What to review in postmortems"): root cause with data and timelines; SLI and SLO impact
and error budget usage; what checks or automation would have prevented it; actionable
follow-ups and owners.

The timeline and the facts always come from the audit trail; with an assistant, the LLM may
write the four review sections from them (validated, fenced as data); without one, or without a
valid answer, they are written from the recorded diagnoses, checks and escalation.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel

from bot.llm.assistant import Assistant
from bot.llm.tasks import refuse_echo
from bot.llm.timeline import of_kind, timeline, timeline_line
from bot.store.models import AuditEntry, Incident

NOT_RECORDED = "not recorded in the audit trail"


class FollowUp(BaseModel):
    action: str
    owner: str


class Postmortem(BaseModel):
    incident_id: str
    target: str
    final_state: str
    root_cause: str
    impact: str
    prevention: str
    follow_ups: list[FollowUp]
    timeline: list[str]
    source: Literal["llm", "audit"]

    def markdown(self) -> str:
        follow = "\n".join(f"- {f.action} (owner: {f.owner})" for f in self.follow_ups)
        return "\n".join(
            [
                f"# Postmortem draft: {self.target} ({self.incident_id})",
                f"Final state: {self.final_state}. Written from: {self.source}.",
                "",
                "## Root cause with data and timeline",
                self.root_cause,
                "",
                "## SLI and SLO impact and error budget usage",
                self.impact,
                "",
                "## What checks or automation would have prevented it",
                self.prevention,
                "",
                "## Actionable follow-ups and owners",
                follow or "- none recorded",
                "",
                "## Timeline (audit trail)",
                *(f"- {line}" for line in self.timeline),
            ]
        )


def _facts(incident: Incident, entries: Sequence[AuditEntry]) -> dict[str, Any]:
    final = incident.final_state or {}
    return {
        "target": incident.target,
        "runbook": incident.runbook,
        "status": incident.status,
        "final_state": final.get("state") or final.get("final_state") or incident.status,
        "escalation": final.get("escalation"),
        "diagnoses": [e.payload for e in of_kind(entries, "diagnosis")],
        "actions": [
            {k: e.payload.get(k) for k in ("tool", "params", "status", "outcome")}
            for e in of_kind(entries, "execution_finished", "verification")
        ],
    }


def deterministic_sections(facts: dict[str, Any], entries: Sequence[AuditEntry]) -> dict[str, Any]:
    """The four review sections from the recorded diagnoses, checks, actions and escalation."""
    causes = [d for d in facts["diagnoses"] if d.get("role") == "cause"]
    impacts = [d for d in facts["diagnoses"] if d.get("role") == "impact"]
    checks = [e.payload for e in of_kind(entries, "tool_call")]
    root = " ".join(f"{d.get('id')}: {d.get('explanation')}" for d in causes) or NOT_RECORDED
    impact_text = " ".join(f"{d.get('id')}: {d.get('explanation')}" for d in impacts)
    slis = [c.get("summary") for c in checks if c.get("tool") == "slis" and c.get("summary")]
    impact = " ".join(filter(None, [impact_text, *slis[:2]])) or NOT_RECORDED
    tools = sorted({str(c.get("tool")) for c in checks if c.get("status") == "ok"})
    prevention = (
        f"The checks that found it ({', '.join(tools)}) ran only after the alert; an alert or a "
        "pre-deployment check on the same evidence would have caught it earlier."
        if tools
        else NOT_RECORDED
    )
    follow_ups: list[dict[str, str]] = []
    escalation = facts.get("escalation")
    if isinstance(escalation, dict) and escalation.get("to"):
        reason = str(escalation.get("reason", ""))[:300]
        follow_ups.append({"action": reason or "take over the incident", "owner": escalation["to"]})
    for d in causes:
        follow_ups.append({"action": f"prevent a repeat of {d.get('id')}", "owner": "ml-on-call"})
    return {
        "root_cause": root,
        "impact": impact,
        "prevention": prevention,
        "follow_ups": follow_ups,
    }


async def draft_postmortem(
    assistant: Assistant | None, incident: Incident, entries: Sequence[AuditEntry]
) -> Postmortem:
    """The draft for ``incident`` from its audit ``entries``."""
    facts = _facts(incident, entries)
    sections = deterministic_sections(facts, entries)
    source: Literal["llm", "audit"] = "audit"
    if assistant is not None and entries:
        answer = await assistant.ask(
            incident.id,
            "postmortem",
            {
                "incident": incident.id,
                "facts": json.dumps(facts, default=str)[:3000],
                "untrusted": timeline(entries),
            },
            check=lambda a: refuse_echo(a["root_cause"], a["impact"], a["prevention"]),
            scope="request",
        )
        if answer is not None:
            sections, source = answer, "llm"
    return Postmortem(
        incident_id=incident.id,
        target=incident.target,
        final_state=str(facts["final_state"]),
        root_cause=str(sections["root_cause"]),
        impact=str(sections["impact"]),
        prevention=str(sections["prevention"]),
        follow_ups=[FollowUp.model_validate(f) for f in sections["follow_ups"]],
        timeline=[timeline_line(e) for e in entries if e.kind != "llm_call"],
        source=source,
    )
