"""`model-incident demo`: the whole product on the embedded sandbox (no network, keys or Slack)."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import typer
from rich.console import Console

from bot.agent.types import IncidentOutcome
from bot.commands.audit import _entries, _verify
from bot.commands.diagnose import _diagnose, make_decider
from bot.console.render import timeline_table
from bot.settings import Settings

console = Console()

DEMO_TARGET = "sentiment-endpoint"
DEMO_FAULT = "performance.new_version_regression"
DEMO_APPROVER = "demo-approver"


def demo(
    target: str = typer.Option(DEMO_TARGET, help="endpoint or agent to break"),
    fault: str = typer.Option(DEMO_FAULT, help="sandbox fault to inject"),
    keep: bool = typer.Option(False, help="keep the demo's database and sandbox files"),
) -> None:
    """Start the sandbox, inject a fault and run the full incident: steps, diagnosis, proposal with
    diff, approval, execution, verification and the audit timeline."""
    workdir = Path(tempfile.mkdtemp(prefix="model-incident-demo-"))
    settings = Settings(platform="sandbox", state_dir=workdir, approvers=[DEMO_APPROVER])
    interactive = sys.stdin.isatty()
    if not interactive:
        console.print(
            f"[yellow]stdin is not a terminal: proposals are approved as "
            f"[bold]{DEMO_APPROVER}[/bold] (a demo approver).[/]"
        )
    console.print(f"sandbox fault injected: [bold]{fault}[/] on [bold]{target}[/]")
    decide = make_decider(
        approve_as=None if interactive else DEMO_APPROVER,
        reject_as=None,
        dry_run=False,
        interactive=interactive,
    )
    outcome: IncidentOutcome = asyncio.run(
        _diagnose(target, [f"{fault}:{target}"], decide, settings)
    )
    console.rule("audit timeline")
    url = settings.resolved_database_url()
    entries = asyncio.run(_entries(url, outcome.incident_id))
    Console(width=max(console.width, 150)).print(timeline_table(entries))
    report = asyncio.run(_verify(url))
    verdict = "[green]intact[/]" if report.ok else f"[red]BROKEN at seq {report.first_bad_seq}[/]"
    console.print(f"audit chain {verdict}: {report.rows_checked} rows hash-chained")
    if keep:
        console.print(f"files kept in {workdir}")
    else:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
