"""`model-incident audit verify | show | export` against a real database.

``verify`` runs as its own process, with only the environment a person would give it
(``DATABASE_URL``, ``STATE_DIR``): it must find the key and the anchor file there and catch each
attack of ``tests/audit/attacks.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot import audit
from bot.audit.seal import attach_seal, seal_from_settings
from bot.commands.audit import app
from bot.settings import Settings
from bot.store import Store, open_store
from tests.audit.attacks import (
    APPROVER,
    INTRUDER,
    audit_rows,
    edit_row,
    rewrite_consistently,
    seed_incident,
    truncate_with_head_moved_back,
    wipe_with_head_reset,
)

CLI = str(Path(sys.executable).with_name("model-incident"))
Attack = Callable[[Store], Awaitable[object]]


async def _with_store(settings: Settings, work: Callable[[Store], Awaitable[object]]) -> object:
    store = await open_store(settings.resolved_database_url())
    attach_seal(store.engine, seal_from_settings(settings))
    try:
        return await work(store)
    finally:
        await store.close()


def _verify_process(settings: Settings, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env |= {"DATABASE_URL": settings.resolved_database_url(), "STATE_DIR": str(settings.state_dir)}
    return subprocess.run(
        [CLI, "audit", "verify"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_verify_prints_the_head_it_vouches_for(sealed_settings: Settings, tmp_path: Path) -> None:
    asyncio.run(_with_store(sealed_settings, seed_incident))
    rows = asyncio.run(_with_store(sealed_settings, audit_rows))
    assert isinstance(rows, list)
    done = _verify_process(sealed_settings, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"head seq {rows[-1].seq} hash {rows[-1].hash}" in done.stdout
    assert "every row signed" in done.stdout


async def _rewrite_the_approver(store: Store) -> None:
    await rewrite_consistently(store, "approval", actor=INTRUDER)
    await edit_row(store, "approvals", {"actor": APPROVER}, actor=INTRUDER)


async def _truncate_before_the_approval(store: Store) -> None:
    rows = await audit_rows(store)
    await truncate_with_head_moved_back(
        store, next(r.seq for r in rows if r.kind == "approval") - 1
    )


async def _edit_the_approval_row(store: Store) -> None:
    await edit_row(store, "approvals", {"actor": APPROVER}, actor=INTRUDER)


async def _edit_the_ledger_row(store: Store) -> None:
    await edit_row(store, "ledger", {"state": "succeeded"}, result={"status": "ok", "v": "4"})


ATTACKS: dict[str, tuple[Attack, str]] = {
    "consistent rewrite": (_rewrite_the_approver, "bad_signature"),
    "truncation, head moved back": (_truncate_before_the_approval, "truncated"),
    "wipe, head reset": (wipe_with_head_reset, "wiped"),
    "edited approval row": (_edit_the_approval_row, "approvals"),
    "edited ledger row": (_edit_the_ledger_row, "ledger"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_verify_process_catches_each_attack(
    attack: str, sealed_settings: Settings, tmp_path: Path
) -> None:
    perform, named = ATTACKS[attack]
    asyncio.run(_with_store(sealed_settings, seed_incident))
    asyncio.run(_with_store(sealed_settings, perform))
    done = _verify_process(sealed_settings, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "audit chain BROKEN" in done.stdout
    assert named in done.stdout


async def _seed(url: str) -> str:
    store = await open_store(url)
    try:
        incident = await store.create_incident("fraud", {"alertname": "Endpoint5xx"})
        await audit.append(store, incident.id, "tool_call", "bot", {"tool": "endpoint_status"})
        await audit.append(store, incident.id, "diagnosis", "bot", {"branch": "restart"})
        return incident.id
    finally:
        await store.close()


def test_show_and_export(database_url: str, tmp_path: Path) -> None:
    incident_id = asyncio.run(_seed(database_url))
    runner = CliRunner(env={"DATABASE_URL": database_url})

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
