"""The assistant built from settings: which provider, where, with which budgets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from bot.llm.assistant import Assistant, Limits
from bot.llm.journal import AuditJournal
from bot.llm.providers import MistralChat, OpenAICompatibleChat
from bot.llm.wire import ChatProvider
from bot.settings import Settings
from bot.store.db import Store


@dataclass(frozen=True)
class LLMEndpoint:
    """Where the chat server answers; ``http`` is a client made for the assistant (the embedded
    sandbox's in-process transport), else it opens its own; either is closed with it."""

    base_url: str
    api_key: SecretStr
    http: httpx.AsyncClient | None = None


def endpoint_from_settings(settings: Settings) -> LLMEndpoint:
    """``LLM_BASE_URL`` (else ``MISTRAL_SERVER_URL``) with the mode's key."""
    key = settings.mistral_api_key if settings.llm_mode == "mistral" else settings.llm_api_key
    return LLMEndpoint(settings.llm_base_url or settings.mistral_server_url, key)


def limits_from_settings(settings: Settings) -> Limits:
    return Limits(
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        max_calls=settings.llm_max_calls_per_incident,
        max_tokens=settings.llm_max_tokens_per_incident,
    )


def provider_for(mode: str, endpoint: LLMEndpoint, http: httpx.AsyncClient) -> ChatProvider:
    if mode == "mistral":
        return MistralChat(endpoint.base_url, endpoint.api_key, http)
    if mode == "openai-compatible":
        return OpenAICompatibleChat(endpoint.base_url, endpoint.api_key, http)
    raise ValueError(f"LLM_MODE {mode!r} has no provider")


@asynccontextmanager
async def open_assistant(
    settings: Settings, store: Store, endpoint: LLMEndpoint
) -> AsyncIterator[Assistant]:
    """``async with open_assistant(...) as assistant``; its own HTTP client closed on exit."""
    http = endpoint.http or httpx.AsyncClient(timeout=settings.llm_timeout_s)
    try:
        yield Assistant.create(
            provider_for(settings.llm_mode, endpoint, http),
            settings.llm_model or settings.mistral_model,
            AuditJournal(store),
            limits_from_settings(settings),
        )
    finally:
        await http.aclose()
