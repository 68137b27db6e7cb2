"""Questions in an incident's thread answered from its audit trail, and the postmortem draft
(``model-incident postmortem INCIDENT``): deterministic without an LLM, the LLM's text only when
it is valid and cites entries that exist."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import SecretStr
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.compose import open_app
from bot.domain import DecisionKind
from bot.llm.answer import answer_question
from bot.llm.postmortem import draft_postmortem
from bot.settings import Settings
from bot.store.db import Store
from bot.store.models import AuditEntry, Incident
from sandbox.runtime import Sandbox
from tests.agent.conftest import answer, request_for
from tests.llm.conftest import AssistantFactory, llm_rows

ENDPOINT = "sentiment-endpoint"
REGRESSION = "performance.new_version_regression"


async def finished_incident(sandbox: Sandbox, tmp_path: Path) -> tuple[str, Settings]:
    await sandbox.inject(REGRESSION, ENDPOINT)
    settings = Settings(
        _env_file=None,
        state_dir=tmp_path / "state",
        database_url=f"sqlite:///{tmp_path / 'incident.db'}",
        approvers=["alice"],
        max_verify_wait_s=0.0,
        audit_signing_key=SecretStr("k" * 32),
    )
    async with open_app(settings, sandbox=sandbox) as app:
        view = await app.service.drive(request_for(ENDPOINT), answer(DecisionKind.APPROVE))
    return view.incident_id, settings


async def trail(settings: Settings, incident_id: str) -> tuple[Incident, list[AuditEntry]]:
    from bot.store import open_store

    store = await open_store(settings.resolved_database_url())
    try:
        incident = await store.get_incident(incident_id)
        assert incident is not None
        return incident, await store.list_audit(incident_id=incident_id)
    finally:
        await store.close()


async def test_thread_questions_and_postmortem_without_an_llm(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    incident_id, settings = await finished_incident(sandbox, tmp_path)
    incident, entries = await trail(settings, incident_id)
    reply = await answer_question(None, incident_id, "Who approved the rollback?", entries)
    approvals = [e.seq for e in entries if e.kind == "approval"]
    assert reply.source == "audit" and set(approvals) <= set(reply.cites)
    assert "alice" in reply.text
    draft = await draft_postmortem(None, incident, entries)
    assert draft.source == "audit" and REGRESSION in draft.root_cause
    text = draft.markdown()
    for heading in (
        "Root cause with data and timeline",
        "SLI and SLO impact and error budget usage",
        "What checks or automation would have prevented it",
        "Actionable follow-ups and owners",
    ):
        assert f"## {heading}" in text
    assert any("approval by alice" in line for line in draft.timeline)


async def test_the_llm_answers_only_citing_entries_that_exist(
    sandbox: Sandbox, tmp_path: Path, assistant_for: AssistantFactory, store: Store
) -> None:
    incident_id, settings = await finished_incident(sandbox, tmp_path)
    incident, entries = await trail(settings, incident_id)
    seq = next(e.seq for e in entries if e.kind == "approval")
    good = {"answer": f"alice approved the rollback (#{seq}).", "cites": [seq]}
    made_up = {"answer": "bob approved it (#9999).", "cites": [9999]}
    pm = {
        "root_cause": f"{REGRESSION}: version 2 regressed accuracy",
        "impact": "not recorded",
        "prevention": "a canary stage on accuracy",
        "follow_ups": [{"action": "add an accuracy canary", "owner": "ml-engineering"}],
    }
    rules = [
        {"prompt": "question", "contains": "approved", "reply": {"json": good}},
        {"prompt": "question", "reply": {"json": made_up}},
        {"prompt": "postmortem", "reply": {"json": pm}},
    ]
    async with assistant_for(rules) as (assistant, calls):
        reply = await answer_question(assistant, incident_id, "Who approved it?", entries)
        assert reply.source == "llm" and reply.cites == [seq]
        refused = await answer_question(assistant, incident_id, "And the version?", entries)
        assert refused.source == "audit"
        draft = await draft_postmortem(assistant, incident, entries)
    assert draft.source == "llm" and draft.follow_ups[0].owner == "ml-engineering"
    rows = await llm_rows(store, incident_id)
    assert [r["scope"] for r in rows] == ["request"] * 3
    assert "<untrusted>" in calls[0]["body"]["messages"][1]["content"]


async def test_postmortem_command(sandbox: Sandbox, tmp_path: Path) -> None:
    incident_id, settings = await finished_incident(sandbox, tmp_path)
    env = {"DATABASE_URL": settings.resolved_database_url(), "LLM_MODE": "off"}
    out = tmp_path / "pm.md"
    # The command runs its own event loop: off this test's loop, as from a shell.
    args = ["postmortem", incident_id, "--out", str(out)]
    result = await asyncio.to_thread(CliRunner().invoke, cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert f"# Postmortem draft: {ENDPOINT} ({incident_id})" in out.read_text()
    missing = await asyncio.to_thread(CliRunner().invoke, cli, ["postmortem", "inc-nope"], env=env)
    assert missing.exit_code == 2
