"""Terminal rendering of steps, proposals, outcomes and audit timelines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from bot.agent.types import IncidentOutcome, Proposal
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
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_step(console: Console, step: dict[str, Any]) -> None:
    """One line (or two) per step, as it happens."""
    kind = str(step.get("kind", ""))
    icon = _ICONS.get(kind, "·")
    status = step.get("status")
    tag = f"[{_STYLE.get(str(status), 'white')}]{status}[/]" if status else ""
    title = step.get("title", "")
    console.print(f" {icon} [bold]{kind:<9}[/] {title} {tag}", highlight=False)
    summary = step.get("summary")
    if summary:
        console.print(f"     {summary}", style="dim", highlight=False)
    if step.get("branch") and kind in ("check", "verify"):
        console.print(
            f"     branch: {step['branch']} → {step.get('next')}", style="dim", highlight=False
        )


def diff_table(diff: list[dict[str, Any]]) -> Table:
    table = Table("field", "before", "after", show_edge=False, pad_edge=False)
    for change in diff:
        table.add_row(
            str(change.get("path", "")), _short(change.get("before")), _short(change.get("after"))
        )
    return table


def render_proposal(console: Console, proposal: Proposal) -> None:
    """The change, its parameters, the dry-run diff and the risk."""
    body = Table.grid(padding=(0, 1))
    body.add_row("action", f"[bold]{proposal.title}[/]")
    body.add_row("tool", proposal.tool)
    body.add_row("params", _short(proposal.params, 120))
    body.add_row("risk", proposal.risk.value)
    body.add_row("because", proposal.diagnosis or "")
    body.add_row("key", proposal.idempotency_key)
    console.print(Panel(body, title=f"Proposal {proposal.proposal_id}", border_style="cyan"))
    diff = proposal.dry_run.get("diff") or []
    if diff:
        console.print(
            Panel(diff_table(diff), title="dry run: what would change", border_style="dim")
        )


def render_outcome(console: Console, outcome: IncidentOutcome) -> None:
    colour = {"resolved": "green", "escalated": "yellow", "not_recovered": "red"}.get(
        outcome.final_state.value, "cyan"
    )
    grid = Table.grid(padding=(0, 1))
    grid.add_row("incident", outcome.incident_id)
    grid.add_row("target", f"{outcome.target} ({outcome.target_kind})")
    grid.add_row("runbook", outcome.runbook or "-")
    for d in outcome.diagnoses:
        grid.add_row(d.role, f"[bold]{d.id}[/] {d.explanation}")
    for a in outcome.actions:
        verdict = a.verified or a.execution_status or (a.decision.value if a.decision else "")
        grid.add_row("action", f"{a.tool} {_short(a.params, 80)} → {verdict} {a.verification}")
    for line in outcome.advice:
        grid.add_row("advice", line)
    if outcome.escalation:
        grid.add_row(
            "escalated", f"{outcome.escalation.get('to')}: {outcome.escalation.get('reason')}"
        )
    grid.add_row("final", f"[bold {colour}]{outcome.final_state.value}[/]")
    console.print(Panel(grid, title="Outcome", border_style=colour))


def timeline_table(entries: Sequence[AuditEntry]) -> Table:
    """An incident's audit entries, oldest first."""
    table = Table("seq", "at (UTC)", "kind", "actor", "details", show_edge=False)
    for entry in entries:
        table.add_row(
            str(entry.seq),
            entry.at.strftime("%H:%M:%S"),
            entry.kind,
            entry.actor,
            _short(entry.payload, 90),
        )
    return table
