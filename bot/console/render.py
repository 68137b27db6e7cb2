"""Terminal rendering of steps, proposals, outcomes and audit timelines.

Every value shown here may carry text from outside (target names, upstream messages, log lines,
alert annotations, approver ids), so every one goes through :func:`bot.console.text.safe` (or
:func:`_short`, which calls it) before it reaches a markup string, a table cell or a title.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from bot.agent.types import IncidentOutcome
from bot.console.text import safe
from bot.domain import Proposal
from bot.store.models import AuditEntry

_ICONS = {
    "select": "→",
    "check": "?",
    "verify": "✓",
    "diagnosis": "!",
    "advice": "✎",
    "escalate": "⇪",
    "proposal": "✋",
    "decision": "⚖",
    "execution": "⚙",
    "action": "⚙",
}
_STYLE = {"ok": "green", "error": "red", "no_data": "yellow", "pending": "cyan"}


def _short(value: Any, limit: int = 60) -> str:
    """``value`` as safe text of at most ``limit`` characters (cut before escaping, so that an
    escape is never cut in half)."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return safe(text if len(text) <= limit else text[: limit - 1] + "…")


def render_step(console: Console, step: dict[str, Any]) -> None:
    """One line (or two) per step, as it happens."""
    kind = str(step.get("kind", ""))
    icon = _ICONS.get(kind, "·")
    status = step.get("status")
    tag = f"[{_STYLE.get(str(status), 'white')}]{safe(status)}[/]" if status else ""
    title = safe(step.get("title", ""))
    console.print(f" {icon} [bold]{safe(kind):<9}[/] {title} {tag}", highlight=False)
    summary = step.get("summary")
    if summary:
        console.print(f"     {safe(summary)}", style="dim", highlight=False)
    if step.get("branch") and kind in ("check", "verify"):
        branch, target = safe(step["branch"]), safe(step.get("next"))
        console.print(f"     branch: {branch} → {target}", style="dim", highlight=False)


def diff_table(diff: list[dict[str, Any]]) -> Table:
    table = Table("field", "before", "after", show_edge=False, pad_edge=False)
    for change in diff:
        table.add_row(
            safe(change.get("path", "")), _short(change.get("before")), _short(change.get("after"))
        )
    return table


def render_proposal(console: Console, proposal: Proposal) -> None:
    """The change, its parameters, the dry-run diff and the risk."""
    body = Table.grid(padding=(0, 1))
    body.add_row("action", f"[bold]{safe(proposal.title)}[/]")
    body.add_row("tool", safe(proposal.tool))
    body.add_row("params", _short(proposal.params, 120))
    body.add_row("risk", safe(proposal.risk.value))
    body.add_row("because", safe(proposal.diagnosis or ""))
    body.add_row("key", safe(proposal.idempotency_key))
    title = f"Proposal {safe(proposal.proposal_id)}"
    console.print(Panel(body, title=title, border_style="cyan"))
    diff = proposal.dry_run.get("diff") or []
    if diff:
        console.print(
            Panel(diff_table(diff), title="dry run: what would change", border_style="dim")
        )


def render_outcome(console: Console, outcome: IncidentOutcome) -> None:
    """Where the incident ended: causes, actions, advice, escalation and the final state."""
    colour = {"resolved": "green", "escalated": "yellow", "not_recovered": "red"}.get(
        outcome.final_state.value, "cyan"
    )
    grid = Table.grid(padding=(0, 1))
    grid.add_row("incident", safe(outcome.incident_id))
    grid.add_row("target", f"{safe(outcome.target)} ({safe(outcome.target_kind)})")
    grid.add_row("runbook", safe(outcome.runbook or "-"))
    for d in outcome.diagnoses:
        grid.add_row(safe(d.role), f"[bold]{safe(d.id)}[/] {safe(d.explanation)}")
    for a in outcome.actions:
        verdict = a.verified or a.execution_status or (a.decision.value if a.decision else "")
        done = f"{safe(verdict)} {safe(a.verification)}"
        grid.add_row("action", f"{safe(a.tool)} {_short(a.params, 80)} → {done}")
    for line in outcome.advice:
        grid.add_row("advice", safe(line))
    if outcome.escalation:
        to, reason = outcome.escalation.get("to"), outcome.escalation.get("reason")
        grid.add_row("escalated", f"{safe(to)}: {safe(reason)}")
    grid.add_row("final", f"[bold {colour}]{safe(outcome.final_state.value)}[/]")
    console.print(Panel(grid, title="Outcome", border_style=colour))


def timeline_table(entries: Sequence[AuditEntry]) -> Table:
    """An incident's audit entries, oldest first."""
    table = Table("seq", "at (UTC)", "kind", "actor", "details", show_edge=False)
    for entry in entries:
        table.add_row(
            str(entry.seq),
            entry.at.strftime("%H:%M:%S"),
            safe(entry.kind),
            safe(entry.actor),
            _short(entry.payload, 90),
        )
    return table
