"""Fixtures of the LLM tests: the local chat server (real HTTP, the wire format, scripted
answers), a real store for the audit journal, and an assistant over either provider."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.llm.assistant import Assistant, Limits
from bot.llm.journal import AuditJournal
from bot.llm.setup import LLMEndpoint, provider_for
from bot.store.db import Store, open_store
from localllm.script import Script
from localllm.server import serve_script

KEY = "local-key"
Calls = list[dict[str, Any]]
AssistantFactory = Callable[..., AbstractAsyncContextManager[tuple[Assistant, Calls]]]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = await open_store(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture(params=["mistral", "openai-compatible"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def assistant_for(store: Store, mode: str) -> AssistantFactory:
    """``async with assistant_for(rules, **limits) as (assistant, calls)``: an assistant of the
    test's provider over a local server answering by ``rules``."""

    @asynccontextmanager
    async def factory(
        rules: list[dict[str, Any]], api_key: str = KEY, **limits: Any
    ) -> AsyncIterator[tuple[Assistant, Calls]]:
        script = Script.model_validate({"api_key": KEY, "rules": rules})
        async with serve_script(script) as (url, calls), httpx.AsyncClient() as http:
            endpoint = LLMEndpoint(url, SecretStr(api_key))
            provider = provider_for(mode, endpoint, http)
            options = {"timeout_s": 10.0, "max_retries": 1, **limits}
            yield (
                Assistant.create(provider, "local-model", AuditJournal(store), Limits(**options)),
                calls,
            )

    return factory


async def llm_rows(store: Store, incident_id: str) -> list[dict[str, Any]]:
    return [
        e.payload for e in await store.list_audit(incident_id=incident_id) if e.kind == "llm_call"
    ]
