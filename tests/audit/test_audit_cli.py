"""`model-incident audit verify | show | export` against a real database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import update
from typer.testing import CliRunner

from bot import audit
from bot.commands.audit import app
from bot.store import open_store
from bot.store import tables as t


async def _seed(url: str) -> str:
    store = await open_store(url)
    try:
        incident = await store.create_incident("fraud", {"alertname": "Endpoint5xx"})
        await audit.append(store, incident.id, "tool_call", "bot", {"tool": "endpoint_status"})
        await audit.append(store, incident.id, "diagnosis", "bot", {"branch": "restart"})
        return incident.id
    finally:
        await store.close()


async def _tamper(url: str) -> None:
    store = await open_store(url)
    try:
        async with store.engine.begin() as conn:
            await conn.execute(
                update(t.audit).where(t.audit.c.seq == 2).values(actor="someone-else")
            )
    finally:
        await store.close()


def test_verify_show_and_export(database_url: str, tmp_path: Path) -> None:
    incident_id = asyncio.run(_seed(database_url))
    runner = CliRunner(env={"DATABASE_URL": database_url})

    ok = runner.invoke(app, ["verify"])
    assert ok.exit_code == 0, ok.output
    assert "3 rows" in ok.output

    shown = runner.invoke(app, ["show", incident_id])
    assert shown.exit_code == 0, shown.output
    for kind in ("incident_opened", "tool_call", "diagnosis"):
        assert kind in shown.output

    out = tmp_path / "audit.jsonl"
    exported = runner.invoke(app, ["export", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3]
    assert lines[1]["prev_hash"] == lines[0]["hash"]

    asyncio.run(_tamper(database_url))
    broken = runner.invoke(app, ["verify"])
    assert broken.exit_code == 1
    assert "seq 2" in broken.output and "edited" in broken.output
    assert "someone-else" in broken.output
