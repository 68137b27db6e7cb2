"""The ledger lease under real processes: a slow but alive executor keeps its change while a
second process resumes the incident, and a killed executor's change is taken over once its lease
ran out, and applied once.

The change is the fleet-wide rollout cut for a rate-limited provider: one PATCH per agent, each
held by the sandbox, so the whole tool run lasts several times one request's deadline. Before the
lease, a resume after ``TOOL_TIMEOUT_S * (TOOL_RETRIES + 1) + 1`` seconds took the live row over.
Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
from psycopg.rows import dict_row

from bot.store.testing import temporary_database
from tests.integration.conftest import ServedSandbox, stop, wait_until

FAULT = "provider.rate_limited"
TARGET = "gateway"
TOOL = "set_rollout_percentage"
BOT = "model-incident-bot"
# One attempt per request, 6 s each: the old takeover bound was 7 s after the row started.
DEADLINES = {"TOOL_TIMEOUT_S": "6", "TOOL_RETRIES": "0", "LEDGER_LEASE_S": "3"}
OLD_TAKEOVER_BOUND_S = 7.0
LEASE_S = 3.0
# Each PATCH waits this long at the platform: under a request's deadline, and the five of them
# together well past the old bound.
MUTATION_DELAY_S = 3.5
VERIFY_WAIT = ["--max-verify-wait", "0.2"]


class Database:
    """The bot's database as the test reads it, whichever engine it is."""

    def __init__(self, url: str, sqlite_path: Path | None) -> None:
        self.url = url
        self.sqlite_path = sqlite_path

    def rows(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        if self.sqlite_path is not None:
            if not self.sqlite_path.exists():
                return []
            with sqlite3.connect(self.sqlite_path, timeout=5) as conn:
                conn.row_factory = sqlite3.Row
                try:
                    return [dict(row) for row in conn.execute(sql, params)]
                except sqlite3.OperationalError as exc:
                    if "no such table" in str(exc):
                        return []
                    raise
        with psycopg.connect(self.url, row_factory=dict_row) as conn:
            try:
                return list(conn.execute(sql.replace("?", "%s"), params).fetchall())
            except psycopg.errors.UndefinedTable:
                return []

    def is_open_in(self, pid: int) -> bool:
        """Whether process ``pid`` holds a connection to this database."""
        try:
            process = psutil.Process(pid)
            if self.sqlite_path is not None:
                return any(Path(f.path) == self.sqlite_path for f in process.open_files())
            return any(
                c.raddr and c.raddr.port == 5432 for c in process.net_connections(kind="tcp")
            )
        except psutil.NoSuchProcess:
            return False


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(
    request: pytest.FixtureRequest, served_sandbox: ServedSandbox, tmp_path: Path
) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        yield Database(served_sandbox.env["DATABASE_URL"], served_sandbox.database)
        return
    async with temporary_database("postgresql", tmp_path) as url:
        served_sandbox.env["DATABASE_URL"] = url
        yield Database(url, None)
        # The bot's processes first: a live connection would hold the schema's drop forever.
        for process in served_sandbox.processes[1:]:
            await stop(process)


def _at(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _start_change(sandbox: ServedSandbox, db: Database) -> tuple[Any, dict[str, Any]]:
    """``diagnose gateway --approve-as alice`` until its first PATCH is held by the platform;
    the process and the ledger row it claimed."""
    sandbox.env.update(DEADLINES)
    delays = {"mutations_s": MUTATION_DELAY_S}
    (await sandbox.http.post("/sandbox/delays", json=delays)).raise_for_status()
    process = await sandbox.bot(
        "diagnose", "diagnose", TARGET, "--approve-as", "alice", *VERIFY_WAIT
    )
    await wait_until(lambda: _in_flight(sandbox), timeout_s=90, what="the first PATCH in flight")
    (row,) = db.rows("SELECT * FROM ledger WHERE tool = ?", TOOL)
    assert row["state"] == "started" and row["owner"], row
    return process, row


async def _in_flight(sandbox: ServedSandbox) -> bool | None:
    delays = (await sandbox.http.get("/sandbox/delays")).raise_for_status().json()
    return True if delays["in_flight"] else None


async def _resume(sandbox: ServedSandbox, incident_id: str) -> Any:
    return await sandbox.bot("resume", "resume", incident_id, "--approve-as", "alice", *VERIFY_WAIT)


async def _assert_each_agent_cut_once(sandbox: ServedSandbox) -> None:
    """Every agent serves 5 % of its traffic from the fine-tuned model, and the platform saw the
    bot change each agent at most once (the fault may leave some already at 5 %)."""
    world = (await sandbox.http.get("/sandbox/world")).raise_for_status().json()
    changes: dict[str, list[str]] = {}
    for agent in world["agents"]:
        assert agent["rollout_percentage"] == 5, agent
        events = await sandbox.events(agent["name"])
        changes[agent["name"]] = [
            e["details"]["rollout_percentage"]
            for e in events
            if e["type"] == "agent_config_changed" and e["actor"] == BOT
        ]
    assert all(len(values) <= 1 for values in changes.values()), changes
    assert sum(len(values) for values in changes.values()) >= 2, changes


def _started_audit(db: Database, key: str) -> list[dict[str, Any]]:
    rows = db.rows("SELECT * FROM audit WHERE kind = 'execution_started' ORDER BY seq")
    payloads = [
        {
            **(json.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"]),
            "at": _at(r["at"]),
        }
        for r in rows
    ]
    return [p for p in payloads if p["idempotency_key"] == key]


def _assert_exited_cleanly(sandbox: ServedSandbox, name: str, code: int) -> None:
    output = sandbox.log(name)
    assert code in (0, 1) and "Traceback" not in output, output


@pytest.mark.integration
@pytest.mark.faults(FAULT)
async def test_a_slow_live_executor_is_not_taken_over_by_a_resume(
    served_sandbox: ServedSandbox, database: Database
) -> None:
    sandbox, db = served_sandbox, database
    executor, row = await _start_change(sandbox, db)
    claimed_at = time.monotonic()
    (proposal,) = db.rows("SELECT * FROM proposals WHERE id = ?", row["proposal_id"])

    second = await _resume(sandbox, proposal["incident_id"])
    await wait_until(
        lambda: _connected(db, second.pid), timeout_s=60, what="the resume at the database"
    )
    second_arrived = time.monotonic()
    assert db.rows("SELECT state FROM ledger WHERE tool = ?", TOOL) == [{"state": "started"}]
    _assert_exited_cleanly(sandbox, "diagnose", await sandbox.finish("diagnose", executor, 120))
    finished = time.monotonic()
    _assert_exited_cleanly(sandbox, "resume", await sandbox.finish("resume", second, 120))

    # The run was long enough to matter: past the old bound, and the resume watched the row for
    # longer than a lease (it polls every 0.5 s, so an unrenewed lease would have been taken).
    assert finished - claimed_at > OLD_TAKEOVER_BOUND_S
    assert finished - second_arrived > LEASE_S, finished - second_arrived

    (done,) = db.rows("SELECT * FROM ledger WHERE tool = ?", TOOL)
    assert (done["state"], done["owner"]) == ("succeeded", row["owner"])
    started = _started_audit(db, row["idempotency_key"])
    assert [(s["owner"], s["retry"]) for s in started] == [(row["owner"], False)]
    await _assert_each_agent_cut_once(sandbox)


@pytest.mark.integration
@pytest.mark.faults(FAULT)
async def test_a_killed_executor_is_taken_over_after_its_lease_and_the_change_runs_once(
    served_sandbox: ServedSandbox, database: Database
) -> None:
    sandbox, db = served_sandbox, database
    executor, row = await _start_change(sandbox, db)
    executor.send_signal(signal.SIGKILL)
    assert await executor.wait() == -signal.SIGKILL
    (left,) = db.rows("SELECT * FROM ledger WHERE tool = ?", TOOL)
    assert left["state"] == "started"
    lease_ran_out = _at(left["lease_expires_at"])
    (proposal,) = db.rows("SELECT * FROM proposals WHERE id = ?", row["proposal_id"])

    second = await _resume(sandbox, proposal["incident_id"])
    _assert_exited_cleanly(sandbox, "resume", await sandbox.finish("resume", second, 120))

    (done,) = db.rows("SELECT * FROM ledger WHERE tool = ?", TOOL)
    assert done["state"] == "succeeded" and done["owner"] != row["owner"]
    started = _started_audit(db, row["idempotency_key"])
    assert [(s["owner"], s["retry"]) for s in started] == [
        (row["owner"], False),
        (done["owner"], True),
    ]
    assert started[1]["at"] >= lease_ran_out  # taken over only once the dead owner's lease ran out
    await _assert_each_agent_cut_once(sandbox)


async def _connected(db: Database, pid: int) -> bool | None:
    return True if db.is_open_in(pid) else None
