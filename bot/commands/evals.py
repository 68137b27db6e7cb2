"""`model-incident eval`: run the eval scenarios against the agent and check the gates.

The eval code and rich are imported inside the command, not at start-up of the CLI.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer


def eval_command(
    scenarios: list[Path] = typer.Option(
        [], "--scenarios", help="scenario directory or file (repeatable); default: both public sets"
    ),
    category: str | None = typer.Option(None, "--category", help="run only this category"),
    llm: str = typer.Option("off", "--llm", help="off (deterministic) or mistral"),
    json_out: Path | None = typer.Option(None, "--json", help="write the JSON report here"),
    report_out: Path | None = typer.Option(None, "--report", help="write the HTML report here"),
    workers: int | None = typer.Option(None, "--workers", help="processes (default: CPU count)"),
    gates_file: Path | None = typer.Option(None, "--gates", help="thresholds (evals/gates.yaml)"),
) -> None:
    """Run the eval suite. Exit 2 on invalid scenarios, 1 when a gate fails, 0 otherwise."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from evals.gates import GATES_FILE, failed_gates, load_gates
    from evals.report import html_report, print_tables
    from evals.results import ScenarioResult
    from evals.runner import DEFAULT_SCENARIOS, build_report, load_all, run_all
    from evals.scenario import CATEGORIES

    console = Console()
    if llm not in ("off", "mistral"):
        raise typer.BadParameter("--llm must be off or mistral")
    if category is not None and category not in CATEGORIES:
        raise typer.BadParameter(f"--category must be one of {', '.join(CATEGORIES)}")
    gates = load_gates(gates_file or GATES_FILE)
    loaded, errors = load_all(scenarios or list(DEFAULT_SCENARIOS), category)
    if errors:
        for err in errors:
            console.print(f"[red]invalid scenario[/] {err}", soft_wrap=True)
        console.print(f"{len(errors)} invalid scenario file(s); nothing was run.")
        raise typer.Exit(2)
    if not loaded:
        console.print("no scenario to run")
        raise typer.Exit(2)
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("scenarios", total=len(loaded))

        def done(result: ScenarioResult) -> None:
            mark = "[green]pass[/]" if result.passed else "[red]FAIL[/]"
            progress.console.print(f"{mark} {result.category:<12} {result.id}")
            progress.advance(task)

        results = run_all(loaded, llm=llm, workers=workers, on_done=done)
    report = build_report(results, llm=llm, seconds=time.perf_counter() - started)
    failures = failed_gates(report["metrics"], gates)
    report["gates_failed"] = failures
    print_tables(console, report, failures)
    if json_out:
        json_out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    if report_out:
        report_out.write_text(html_report(report, failures), encoding="utf-8")
    raise typer.Exit(1 if failures else 0)
