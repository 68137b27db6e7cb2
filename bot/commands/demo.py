"""`model-incident demo`: the whole product on the embedded sandbox (no network, keys or Slack).

The agent, the sandbox and rich are imported inside the command, not at start-up of the CLI.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

import typer

DEMO_TARGET = "sentiment-endpoint"
DEMO_FAULT = "performance.new_version_regression"
DEMO_APPROVER = "demo-approver"
# The on-call engineer who opens the demo incident; a high-risk change needs someone else.
DEMO_REQUESTER = "demo-oncall"


def demo(
    target: str = typer.Option(DEMO_TARGET, help="endpoint or agent to break"),
    fault: str = typer.Option(DEMO_FAULT, help="sandbox fault to inject"),
    keep: bool = typer.Option(False, help="keep the demo's database and sandbox files"),
) -> None:
    """Start the sandbox, inject a fault and run the full incident: steps, diagnosis, proposal with
    diff, approval, execution, verification and the audit timeline."""
    from rich.console import Console

    from bot.commands.audit import _entries, _verify
    from bot.commands.diagnose import make_decider, run_diagnose
    from bot.console.render import timeline_table
    from bot.settings import Settings

    console = Console()
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
    view = asyncio.run(
        run_diagnose(settings, target, DEMO_REQUESTER, [f"{fault}:{target}"], decide)
    )
    console.rule("audit timeline")
    url = settings.resolved_database_url()
    entries = asyncio.run(_entries(url, view.incident_id))
    Console(width=max(console.width, 150)).print(timeline_table(entries))
    report = asyncio.run(_verify(url, settings))  # the demo's own audit key and anchor file
    verdict = "[green]intact[/]" if report.ok else f"[red]BROKEN at seq {report.first_bad_seq}[/]"
    console.print(f"audit chain {verdict}: {report.rows_checked} rows hash-chained")
    if keep:
        console.print(f"files kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
