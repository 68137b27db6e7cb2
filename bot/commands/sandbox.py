"""`model-incident sandbox up`: serve the embedded local platform over HTTP, optionally faulted.

uvicorn, rich and the sandbox are imported inside the command, not at start-up of the CLI.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)


def parse_fault(spec: str) -> tuple[str, str | None]:
    """``"ID[:TARGET]"`` as ``(fault_id, target or None)``."""
    fault_id, _, target = spec.partition(":")
    return fault_id, target or None


@app.command("up")
def up(
    port: Annotated[int, typer.Option(help="port to listen on (127.0.0.1)")] = 8710,
    fault: Annotated[
        list[str] | None,
        typer.Option("--fault", help="inject a fault: ID[:TARGET] (repeatable; in order)"),
    ] = None,
    workdir: Annotated[
        Path | None, typer.Option(help="where the MLflow registry lives (default: a temp dir)")
    ] = None,
) -> None:
    """Run the sandbox: Databricks serving, agent gateway, Prometheus, Mistral and MLflow."""
    import uvicorn
    from rich.console import Console

    from bot.startup import freeze_startup_heap
    from sandbox.faults import FAULTS
    from sandbox.runtime import Sandbox

    console = Console()
    faults = [parse_fault(spec) for spec in fault or []]
    unknown = [fault_id for fault_id, _ in faults if fault_id not in FAULTS]
    if unknown:
        console.print(f"[red]unknown fault(s): {', '.join(unknown)}[/red]")
        console.print("known: " + ", ".join(sorted(FAULTS)))
        raise typer.Exit(2)

    async def serve() -> None:
        sandbox = await Sandbox.start(workdir=workdir)
        for fault_id, target in faults:
            await sandbox.inject(fault_id, target)
        base = f"http://127.0.0.1:{port}"
        console.print(f"[bold]sandbox[/bold] on {base} (workdir {sandbox.workdir})")
        for name, path in [
            ("Databricks", ""),
            ("gateway", "/gateway"),
            ("Prometheus", "/prometheus"),
            ("Mistral", "/mistral"),
            ("exporter", "/metrics"),
            ("control", "/sandbox"),
        ]:
            console.print(f"  {name:<11} {base}{path}")
        if faults:
            console.print("  faults      " + ", ".join(f"{f}:{t or '-'}" for f, t in faults))
        console.print("\nPoint the bot at it:")
        console.print(
            "\n".join(
                [
                    "  export PLATFORM=remote",
                    f"  export DATABRICKS_HOST={base}",
                    f"  export GATEWAY_URL={base}/gateway",
                    f"  export PROMETHEUS_URL={base}/prometheus",
                    f"  export MISTRAL_SERVER_URL={base}/mistral",
                    "  export MISTRAL_API_KEY=sandbox",
                    f"  export MLFLOW_TRACKING_URI={sandbox.tracking_uri}",
                ]
            ),
            highlight=False,
            soft_wrap=True,
        )
        config = uvicorn.Config(sandbox.app, host="127.0.0.1", port=port, log_level="warning")
        freeze_startup_heap()
        await uvicorn.Server(config).serve()

    asyncio.run(serve())
