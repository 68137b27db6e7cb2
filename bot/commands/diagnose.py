"""`model-incident diagnose TARGET` and `model-incident resume INCIDENT`: run an incident from the
terminal, showing each step as it happens and asking for approval of every change.

Exit codes (also in README.md): 0 the incident ended (resolved, healthy, advice given or
escalated); 1 a change was made but the service did not recover; 2 bad input, nothing started;
3 a proposal is still waiting (an answer was refused, or none was given).

Heavy modules (the graph, the store, the sandbox) are imported inside the commands, so that
``model-incident --help`` does not pay for them.
"""

from __future__ import annotations

import asyncio
import functools
import getpass
import sys
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from bot.agent.events import StepEvent
    from bot.agent.types import Refusal
    from bot.domain import Proposal
    from bot.service.incidents import Decider
    from bot.service.models import Answer, IncidentView
    from bot.settings import Settings

EXIT_NOT_RECOVERED = 1
EXIT_BAD_INPUT = 2
EXIT_WAITING = 3

MAX_VERIFY_WAIT = typer.Option(
    None,
    "--max-verify-wait",
    min=0,
    help="cap on each wait before a verify check, in seconds (default: the runbook's; none on "
    "the embedded sandbox)",
)
REQUESTER = typer.Option(
    None, "--as", help="who opens the incident (default: the login name); recorded as requester"
)


@functools.cache
def console() -> Console:
    from rich.console import Console

    return Console()


def fail(message: str) -> typer.Exit:
    """A one-line error on stderr and exit code 2, before anything starts."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


def checked_target(target: str) -> str:
    from bot.triggers.alertmanager import validate_target

    try:
        return validate_target(target, field="TARGET")
    except ValueError as exc:
        raise fail(str(exc)) from None


def make_decider(
    *, approve_as: str | None, reject_as: str | None, dry_run: bool, interactive: bool
) -> Decider:
    """How proposals are answered from the terminal. ``None`` leaves a proposal waiting."""
    from bot.console import render
    from bot.console.text import safe
    from bot.domain import DecisionKind
    from bot.service.models import Answer

    async def decide(proposal: Proposal, refusal: Refusal | None) -> Answer | None:
        if refusal is not None:
            console().print(f"[red]refused[/] ({refusal.code}): {safe(refusal.message)}")
        else:
            render.render_proposal(console(), proposal)
        if dry_run:
            console().print("[yellow]--dry-run: nothing is executed; the proposal is rejected.[/]")
            return Answer(
                proposal_id=proposal.proposal_id,
                decision=DecisionKind.REJECT,
                actor="dry-run",
                source="dry-run",
                reason="dry run",
            )
        actor, kind = approve_as or reject_as, DecisionKind.APPROVE if approve_as else None
        if reject_as:
            kind = DecisionKind.REJECT
        if actor is None or kind is None:
            if not interactive:
                if refusal is None:
                    console().print(
                        "a change needs approval: pass --approve-as USER or --reject-as USER "
                        "(stdin is not a terminal)"
                    )
                return None
            actor = typer.prompt("Your user id")
            approve = typer.confirm(f"Approve '{proposal.title}'?", default=False)
            kind = DecisionKind.APPROVE if approve else DecisionKind.REJECT
        console().print(f"{kind.value} as [bold]{safe(actor)}[/]")
        return Answer(proposal_id=proposal.proposal_id, decision=kind, actor=actor, source="cli")

    return decide


async def print_step(event: StepEvent) -> None:
    from bot.console import render

    render.render_step(console(), event.model_dump(mode="json"))


def exit_code(view: IncidentView) -> int:
    """The documented exit code of a finished or waiting incident."""
    if view.outcome is None:
        return EXIT_WAITING
    return EXIT_NOT_RECOVERED if view.outcome.final_state.value == "not_recovered" else 0


def report(view: IncidentView) -> int:
    """Print where the incident ended up; return its exit code."""
    from bot.console import render

    if view.outcome is not None:
        render.render_outcome(console(), view.outcome)
    elif view.pending is not None:
        console().print(
            f"[yellow]incident {view.incident_id} waits on proposal "
            f"{view.pending.proposal_id}[/]: answer with `model-incident resume "
            f"{view.incident_id} --approve-as USER` (an approver the policy allows)"
        )
    return exit_code(view)


async def run_diagnose(
    settings: Settings, target: str, requester: str, faults: list[str], decide: Decider
) -> IncidentView:
    """Open the incident, drive it with ``decide``, print where it ended up."""
    from bot.agent.types import Trigger
    from bot.compose import open_app
    from bot.console.text import safe
    from bot.service.models import OpenRequest

    async with open_app(settings, faults=faults) as app:
        console().rule(f"incident: {safe(target)}")
        request = OpenRequest(trigger=Trigger(source="cli", target=target), requester=requester)
        view = await app.service.drive(request, decide, on_event=print_step)
        report(view)
        return view


def load_settings(max_verify_wait: float | None) -> Settings:
    from pydantic import ValidationError

    from bot.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]).upper()
        raise fail(f"setting {where}: {first['msg']}") from None
    if max_verify_wait is not None:
        settings = settings.model_copy(update={"max_verify_wait_s": max_verify_wait})
    return settings


def diagnose(
    target: str = typer.Argument(..., help="serving endpoint or agent name"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show proposals, never execute"),
    approve_as: str | None = typer.Option(None, help="approve every proposal as this user"),
    reject_as: str | None = typer.Option(None, help="reject every proposal as this user"),
    requester: str | None = REQUESTER,
    fault: list[str] = typer.Option([], help="sandbox fault to inject first: ID[:TARGET]"),
    max_verify_wait: float | None = MAX_VERIFY_WAIT,
) -> None:
    """Run an incident against the configured platform (the embedded sandbox by default)."""
    name = checked_target(target)
    settings = load_settings(max_verify_wait)
    if fault and settings.platform != "sandbox":
        raise fail("--fault needs the embedded sandbox (PLATFORM=sandbox)")
    decide = make_decider(
        approve_as=approve_as, reject_as=reject_as, dry_run=dry_run, interactive=sys.stdin.isatty()
    )
    who = requester or getpass.getuser()
    view = asyncio.run(run_diagnose(settings, name, who, fault, decide))
    raise typer.Exit(exit_code(view))


async def run_resume(settings: Settings, incident_id: str, decide: Decider) -> int:
    from bot.compose import open_app

    async with open_app(settings) as app:
        view = await app.service.resume(incident_id, on_event=print_step)
        view = await app.service.drive_from(view, decide, on_event=print_step)
        return report(view)


def resume(
    incident_id: str = typer.Argument(..., help="the incident to pick up"),
    approve_as: str | None = typer.Option(None, help="approve pending proposals as this user"),
    reject_as: str | None = typer.Option(None, help="reject pending proposals as this user"),
    max_verify_wait: float | None = MAX_VERIFY_WAIT,
) -> None:
    """Pick up an incident after a restart: it waits at the same proposal, or finishes its step."""
    settings = load_settings(max_verify_wait)
    if settings.platform == "sandbox":
        # The embedded sandbox lives as long as one command: the incident's platform is gone.
        raise fail(
            "resume needs a platform that outlives the first process: run `model-incident "
            "sandbox up` (or point at a real platform) and set PLATFORM=remote plus the URLs it "
            "prints, for both `diagnose` and `resume`"
        )
    decide = make_decider(
        approve_as=approve_as, reject_as=reject_as, dry_run=False, interactive=sys.stdin.isatty()
    )
    try:
        code = asyncio.run(run_resume(settings, incident_id, decide))
    except LookupError as exc:
        raise fail(
            f"{exc} ({settings.resolved_database_url()}); `model-incident audit show` lists what "
            "an incident did"
        ) from None
    raise typer.Exit(code)
