"""The composition root: everything the bot runs on, built from ``Settings`` in one place.

    open_app(settings) → App(platform, store, checkpointer-backed graph, runbooks, assistant,
                             service)

The CLI, the evals, the benchmarks and the coming ``serve`` process all start here; tests build it
over the sandbox transport by passing a started sandbox. Every setting is read here and nowhere
else, so each one is honoured on every path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from bot.settings import Settings
from bot.startup import freeze_startup_heap

if TYPE_CHECKING:
    from bot.llm.assistant import Assistant
    from bot.runbooks.loader import RunbookSet
    from bot.service.incidents import IncidentService
    from bot.store.db import Store
    from sandbox.runtime import Sandbox
    from tools.platform import Platform, PlatformConfig
    from tools.policy import CallPolicy


@dataclass
class App:
    """The running bot: one service over one platform, store and graph."""

    settings: Settings
    platform: Platform
    store: Store
    runbooks: RunbookSet
    service: IncidentService
    assistant: Assistant | None = None
    sandbox: Sandbox | None = None


def parse_fault(spec: str) -> tuple[str, str | None]:
    """``fault_id[:target]`` from the command line."""
    fault, _, target = spec.partition(":")
    return fault, (target or None)


def verify_wait_cap(settings: Settings, *, embedded: bool) -> float:
    """How long a verify step may wait for a change to settle: the setting when given, else the
    runbook's own wait; the embedded sandbox applies changes at once, so it never waits."""
    if settings.max_verify_wait_s is not None:
        return settings.max_verify_wait_s
    return 0.0 if embedded else float("inf")


@asynccontextmanager
async def open_platform(
    settings: Settings, *, faults: Sequence[str] = (), sandbox: Sandbox | None = None
) -> AsyncIterator[tuple[Platform, Sandbox | None]]:
    """The platform the tools talk to: a given sandbox, an embedded one (``PLATFORM=sandbox``,
    faults injected first), or the production adapters on the configured URLs."""
    from tools.platform import build_platform

    if sandbox is None and settings.platform == "sandbox":
        from sandbox.runtime import Sandbox

        started = await Sandbox.start(workdir=settings.state_dir / "sandbox")
        try:
            for spec in faults:
                await started.inject(*parse_fault(spec))
            async with open_platform(settings, sandbox=started) as opened:
                yield opened
        finally:
            await started.close()
        return
    if faults and sandbox is None:
        raise ValueError("--fault needs the embedded sandbox (PLATFORM=sandbox)")
    if sandbox is not None:
        for spec in faults:
            await sandbox.inject(*parse_fault(spec))
        from sandbox.platform import platform_for_sandbox

        yield platform_for_sandbox(sandbox, call_policy(settings)), sandbox
        return
    async with httpx.AsyncClient() as http:
        yield build_platform(platform_config(settings), http, call_policy(settings)), None


def call_policy(settings: Settings) -> CallPolicy:
    """Deadline and retries of every upstream request (``TOOL_TIMEOUT_S``, ``TOOL_RETRIES``)."""
    from tools.policy import CallPolicy

    return CallPolicy(timeout_s=settings.tool_timeout_s, retries=settings.tool_retries)


def platform_config(settings: Settings) -> PlatformConfig:
    """Where the production adapters find each upstream system."""
    from tools.platform import PlatformConfig

    return PlatformConfig(
        databricks_host=settings.databricks_host,
        databricks_token=settings.databricks_token,
        gateway_url=settings.gateway_url,
        mlflow_tracking_uri=settings.mlflow_tracking_uri,
        prometheus_url=settings.prometheus_url,
        mistral_server_url=settings.mistral_server_url,
        mistral_api_key=settings.mistral_api_key,
    )


def build_assistant(
    settings: Settings, store: Store, sandbox: Sandbox | None
) -> AbstractAsyncContextManager[Assistant | None]:
    """The optional LLM assistant (``LLM_MODE``); the bot runs the same without it. With no
    ``LLM_BASE_URL`` on the embedded sandbox it talks to the sandbox's Mistral stand-in."""
    if settings.llm_mode == "off":
        return nullcontext(None)
    from bot.llm.setup import LLMEndpoint, endpoint_from_settings, open_assistant

    endpoint = endpoint_from_settings(settings)
    if sandbox is not None and not settings.llm_base_url:
        from sandbox.platform import SANDBOX_API_KEY
        from sandbox.runtime import BASE_URL

        http = sandbox.http_client(settings.llm_timeout_s)
        endpoint = LLMEndpoint(f"{BASE_URL}/mistral", SANDBOX_API_KEY, http)
    return open_assistant(settings, store, endpoint)


@asynccontextmanager
async def open_app(
    settings: Settings,
    *,
    faults: Sequence[str] = (),
    sandbox: Sandbox | None = None,
    runbooks: RunbookSet | None = None,
) -> AsyncIterator[App]:
    """``async with open_app(settings) as app:`` the whole bot, closed in reverse on exit."""
    from bot.agent.deps import AgentDeps
    from bot.agent.graph import build_graph
    from bot.agent.records import IncidentRecords
    from bot.audit.seal import attach_seal, seal_from_settings
    from bot.runbooks.loader import default_runbook_dir, load_runbooks
    from bot.service.incidents import IncidentService
    from bot.store.checkpoint import open_checkpointer
    from bot.store.db import open_store

    async with AsyncExitStack() as stack:
        platform, used_sandbox = await stack.enter_async_context(
            open_platform(settings, faults=faults, sandbox=sandbox)
        )
        url = settings.resolved_database_url()
        store = await open_store(url)
        stack.push_async_callback(store.close)
        # Every audit entry signed with AUDIT_SIGNING_KEY and every head anchored outside the
        # database (AUDIT_ANCHOR_PATH), so that someone who can write the database cannot
        # rewrite, truncate or wipe the chain unnoticed.
        attach_seal(store.engine, seal_from_settings(settings))
        saver = await stack.enter_async_context(open_checkpointer(url))
        assistant = await stack.enter_async_context(build_assistant(settings, store, used_sandbox))
        deps = AgentDeps(
            platform=platform,
            records=IncidentRecords(store, settings),
            runbooks=runbooks or load_runbooks(default_runbook_dir()),
            settings=settings,
            max_verify_wait_s=verify_wait_cap(settings, embedded=used_sandbox is not None),
            assistant=assistant,
        )
        graph = build_graph(deps).compile(checkpointer=saver)
        freeze_startup_heap()
        yield App(
            settings=settings,
            platform=platform,
            store=store,
            runbooks=deps.runbooks,
            service=IncidentService(graph, deps.records),
            assistant=assistant,
            sandbox=used_sandbox,
        )
