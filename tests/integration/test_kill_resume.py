"""Exactly-once under SIGKILL: an incident survives its process being killed at the approval and
in the middle of the change, and the change reaches the platform once.

Every party is a real process: the sandbox (``model-incident sandbox up``), the bot that is
killed, and the ``model-incident resume`` that picks the incident up from the shared database.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import pytest

from tests.integration.conftest import ServedSandbox, wait_until

FAULT = "performance.new_version_regression"
ENDPOINT = "sentiment-endpoint"
# The sandbox applies a change at once, so the runbook's settle times are only slowness here.
VERIFY_WAIT = ["--max-verify-wait", "0.2"]
# One attempt per call, so that a ledger row left ``started`` by a killed process is stale after
# timeout * (retries + 1) + 1 s = 9 s and the resumed process takes it over. The deadline stays
# generous: a fresh process's first registry call imports MLflow, which is slow on a busy machine.
FAST_DEADLINES = {"TOOL_TIMEOUT_S": "8", "TOOL_RETRIES": "0"}
# Longer than killing the process takes, shorter than the call's deadline.
MUTATION_DELAY_S = 3.0

# The bot without a terminal and without --approve-as: start the incident, then wait at its
# proposal for an answer that never comes (the way a Slack-driven bot waits).
WAIT_AT_PROPOSAL = """
import asyncio, sys
from bot.agent.types import Trigger
from bot.compose import open_app
from bot.service.models import OpenRequest
from bot.settings import Settings

async def main() -> None:
    async with open_app(Settings()) as app:
        request = OpenRequest(
            trigger=Trigger(source="cli", target=sys.argv[1]), requester="oncall-user",
            incident_id=sys.argv[2],
        )
        view = await app.service.open(request)
        assert view.pending is not None, view
        print("waiting at", view.pending.proposal_id, flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""


async def served_model(sandbox: ServedSandbox) -> tuple[str, str, str]:
    """(model, champion, previous champion) as the fault left them, read from the platform."""
    world = (await sandbox.http.get("/sandbox/world")).raise_for_status().json()
    endpoint = next(e for e in world["endpoints"] if e["name"] == ENDPOINT)
    model = endpoint["config"]["served_entities"][0]["entity_name"]
    champion = next(m for m in world["models"] if m["name"] == model)["aliases"]["champion"]
    promoted = [
        e
        for e in world["events"]
        if e["type"] == "alias_set"
        and e["resource"] == model
        and e["details"]["version"] == champion
    ]
    return model, champion, promoted[-1]["details"]["previous_version"]


async def champion_of(sandbox: ServedSandbox, model: str) -> str:
    world = (await sandbox.http.get("/sandbox/world")).raise_for_status().json()
    return str(next(m for m in world["models"] if m["name"] == model)["aliases"]["champion"])


async def bot_changes(sandbox: ServedSandbox, model: str) -> tuple[list[Any], list[Any]]:
    """The bot's endpoint updates and the champion alias moves seen by the platform's audit."""
    updates = [
        e
        for e in await sandbox.events(ENDPOINT)
        if e["type"] == "endpoint_updated" and e["actor"] == "model-incident-bot"
    ]
    # MLflow does not say who moved an alias; the fault's own move is the ml-pipeline's.
    moves = [
        e
        for e in await sandbox.events(model)
        if e["type"] == "alias_set"
        and e["details"].get("alias") == "champion"
        and e["actor"] != "ml-pipeline"
    ]
    return updates, moves


def ledger(sandbox: ServedSandbox, proposal_id: str) -> list[dict[str, Any]]:
    return sandbox.rows("SELECT * FROM ledger WHERE proposal_id = ?", proposal_id)


async def pending_proposal(sandbox: ServedSandbox, incident_id: str) -> dict[str, Any] | None:
    rows = sandbox.rows(
        "SELECT * FROM proposals WHERE incident_id = ? AND status = 'pending'", incident_id
    )
    return rows[0] if rows else None


async def resume(sandbox: ServedSandbox, incident_id: str) -> str:
    """``model-incident resume INCIDENT --approve-as alice`` in a new process; its output."""
    process = await sandbox.bot(
        "resume", "resume", incident_id, "--approve-as", "alice", *VERIFY_WAIT
    )
    code = await sandbox.finish("resume", process, timeout_s=40)
    output = sandbox.log("resume")
    assert code == 0, output
    return output


async def audit_verifies(sandbox: ServedSandbox) -> None:
    process = await sandbox.bot("audit", "audit", "verify")
    code = await sandbox.finish("audit", process, timeout_s=20)
    assert code == 0, sandbox.log("audit")


async def assert_applied_once(
    sandbox: ServedSandbox, incident_id: str, proposal_id: str, model: str, previous: str
) -> None:
    """One ledger row, succeeded; one endpoint update and one champion move on the platform;
    the previous champion serves again; the incident is resolved."""
    rows = ledger(sandbox, proposal_id)
    assert [row["state"] for row in rows] == ["succeeded"], rows
    (proposal,) = sandbox.rows("SELECT * FROM proposals WHERE id = ?", proposal_id)
    assert rows[0]["idempotency_key"] == proposal["idempotency_key"]
    assert proposal["status"] == "executed"
    updates, moves = await bot_changes(sandbox, model)
    assert len(updates) == 1, updates
    assert updates[0]["details"]["served_versions"] == previous
    assert [m["details"]["version"] for m in moves] == [previous], moves
    assert await champion_of(sandbox, model) == previous
    (incident,) = sandbox.rows("SELECT * FROM incidents WHERE id = ?", incident_id)
    assert incident["status"] == "resolved", incident
    approvals = sandbox.rows("SELECT * FROM approvals WHERE proposal_id = ?", proposal_id)
    assert [(a["decision"], a["actor"]) for a in approvals] == [("approved", "alice")]


@pytest.mark.integration
@pytest.mark.faults(f"{FAULT}:{ENDPOINT}")
async def test_killed_at_the_approval_resumes_at_the_same_proposal(
    served_sandbox: ServedSandbox,
) -> None:
    sandbox = served_sandbox
    model, champion, previous = await served_model(sandbox)
    assert champion != previous
    incident_id = "inc-killed-at-approval"
    waiting = await sandbox.spawn(
        "waiting", sys.executable, "-c", WAIT_AT_PROPOSAL, ENDPOINT, incident_id
    )
    proposal = await wait_until(
        lambda: pending_proposal(sandbox, incident_id), timeout_s=30, what="the proposal"
    )
    assert proposal["tool"] == "rollback_to_previous_champion"
    # The checkpoint is written when the graph stops at the proposal, just after the row.
    await wait_until(
        lambda: _printed(sandbox, "waiting", "waiting at"), timeout_s=10, what="the interrupt"
    )
    waiting.send_signal(signal.SIGKILL)
    assert await waiting.wait() == -signal.SIGKILL
    assert await champion_of(sandbox, model) == champion  # nothing ran before the approval

    output = await resume(sandbox, incident_id)

    assert proposal["id"] in output  # the same proposal was shown again and approved
    proposals = sandbox.rows("SELECT * FROM proposals WHERE incident_id = ?", incident_id)
    assert [p["id"] for p in proposals] == [proposal["id"]]
    await assert_applied_once(sandbox, incident_id, proposal["id"], model, previous)
    await audit_verifies(sandbox)


@pytest.mark.integration
@pytest.mark.faults(f"{FAULT}:{ENDPOINT}")
async def test_killed_during_the_change_applies_it_once(served_sandbox: ServedSandbox) -> None:
    sandbox = served_sandbox
    sandbox.env.update(FAST_DEADLINES)
    model, champion, previous = await served_model(sandbox)
    assert champion != previous
    delays = {"mutations_s": MUTATION_DELAY_S}
    (await sandbox.http.post("/sandbox/delays", json=delays)).raise_for_status()
    diagnose = await sandbox.bot(
        "diagnose", "diagnose", ENDPOINT, "--approve-as", "alice", *VERIFY_WAIT
    )
    # Killed while the platform holds the endpoint update: the ledger row says "started".
    await wait_until(lambda: _mutation_in_flight(sandbox), timeout_s=30, what="the PUT in flight")
    diagnose.send_signal(signal.SIGKILL)
    assert await diagnose.wait() == -signal.SIGKILL
    (proposal,) = sandbox.rows("SELECT * FROM proposals")
    assert [row["state"] for row in ledger(sandbox, proposal["id"])] == ["started"]
    incident_id = proposal["incident_id"]

    await resume(sandbox, incident_id)

    await assert_applied_once(sandbox, incident_id, proposal["id"], model, previous)
    await audit_verifies(sandbox)


async def _printed(sandbox: ServedSandbox, name: str, text: str) -> bool | None:
    return True if text in sandbox.log(name) else None


async def _mutation_in_flight(sandbox: ServedSandbox) -> bool | None:
    delays = (await sandbox.http.get("/sandbox/delays")).raise_for_status().json()
    return True if delays["in_flight"] else None
