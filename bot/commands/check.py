"""`model-incident check MODEL`"""

from __future__ import annotations

import typer


def check(target: str = typer.Argument(..., help="endpoint, agent or registered model")) -> None:
    """Print every read-only tool's finding for one target."""
    raise typer.Exit(2)
