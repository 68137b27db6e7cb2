"""Where the bot's platform comes from: the embedded sandbox (default) or the configured URLs.

Also the two small adapters from :class:`Settings` to the plain values ``tools/`` takes
(:class:`PlatformConfig`, :class:`CallPolicy`), so no module of ``tools/`` reads the settings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from bot.settings import Settings
from tools.platform import Platform, PlatformConfig, build_platform
from tools.policy import CallPolicy


@dataclass
class PlatformHandle:
    platform: Platform
    sandbox: object | None  # sandbox.runtime.Sandbox when embedded


def platform_config(settings: Settings) -> PlatformConfig:
    """The URLs and credentials of the remote platform, as ``tools.platform`` wants them."""
    return PlatformConfig(
        databricks_host=settings.databricks_host,
        databricks_token=settings.databricks_token,
        gateway_url=settings.gateway_url,
        mlflow_tracking_uri=settings.mlflow_tracking_uri,
        prometheus_url=settings.prometheus_url,
        mistral_server_url=settings.mistral_server_url,
        mistral_api_key=settings.mistral_api_key,
    )


def call_policy(settings: Settings) -> CallPolicy:
    """``TOOL_TIMEOUT_S`` and ``TOOL_RETRIES``: the bound of every upstream call, on every path."""
    return CallPolicy(timeout_s=settings.tool_timeout_s, retries=settings.tool_retries)


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
        from sandbox.platform import platform_for_sandbox
        from sandbox.runtime import Sandbox

        sandbox = await Sandbox.start(workdir=settings.state_dir / "sandbox")
        for spec in faults:
            fault, target = parse_fault(spec)
            await sandbox.inject(fault, target)
        try:
            yield PlatformHandle(platform_for_sandbox(sandbox, call_policy(settings)), sandbox)
        finally:
            await sandbox.close()
        return
    if faults:
        raise ValueError("--fault needs the embedded sandbox (PLATFORM=sandbox)")
    async with httpx.AsyncClient() as http:
        yield PlatformHandle(
            build_platform(platform_config(settings), http, call_policy(settings)), None
        )
