"""Shared fixtures: a sandbox per test, over a registry copied from one migrated template."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot.compose import call_policy
from bot.settings import Settings
from sandbox.platform import platform_for_sandbox
from sandbox.registry import template_db
from sandbox.runtime import Sandbox
from sandbox.world import World
from tools.platform import Platform
from tools.policy import CallPolicy

# The bound the bot uses by default (the defaults of ``bot/settings.py``, not a copy of them).
DEFAULT_POLICY = call_policy(Settings(_env_file=None))


@pytest.fixture(scope="session")
def mlflow_template() -> Path:
    """A migrated, empty MLflow SQLite store (built once, then copied for every sandbox)."""
    return template_db()


@pytest.fixture
async def sandbox(mlflow_template: Path, tmp_path: Path) -> Sandbox:
    """A sandbox with the default (healthy) world."""
    return await Sandbox.start(workdir=tmp_path / "sandbox")


@pytest.fixture
def sandbox_factory(mlflow_template: Path, tmp_path: Path) -> Callable[[World], Awaitable[Sandbox]]:
    """``await sandbox_factory(world)``: a sandbox serving a custom world."""
    count = 0

    async def start(world: World) -> Sandbox:
        nonlocal count
        count += 1
        return await Sandbox.start(world, workdir=tmp_path / f"sandbox-{count}")

    return start


@pytest.fixture
def policy() -> CallPolicy:
    """The default call policy of the settings (``TOOL_TIMEOUT_S``, ``TOOL_RETRIES``)."""
    return DEFAULT_POLICY


@pytest.fixture
def platform(sandbox: Sandbox, policy: CallPolicy) -> Platform:
    """The production adapters wired to the sandbox (``sandbox.platform.platform_for_sandbox``)."""
    return platform_for_sandbox(sandbox, policy)
