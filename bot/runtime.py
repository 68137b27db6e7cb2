"""Where the bot's platform comes from: the embedded sandbox (default) or the configured URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from bot.settings import Settings
from tools.platform import Platform, build_platform, platform_for_sandbox


@dataclass
class PlatformHandle:
    platform: Platform
    sandbox: object | None  # sandbox.runtime.Sandbox when embedded


def parse_fault(spec: str) -> tuple[str, str | None]:
    """``fault_id[:target]`` from the command line."""
    fault, _, target = spec.partition(":")
    return fault, (target or None)


@asynccontextmanager
async def open_platform(
    settings: Settings, faults: Sequence[str] = ()
) -> AsyncIterator[PlatformHandle]:
    """The platform the tools talk to. With ``platform = sandbox`` an embedded sandbox is started
    (faults injected first); otherwise the production adapters use the configured URLs."""
    if settings.platform == "sandbox":
        from sandbox.runtime import Sandbox

        sandbox = await Sandbox.start(workdir=settings.state_dir / "sandbox")
        for spec in faults:
            fault, target = parse_fault(spec)
            await sandbox.inject(fault, target)
        try:
            yield PlatformHandle(platform_for_sandbox(sandbox), sandbox)
        finally:
            await sandbox.close()
        return
    if faults:
        raise ValueError("--fault needs the embedded sandbox (PLATFORM=sandbox)")
    async with httpx.AsyncClient() as http:
        yield PlatformHandle(build_platform(settings, http), None)
