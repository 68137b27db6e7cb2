"""`model-incident diagnose TARGET` and `model-incident resume INCIDENT`: run an incident from the
terminal, showing each step as it happens and asking for approval of every change."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import typer
from rich.console import Console

from bot.agent.run import Agent, open_agent
from bot.agent.types import Decision, DecisionKind, IncidentOutcome, Proposal, Trigger
from bot.console.render import render_outcome, render_proposal, render_step
from bot.runtime import open_platform
from bot.settings import Settings

console = Console()


def make_decider(
    *, approve_as: str | None, reject_as: str | None, dry_run: bool, interactive: bool
) -> Any:
    """How proposals are answered from the terminal."""

    async def decide(proposal: Proposal) -> Decision:
        render_proposal(console, proposal)
        if dry_run:
            console.print("[yellow]--dry-run: nothing is executed; the proposal is rejected.[/]")
            return Decision(
                proposal_id=proposal.proposal_id,
                decision=DecisionKind.REJECT,
                actor="dry-run",
                reason="dry run",
            )
        if approve_as:
            console.print(f"approving as [bold]{approve_as}[/]")
            return Decision(
                proposal_id=proposal.proposal_id, decision=DecisionKind.APPROVE, actor=approve_as
            )
        if reject_as:
            console.print(f"rejecting as [bold]{reject_as}[/]")
            return Decision(
                proposal_id=proposal.proposal_id, decision=DecisionKind.REJECT, actor=reject_as
            )
        if not interactive:
            raise typer.BadParameter(
                "a change needs approval: pass --approve-as USER or --reject-as USER "
                "(stdin is not a terminal)"
            )
        actor = typer.prompt("Your user id")
        approve = typer.confirm(f"Approve '{proposal.title}'?", default=False)
        return Decision(
            proposal_id=proposal.proposal_id,
            decision=DecisionKind.APPROVE if approve else DecisionKind.REJECT,
            actor=actor,
        )

    return decide


def verify_wait_cap(settings: Settings, override: float | None = None) -> float:
    """The sandbox applies changes at once; a real platform needs the runbook's settle time.
    ``override`` (``--max-verify-wait``) caps it, e.g. for a sandbox served over HTTP."""
    if override is not None:
        return override
    return 1.0 if settings.platform == "sandbox" else 600.0


MAX_VERIFY_WAIT = typer.Option(
    None,
    "--max-verify-wait",
    min=0,
    help="cap on each wait before a verify check, in seconds (default: the runbook's; 1 s on "
    "the embedded sandbox)",
)


async def _step(step: dict[str, Any]) -> None:
    render_step(console, step)


async def drive(agent: Agent, first: Proposal | IncidentOutcome, decide: Any) -> IncidentOutcome:
    step = first
    while isinstance(step, Proposal):
        step = await agent.resume(step.incident_id, await decide(step))
    return step


async def _diagnose(
    target: str,
    faults: list[str],
    decide: Any,
    settings: Settings,
    max_verify_wait_s: float | None = None,
) -> IncidentOutcome:
    cap = verify_wait_cap(settings, max_verify_wait_s)
    async with (
        open_platform(settings, faults) as handle,
        open_agent(settings, handle.platform, on_step=_step, max_verify_wait_s=cap) as agent,
    ):
        console.rule(f"incident: {target}")
        first = await agent.start(Trigger(source="cli", target=target))
        outcome = await drive(agent, first, decide)
        render_outcome(console, outcome)
        return outcome


def diagnose(
    target: str = typer.Argument(..., help="serving endpoint or agent name"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show proposals, never execute"),
    approve_as: str | None = typer.Option(None, help="approve every proposal as this user"),
    reject_as: str | None = typer.Option(None, help="reject every proposal as this user"),
    fault: list[str] = typer.Option([], help="sandbox fault to inject first: ID[:TARGET]"),
    max_verify_wait: float | None = MAX_VERIFY_WAIT,
) -> None:
    """Run an incident against the configured platform (the embedded sandbox by default)."""
    settings = Settings()
    decide = make_decider(
        approve_as=approve_as, reject_as=reject_as, dry_run=dry_run, interactive=sys.stdin.isatty()
    )
    outcome = asyncio.run(_diagnose(target, fault, decide, settings, max_verify_wait))
    raise typer.Exit(0 if outcome.final_state.value != "not_recovered" else 1)


async def _resume(
    incident_id: str, decide: Any, settings: Settings, max_verify_wait_s: float | None = None
) -> IncidentOutcome:
    cap = verify_wait_cap(settings, max_verify_wait_s)
    async with (
        open_platform(settings) as handle,
        open_agent(settings, handle.platform, on_step=_step, max_verify_wait_s=cap) as agent,
    ):
        first = await agent.continue_after_crash(incident_id)
        outcome = await drive(agent, first, decide)
        render_outcome(console, outcome)
        return outcome


def resume(
    incident_id: str = typer.Argument(..., help="the incident to pick up"),
    approve_as: str | None = typer.Option(None, help="approve pending proposals as this user"),
    reject_as: str | None = typer.Option(None, help="reject pending proposals as this user"),
    max_verify_wait: float | None = MAX_VERIFY_WAIT,
) -> None:
    """Pick up an incident after a restart: it waits at the same proposal, or finishes its step."""
    settings = Settings()
    if settings.platform == "sandbox":
        # The embedded sandbox lives as long as one command: the incident's platform is gone.
        raise typer.BadParameter(
            "resume needs a platform that outlives the first process: run `model-incident "
            "sandbox up` (or point at a real platform) and set PLATFORM=remote plus the URLs it "
            "prints, for both `diagnose` and `resume`",
            param_hint="PLATFORM",
        )
    decide = make_decider(
        approve_as=approve_as, reject_as=reject_as, dry_run=False, interactive=sys.stdin.isatty()
    )
    try:
        outcome = asyncio.run(_resume(incident_id, decide, settings, max_verify_wait))
    except LookupError as exc:
        raise typer.BadParameter(
            f"{exc} ({settings.resolved_database_url()}); `model-incident audit show` lists what "
            "an incident did",
            param_hint="INCIDENT",
        ) from None
    raise typer.Exit(0 if outcome.final_state.value != "not_recovered" else 1)
