"""Fixtures for the agent: a sandbox, a database (SQLite and PostgreSQL) and an open agent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.agent.run import Agent, open_agent
from bot.agent.types import Decision, DecisionKind, Proposal
from bot.settings import Settings
from bot.store.testing import temporary_database

APPROVER = "alice"

AgentFactory = Callable[..., Any]


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with temporary_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        database_url=database_url,
        approvers=[APPROVER],
        tool_timeout_s=2.0,
        tool_retries=0,
    )


@pytest.fixture
def open_incident_agent(
    settings: Settings,
) -> Callable[..., Any]:
    """``async with open_incident_agent(platform) as agent`` on the test database."""

    @asynccontextmanager
    async def factory(platform: Any, **overrides: Any) -> AsyncIterator[Agent]:
        chosen = settings.model_copy(update=overrides) if overrides else settings
        async with open_agent(chosen, platform, max_verify_wait_s=0.0) as agent:
            yield agent

    return factory


def answer(
    decision: DecisionKind, actor: str = APPROVER
) -> Callable[[Proposal], Awaitable[Decision]]:
    async def decide(proposal: Proposal) -> Decision:
        return Decision(proposal_id=proposal.proposal_id, decision=decision, actor=actor)

    return decide
