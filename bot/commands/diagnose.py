"""`model-incident diagnose TARGET`"""

from __future__ import annotations

import typer


def diagnose(target: str = typer.Argument(..., help="endpoint or agent")) -> None:
    """Run an incident against the configured platform."""
    raise typer.Exit(2)
