"""`model-incident demo`"""

from __future__ import annotations

import typer


def demo() -> None:
    """Start the sandbox, inject a fault and run a full incident."""
    raise typer.Exit(2)
