"""Shared fixtures: a sandbox per test, over a registry copied from one migrated template."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from sandbox.registry import template_db
from sandbox.runtime import Sandbox
from sandbox.world import World


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
async def platform(sandbox: Sandbox) -> AsyncIterator[Any]:
    """The production adapters wired to the sandbox (``tools.platform.platform_for_sandbox``)."""
    from tools.platform import platform_for_sandbox  # type: ignore[attr-defined]

    async with AsyncExitStack() as stack:
        made: Any = platform_for_sandbox(sandbox)
        if inspect.isawaitable(made):
            made = await made
        if hasattr(made, "__aenter__"):
            made = await stack.enter_async_context(made)
        yield made
