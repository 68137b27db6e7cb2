"""`model-incident postmortem INCIDENT`: a postmortem draft from the incident's audit timeline.

The store and the assistant are imported inside the command, not at start-up of the CLI.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer


async def _draft(incident_id: str) -> str | None:
    from contextlib import AsyncExitStack

    from bot.llm.postmortem import draft_postmortem
    from bot.llm.setup import endpoint_from_settings, open_assistant
    from bot.settings import Settings
    from bot.store import open_store

    settings = Settings()
    store = await open_store(settings.resolved_database_url())
    try:
        incident = await store.get_incident(incident_id)
        if incident is None:
            return None
        entries = await store.list_audit(incident_id=incident_id)
        async with AsyncExitStack() as stack:
            assistant = None
            if settings.llm_mode != "off":
                assistant = await stack.enter_async_context(
                    open_assistant(settings, store, endpoint_from_settings(settings))
                )
            draft = await draft_postmortem(assistant, incident, entries)
        return draft.markdown()
    finally:
        await store.close()


def postmortem(
    incident: str = typer.Argument(..., help="the incident id (inc-...)"),
    out: Path | None = typer.Option(None, "--out", help="write the Markdown draft here"),
) -> None:
    """Draft a postmortem from the audit timeline (written by the LLM when LLM_MODE is on).
    Exit 2 when there is no such incident."""
    text = asyncio.run(_draft(incident))
    if text is None:
        typer.echo(f"no incident {incident}", err=True)
        raise typer.Exit(2)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
        typer.echo(f"postmortem draft written to {out}")
    else:
        typer.echo(text)
