"""Block Kit for the incident thread: plain functions from data to Slack's JSON.

All text that came from outside (target names, alert text, model descriptions, log lines, error
messages) goes through :func:`escape`, so it can neither mention anyone (``<!channel>``, ``<@U1>``)
nor break the mrkdwn around it.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from bot.agent.events import StepEvent
from bot.agent.types import IncidentOutcome
from bot.domain import Proposal

APPROVE = "proposal_approve"
REJECT = "proposal_reject"
_MAX_TEXT = 2900  # a section's text may hold 3,000 characters
_STATUS_ICON = {"ok": "✅", "error": "❌", "no_data": "⚠️", "pending": "⏳"}
_KIND_ICON = {
    "select": "➡️",
    "check": "🔎",
    "diagnosis": "🩺",
    "advice": "📝",
    "escalate": "📣",
    "proposal": "✋",
    "decision": "⚖️",
    "execution": "⚙️",
    "action": "⚙️",
    "verify": "🔁",
}
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def escape(text: object, limit: int = _MAX_TEXT) -> str:
    """Untrusted text as inert mrkdwn: ``& < >`` escaped (Slack's own rule, which also disarms
    ``<!channel>``, user mentions and links), backticks disarmed, control characters removed,
    length bounded."""
    value = _CONTROLS.sub("", str(text))
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # A backtick from outside could open a code span or fence that swallows the rest of the
    # message (or close the one it is shown in): it is shown as a look-alike instead.
    value = value.replace("`", "ˋ")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:_MAX_TEXT]}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:_MAX_TEXT]}]}


def incident_message(
    incident_id: str, target: str, requester: str, *, dry_run: bool = False
) -> dict[str, Any]:
    """The channel message that opens an incident; its thread carries everything else."""
    mode = " (dry run: nothing will be changed)" if dry_run else ""
    text = f"Incident on {escape(target, 200)}{mode}"
    return {
        "text": text,
        "blocks": [
            _section(f":rotating_light: *Incident on `{escape(target, 200)}`*{mode}"),
            _context(f"`{incident_id}` · opened by <@{escape(requester, 40)}>"),
        ],
    }


def step_line(event: StepEvent) -> str:
    """One runbook step as one line of the progress message."""
    icon = _KIND_ICON.get(event.kind, "•")
    status = f" {_STATUS_ICON.get(event.status or '', '')}" if event.status else ""
    line = f"{icon} *{escape(event.title, 200)}*{status}"
    if event.summary:
        line += f"\n      {escape(event.summary, 300)}"
    return line


def progress_message(events: list[StepEvent], *, finished: bool) -> dict[str, Any]:
    """The walk so far, as one message edited in place (newest steps kept when it grows)."""
    lines = [step_line(e) for e in events]
    body = "\n".join(lines)
    while len(body) > _MAX_TEXT and len(lines) > 1:
        lines = lines[1:]
        body = "… earlier steps in the audit log\n" + "\n".join(lines)
    head = "Runbook walk" + (" (done)" if finished else " (running…)")
    return {"text": head, "blocks": [_section(f"*{head}*"), _section(body or "_starting…_")]}


# ``details`` and ``output`` of a task card hold at most 256 characters each.
_CHUNK_TEXT = 256


def stream_chunk(event: StepEvent) -> dict[str, Any]:
    """A step as a task card of Slack's agent streaming (``task_update`` chunk): the step's
    title and status, the tool and its status as details, what it found as output."""
    status = {"error": "error", "pending": "in_progress"}.get(event.status or "", "complete")
    chunk: dict[str, Any] = {
        "type": "task_update",
        "id": f"step-{event.seq}",
        "title": escape(event.title, 200),
        "status": status,
    }
    if event.tool:
        chunk["details"] = escape(f"{event.tool}: {event.status or 'done'}", _CHUNK_TEXT)
    if event.summary:
        chunk["output"] = escape(event.summary, _CHUNK_TEXT)
    return chunk


def _diff_lines(diff: list[dict[str, Any]]) -> str:
    rows = [
        f"• `{escape(d.get('path', ''), 80)}`: {escape(_short(d.get('before')), 80)} → "
        f"{escape(_short(d.get('after')), 80)}"
        for d in diff[:15]
    ]
    more = f"\n… and {len(diff) - 15} more" if len(diff) > 15 else ""
    return "\n".join(rows) + more if rows else "_no difference: the change is a no-op_"


def _short(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _evidence(steps: list[StepEvent]) -> str:
    """The checks and diagnosis that led to a proposal (the last few), one line each."""
    cited = [e for e in steps if e.kind in ("check", "diagnosis")][-4:]
    return "\n".join(step_line(e) for e in cited)


def proposal_message(
    proposal: Proposal, *, why: str = "", steps: list[StepEvent] | None = None
) -> dict[str, Any]:
    """A proposed change: what and why (with the evidence the walk cited), the dry-run diff,
    risk, key, Approve and Reject."""
    diff = list(proposal.dry_run.get("diff") or [])
    expires = proposal.expires_at.astimezone().strftime("%H:%M:%S")
    because = escape(why or proposal.diagnosis or "the runbook", 600)
    evidence = _evidence(steps or [])
    if evidence:
        because += f"\n*Evidence:*\n{evidence}"
    return {
        "text": f"Proposed change: {escape(proposal.title, 200)}",
        "blocks": [
            _section(f"✋ *Proposed change:* {escape(proposal.title, 300)}\n*Why:* {because}"),
            _section(f"*Dry run, what would change:*\n{_diff_lines(diff)}"),
            _context(
                f"risk *{proposal.risk.value}* · tool `{proposal.tool}` · key "
                f"`{escape(proposal.idempotency_key, 120)}` · expires {expires}"
            ),
            {
                "type": "actions",
                "block_id": "proposal",
                "elements": [
                    {
                        "type": "button",
                        "action_id": APPROVE,
                        "style": "primary",
                        "text": {"type": "plain_text", "text": "Approve"},
                        "value": proposal.proposal_id,
                        "confirm": {
                            "title": {"type": "plain_text", "text": "Apply this change?"},
                            "text": {"type": "mrkdwn", "text": escape(proposal.title, 300)},
                            "confirm": {"type": "plain_text", "text": "Approve"},
                            "deny": {"type": "plain_text", "text": "Cancel"},
                        },
                    },
                    {
                        "type": "button",
                        "action_id": REJECT,
                        "style": "danger",
                        "text": {"type": "plain_text", "text": "Reject"},
                        "value": proposal.proposal_id,
                    },
                ],
            },
        ],
    }


def decided_message(title: str, proposal_id: str, verdict: str, actor: str) -> dict[str, Any]:
    """The proposal after its answer: who decided and when; the buttons are gone."""
    at = datetime.now().strftime("%H:%M:%S")
    who = f"<@{escape(actor, 40)}>" if actor and actor != "model-incident-bot" else "the bot"
    return {
        "text": f"{verdict}: {escape(title, 200)}",
        "blocks": [
            _section(f"*{verdict.capitalize()}:* {escape(title, 300)}"),
            _context(f"{verdict} by {who} at {at} · `{escape(proposal_id, 100)}`"),
        ],
    }


def expired_message(title: str, proposal_id: str) -> dict[str, Any]:
    """A proposal nobody answered in time: shown as expired, its buttons gone."""
    return {
        "text": f"expired: {escape(title, 200)}",
        "blocks": [
            _section(f"*Expired:* {escape(title, 300)}"),
            _context(f"nobody answered in time; nothing was changed · `{proposal_id}`"),
        ],
    }


def outcome_message(outcome: IncidentOutcome) -> dict[str, Any]:
    """The end of the incident: final state, causes, what was done, advice, escalation."""
    causes = ", ".join(f"`{escape(d.id, 100)}`" for d in outcome.diagnoses if d.role == "cause")
    lines = [f"*Final state:* {outcome.final_state.value}"]
    if causes:
        lines.append(f"*Cause:* {causes}")
    for action in outcome.actions:
        done = "executed" if action.executed else (action.decision or "not executed")
        verified = f", {action.verified}" if action.verified else ""
        lines.append(f"• `{action.tool}`: {done}{verified}")
    if outcome.escalation:
        lines.append(
            f"*Escalated to* {escape(outcome.escalation.get('to', ''), 100)}: "
            f"{escape(outcome.escalation.get('reason', ''), 500)}"
        )
    blocks = [_section("\n".join(lines))]
    if outcome.summary:
        blocks.append(_section(escape(outcome.summary)))
    for advice in outcome.advice[:3]:
        blocks.append(_section(f"📝 {escape(advice)}"))
    return {"text": f"Incident {outcome.final_state.value}", "blocks": blocks}
