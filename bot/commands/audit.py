"""`model-incident audit ...`: verify, show and export the hash-chained audit log.

The store, the audit code and rich are imported inside the functions, not at start-up of the CLI.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import IO, TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from bot.audit.verify import VerifyReport
    from bot.settings import Settings
    from bot.store import AuditEntry

app = typer.Typer(no_args_is_help=True)


def _database_url() -> str:
    from bot.settings import Settings

    return Settings().resolved_database_url()


async def _verify(database_url: str, settings: Settings | None = None) -> VerifyReport:
    """Verify against the key and anchor file of ``settings`` (default: the environment's)."""
    from bot import audit as audit_log
    from bot.audit.seal import attach_seal, seal_from_settings
    from bot.settings import Settings
    from bot.store import open_store

    seal = seal_from_settings(settings or Settings())
    store = await open_store(database_url)
    attach_seal(store.engine, seal)
    try:
        return await audit_log.verify(store)
    finally:
        await store.close()


async def _entries(database_url: str, incident_id: str | None) -> list[AuditEntry]:
    from bot.store import open_store

    store = await open_store(database_url)
    try:
        return await store.list_audit(incident_id=incident_id)
    finally:
        await store.close()


def _print_ok(console: Console, report: VerifyReport) -> None:
    console.print(f"audit chain ok: head seq {report.head_seq} hash {report.head_hash}")
    anchored = f"newest seq {report.anchor_seq}" if report.anchor_seq is not None else "none yet"
    console.print(
        f"  {report.rows_checked} rows: hash links ok, every row signed by audit key "
        f"{report.key_id}; anchors outside the database: {report.anchors_checked} ({anchored}); "
        f"{report.records_checked} proposal/approval/ledger rows match the chain"
    )


def _print_broken(console: Console, report: VerifyReport) -> None:
    from rich.markup import escape

    where = f" at seq {report.first_bad_seq}" if report.first_bad_seq is not None else ""
    console.print(
        f"[bold red]audit chain BROKEN[/]{where}: {report.problem} ({escape(report.detail)}); "
        f"{report.rows_checked} rows checked; database head seq {report.head_seq} hash "
        f"{report.head_hash}"
    )
    for problem in report.record_problems:
        fields = f" [{', '.join(problem.fields)}]" if problem.fields else ""
        console.print(
            f"  {problem.table} {escape(problem.key)}: {problem.problem}{escape(fields)} "
            f"{escape(problem.detail)}"
        )
    if report.bad_row is not None:
        console.print_json(report.bad_row.model_dump_json())


@app.command("verify")
def verify() -> None:
    """Check the chain's hashes, signatures and anchors, and the rows it vouches for.

    Prints the head (seq and hash) it vouches for; exit 1 and what is wrong if anything was
    tampered with.
    """
    from rich.console import Console
    from rich.markup import escape

    from bot.audit.signing import SigningKeyError
    from bot.settings import Settings

    settings = Settings()
    console = Console(soft_wrap=True)  # one line per fact, whatever the terminal width
    try:
        report = asyncio.run(_verify(settings.resolved_database_url(), settings))
    except SigningKeyError as exc:
        console.print(f"[bold red]cannot verify[/]: {escape(str(exc))}")
        raise typer.Exit(1) from None
    if report.ok:
        _print_ok(console, report)
        return
    _print_broken(console, report)
    raise typer.Exit(1)


@app.command("show")
def show(incident: str = typer.Argument(..., help="incident id")) -> None:
    """Print one incident's audit timeline."""
    from rich.console import Console
    from rich.table import Table

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
