"""`model-incident runbooks lint` and `model-incident runbooks show [ID]`.

Only typer and the standard library are imported here: the runbook code (and rich) load inside
the commands, so that the rest of the CLI does not pay for them at start-up.
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True)

_DIR = typer.Option(None, "--dir", help="runbook folder (default: runbooks/ of the repository)")


@app.command("lint")
def lint(directory: Path | None = _DIR) -> None:
    """Check every runbook against itself and the tool catalogue; exit 1 on any finding."""
    from rich.console import Console

    from bot.runbooks.lint import lint_dir
    from bot.runbooks.loader import default_runbook_dir

    console = Console()
    findings = lint_dir(directory or default_runbook_dir())
    for finding in findings:
        console.print(
            f"[bold]{finding.file}[/] node=[cyan]{finding.node or '-'}[/] "
            f"field=[cyan]{finding.field or '-'}[/]: {finding.message}",
            highlight=False,
            soft_wrap=True,
        )
    if findings:
        console.print(f"[red]{len(findings)} finding(s)[/]")
        raise typer.Exit(1)
    console.print("[green]runbooks lint clean[/]")


@app.command("show")
def show(
    runbook_id: str | None = typer.Argument(None, help="runbook id; all runbooks when omitted"),
    directory: Path | None = _DIR,
) -> None:
    """Print one runbook as a tree, or list them all."""
    from rich.console import Console

    from bot.console.runbooks import runbook_table, runbook_tree
    from bot.runbooks.loader import RunbookError, default_runbook_dir, load_runbooks

    console = Console()
    try:
        runbooks = load_runbooks(directory or default_runbook_dir())
    except RunbookError as exc:
        console.print(f"[red]{exc}[/]", highlight=False)
        raise typer.Exit(1) from None
    if runbook_id is None:
        console.print(runbook_table(runbooks))
        return
    if runbook_id not in runbooks.by_id:
        console.print(f"[red]no runbook {runbook_id!r}; known: {', '.join(runbooks.by_id)}[/]")
        raise typer.Exit(1)
    console.print(runbook_tree(runbooks.get(runbook_id)))
