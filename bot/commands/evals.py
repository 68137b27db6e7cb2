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
    llm: str = typer.Option(
        "off", "--llm", help="off (deterministic), mistral or openai-compatible (scripted model)"
    ),
    llm_unreachable: bool = typer.Option(
        False, "--llm-unreachable", help="with --llm: every LLM call fails (the fallback)"
    ),
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
    from evals.llm import MODES, llm_environment, print_usage, scenario_dirs, usage
    from evals.report import html_report, print_tables
    from evals.results import ScenarioResult
    from evals.runner import DEFAULT_SCENARIOS, build_report, load_all, run_all
    from evals.scenario import CATEGORIES

    console = Console()
    if llm not in MODES:
        raise typer.BadParameter(f"--llm must be one of {', '.join(MODES)}")
    if category is not None and category not in CATEGORIES:
        raise typer.BadParameter(f"--category must be one of {', '.join(CATEGORIES)}")
    gates = load_gates(gates_file or GATES_FILE)
    dirs = scenario_dirs(llm, llm_unreachable, scenarios, DEFAULT_SCENARIOS)
    loaded, errors = load_all(dirs, category)
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

        with llm_environment(llm, unreachable=llm_unreachable) as stand_in:
            results = run_all(loaded, llm=llm, workers=workers, on_done=done)
    report = build_report(results, llm=llm, seconds=time.perf_counter() - started)
    if stand_in is not None:
        report["llm_usage"] = usage(stand_in, sum(len(r.final_states) for r in results))
    failures = failed_gates(report["metrics"], gates)
    report["gates_failed"] = failures
    print_tables(console, report, failures)
    if stand_in is not None:
        print_usage(console, report)
    if json_out:
        json_out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    if report_out:
        report_out.write_text(html_report(report, failures), encoding="utf-8")
    raise typer.Exit(1 if failures else 0)
