"""Fixtures for the agent: a sandbox, a database (SQLite and PostgreSQL) and the incident service
built by the composition root, exactly as the CLI builds it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.agent.types import IncidentOutcome, Refusal, Trigger
from bot.compose import App, open_app
from bot.domain import DecisionKind, Proposal
from bot.service.models import Answer, OpenRequest
from bot.settings import Settings
from bot.store.testing import temporary_database
from sandbox.runtime import Sandbox

APPROVER = "alice"
REQUESTER = "oncall-user"

Decide = Callable[[Proposal, Refusal | None], Awaitable[Answer | None]]


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with temporary_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        _env_file=None,
        state_dir=tmp_path / "state",
        database_url=database_url,
        approvers=[APPROVER],
        tool_timeout_s=2.0,
        tool_retries=0,
        max_verify_wait_s=0.0,
    )


@asynccontextmanager
async def incident_app(
    settings: Settings, sandbox: Sandbox, **overrides: Any
) -> AsyncIterator[App]:
    """The whole bot over ``sandbox`` (no verify waits: the sandbox applies changes at once)."""
    chosen = settings.model_copy(update={"max_verify_wait_s": 0.0, **overrides})
    async with open_app(chosen, sandbox=sandbox) as app:
        yield app


@pytest.fixture
def open_incident_app(settings: Settings, sandbox: Sandbox) -> Callable[..., Any]:
    """``async with open_incident_app(**setting_overrides) as app`` on the test database."""

    def factory(**overrides: Any) -> Any:
        return incident_app(settings, sandbox, **overrides)

    return factory


def request_for(target: str, requester: str = REQUESTER) -> OpenRequest:
    return OpenRequest(trigger=Trigger(target=target), requester=requester)


async def run_incident(
    app: App, target: str, decide: Decide, requester: str = REQUESTER
) -> IncidentOutcome:
    """Open an incident and answer every proposal with ``decide`` until it ends."""
    view = await app.service.drive(request_for(target, requester), decide)
    assert view.outcome is not None, view
    return view.outcome


def answer(decision: DecisionKind, actor: str = APPROVER) -> Decide:
    async def decide(proposal: Proposal, refusal: Refusal | None) -> Answer:
        return Answer(proposal_id=proposal.proposal_id, decision=decision, actor=actor)

    return decide
