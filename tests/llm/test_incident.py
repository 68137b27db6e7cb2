"""Whole incidents with the LLM on (``LLM_MODE=mistral`` and ``openai-compatible``) over the
sandbox and the local chat server: the chat calls, their audit rows, the free-text seam and the
summary; with the server unreachable the incident ends as it does without an LLM."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.agent.types import FinalState, IncidentOutcome
from bot.compose import App, open_app
from bot.domain import DecisionKind
from bot.settings import Settings
from localllm.script import Script
from localllm.server import free_port, serve_script
from sandbox.runtime import Sandbox
from sandbox.world import World
from tests.agent.conftest import answer, request_for
from tests.llm.conftest import KEY, llm_rows

ENDPOINT = "sentiment-endpoint"
FREE_TEXT = (
    "Container image pull failed: pull access denied for registry.internal/serving-base; "
    "the workspace's service principal cannot read the repository."
)
CHOSEN = {"choice": "escalate_update_permission", "reason": "'pull access denied'"}
SUMMARY = {"summary": f"{ENDPOINT}: the update failed; the platform refuses the image.", "why": []}


async def failed_update(sandbox: Sandbox, message: str) -> None:
    await sandbox.inject("endpoint.update_failed", ENDPOINT)

    def reword(world: World) -> World:
        new = world.model_copy(deep=True)
        for ep in new.endpoints:
            if ep.name == ENDPOINT:
                for entity in ep.config.served_entities:
                    entity.deployment_state_message = message
        return new

    await sandbox.state.mutate(reword)


@asynccontextmanager
async def llm_app(
    sandbox: Sandbox, tmp_path: Path, mode: str, url: str, **overrides: Any
) -> AsyncIterator[App]:
    settings = Settings(
        _env_file=None,
        state_dir=tmp_path / "state",
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        approvers=["alice"],
        tool_timeout_s=2.0,
        tool_retries=0,
        max_verify_wait_s=0.0,
        llm_mode=mode,  # type: ignore[arg-type]
        llm_base_url=url,
        mistral_api_key=SecretStr(KEY),
        llm_api_key=SecretStr(KEY),
        llm_timeout_s=10.0,
        **overrides,
    )
    async with open_app(settings, sandbox=sandbox) as app:
        yield app


async def run(app: App) -> IncidentOutcome:
    view = await app.service.drive(request_for(ENDPOINT), answer(DecisionKind.APPROVE))
    assert view.outcome is not None
    return view.outcome


async def test_the_llm_reads_free_text_no_rule_reads_and_writes_the_summary(
    sandbox: Sandbox, tmp_path: Path, mode: str
) -> None:
    await failed_update(sandbox, FREE_TEXT)
    script = Script.model_validate(
        {
            "api_key": KEY,
            "rules": [
                {"prompt": "interpret", "reply": {"json": CHOSEN}},
                {"prompt": "summarise", "reply": {"json": SUMMARY}},
            ],
        }
    )
    async with serve_script(script) as (url, calls), llm_app(sandbox, tmp_path, mode, url) as app:
        outcome = await run(app)
        rows = await llm_rows(app.store, outcome.incident_id)
    assert outcome.final_state is FinalState.ESCALATED
    assert outcome.escalation is not None and outcome.escalation["to"] == "platform-admin"
    [step] = [s for s in outcome.steps if s.node == "update_failed_message"]
    assert step.branch is not None and step.branch.startswith("llm: escalate_update_permission")
    assert outcome.summary == SUMMARY["summary"]
    assert [r["prompt"] for r in rows] == ["triage", "interpret", "summarise"]
    assert all(r["outcome"] == "ok" and r["model"] == "mistral-small-latest" for r in rows)
    assert {c["incident"] for c in calls} == {outcome.incident_id} and len(calls) == 3
    assert sum(r["prompt_tokens"] + r["completion_tokens"] for r in rows) <= 4000
    sent = [c["body"]["messages"][1]["content"] for c in calls if c["prompt"] == "interpret"]
    assert "<untrusted>" in sent[0] and "pull access denied" in sent[0]


async def test_without_an_answer_the_tree_decides_as_without_an_llm(
    sandbox: Sandbox, tmp_path: Path, mode: str
) -> None:
    await failed_update(sandbox, FREE_TEXT)
    dead = f"http://127.0.0.1:{free_port()}"
    async with llm_app(sandbox, tmp_path, mode, dead, llm_max_retries=0) as app:
        outcome = await run(app)
        rows = await llm_rows(app.store, outcome.incident_id)
    assert outcome.escalation is not None and outcome.escalation["to"] == "ml-engineering"
    [step] = [s for s in outcome.steps if s.node == "update_failed_message"]
    assert step.branch == "otherwise"
    assert outcome.summary.startswith(f"{ENDPOINT}: escalated.")
    assert rows and all(r["outcome"] == "unavailable" and r["fallback"] for r in rows)


async def test_a_rule_that_matches_needs_no_llm(
    sandbox: Sandbox, tmp_path: Path, mode: str
) -> None:
    await failed_update(sandbox, "Deployment failed: 403 Forbidden for the serving principal")
    script = Script.model_validate({"api_key": KEY})
    async with serve_script(script) as (url, calls), llm_app(sandbox, tmp_path, mode, url) as app:
        outcome = await run(app)
    assert outcome.escalation is not None and outcome.escalation["to"] == "platform-admin"
    assert [c["prompt"] for c in calls] == ["triage", "summarise"]
