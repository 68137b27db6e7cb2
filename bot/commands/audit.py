"""`model-incident audit ...`: verify, show and export the hash-chained audit log."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import IO

import typer
from rich.console import Console
from rich.table import Table

from bot import audit as audit_log
from bot.audit.verify import VerifyReport
from bot.settings import Settings
from bot.store import AuditEntry, open_store

app = typer.Typer(no_args_is_help=True)


def _database_url() -> str:
    return Settings().resolved_database_url()


async def _verify(database_url: str) -> VerifyReport:
    store = await open_store(database_url)
    try:
        return await audit_log.verify(store)
    finally:
        await store.close()


async def _entries(database_url: str, incident_id: str | None) -> list[AuditEntry]:
    store = await open_store(database_url)
    try:
        return await store.list_audit(incident_id=incident_id)
    finally:
        await store.close()


@app.command("verify")
def verify() -> None:
    """Recompute the hash chain; exit 1 and print the first bad row if it was tampered with."""
    report = asyncio.run(_verify(_database_url()))
    console = Console()
    if report.ok:
        console.print(f"audit chain ok: {report.rows_checked} rows, head seq {report.head_seq}")
        return
    console.print(
        f"[bold red]audit chain BROKEN[/] at seq {report.first_bad_seq}: {report.problem} "
        f"({report.detail}); {report.rows_checked} rows checked"
    )
    if report.bad_row is not None:
        console.print_json(report.bad_row.model_dump_json())
    raise typer.Exit(1)


@app.command("show")
def show(incident: str = typer.Argument(..., help="incident id")) -> None:
    """Print one incident's audit timeline."""
    entries = asyncio.run(_entries(_database_url(), incident))
    if not entries:
        typer.echo(f"no audit entries for incident {incident}", err=True)
        raise typer.Exit(1)
    table = Table(title=f"audit: {incident}")
    for column in ("seq", "at (UTC)", "kind", "actor", "details"):
        table.add_column(column)
    for entry in entries:
        details = json.dumps(entry.payload, sort_keys=True)
        table.add_row(
            str(entry.seq),
            entry.at.strftime("%Y-%m-%d %H:%M:%S"),
            entry.kind,
            entry.actor,
            details if len(details) <= 200 else details[:197] + "...",
        )
    Console(width=200).print(table)


def _write_jsonl(entries: list[AuditEntry], out: IO[str]) -> None:
    for entry in entries:
        out.write(entry.model_dump_json() + "\n")


@app.command("export")
def export(
    out: Path | None = typer.Option(None, "--out", help="file to write (default: stdout)"),
) -> None:
    """Write every audit entry as JSON Lines in chain order, hashes included."""
    entries = asyncio.run(_entries(_database_url(), None))
    if out is None:
        _write_jsonl(entries, typer.get_text_stream("stdout"))
        return
    with out.open("w", encoding="utf-8") as handle:
        _write_jsonl(entries, handle)
    typer.echo(f"wrote {len(entries)} entries to {out}", err=True)
