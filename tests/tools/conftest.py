"""Helpers for the tool tests: change a live sandbox's outages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from sandbox.runtime import Sandbox
from sandbox.world import Outages


@pytest.fixture
def outage(sandbox: Sandbox) -> Callable[..., Awaitable[None]]:
    """``await outage(prometheus="down")``: make a service of the sandbox fail."""

    async def set_outage(**services: Any) -> None:
        outages = sandbox.world.outages.model_copy(update=services)
        await sandbox.set_world(
            sandbox.world.model_copy(update={"outages": Outages(**outages.model_dump())})
        )

    return set_outage
