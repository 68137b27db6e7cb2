"""`model-incident eval`"""

from __future__ import annotations

import typer


def eval_command() -> None:
    """Run the eval suite."""
    raise typer.Exit(2)
