"""Mistral API adapter: the provider check (``GET /v1/models``) over our HTTP core, and chat
completions through the official SDK for the assistant.

The SDK is given our shared :class:`httpx.AsyncClient`, so in tests it runs unchanged against the
sandbox's stand-in through the ASGI transport. It is imported lazily: the bot starts without it.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tools.clients.errors import UpstreamHTTPError, UpstreamTimeout, UpstreamUnavailable
from tools.clients.http import record
from tools.clients.wire import bad_response, field_list, request_recorded
from tools.result import RequestRecord

if TYPE_CHECKING:
    from mistralai.client.models import ChatCompletionResponse

# Answers that say something about the key or the quota: data for the provider check, not failures.
_PROVIDER_STATUSES = frozenset({401, 403, 429})


class ProviderModels(BaseModel):
    """What ``GET /v1/models`` said about our key."""

    model_config = ConfigDict(extra="ignore")

    http_status: int
    key_valid: bool
    rate_limited: bool
    model_ids: list[str] = Field(default_factory=list)
    message: str | None = None


class ProviderAPI(Protocol):
    """What the tools and the assistant need from the LLM provider."""

    async def list_models(self) -> ProviderModels: ...

    async def chat(
        self, model: str, messages: list[dict[str, Any]], **options: Any
    ) -> ChatCompletionResponse: ...


class MistralProvider:
    """The Mistral API over a shared :class:`httpx.AsyncClient`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        api_key: SecretStr,
        timeout_s: float,
        retries: int,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._retries = retries

    async def list_models(self) -> ProviderModels:
        """``GET /v1/models``. 401/403/429 come back as data (``key_valid``, ``rate_limited``);
        connection failures and timeouts raise :class:`UpstreamError` subclasses."""
        status, body, rec = await request_recorded(
            self._http,
            "GET",
            f"{self._base}/v1/models",
            headers={"Authorization": f"Bearer {self._api_key.get_secret_value()}"},
            timeout_s=self._timeout_s,
            retries=self._retries,
            allow_status=_PROVIDER_STATUSES,
        )
        if status in _PROVIDER_STATUSES:
            message = body.get("message") if isinstance(body, dict) else None
            rec.error = f"HTTP {status}: {message or 'no message'}"
            return ProviderModels(
                http_status=status,
                key_valid=status == 429,  # a rate-limited key is still a valid key
                rate_limited=status == 429,
                message=str(message) if message else None,
            )
        items = field_list(body, "data", rec, "a Mistral model list")
        ids = [str(item["id"]) for item in items if isinstance(item, dict) and "id" in item]
        if len(ids) != len(items):
            raise bad_response(rec, "answer is not a Mistral model list: an entry has no id")
        return ProviderModels(http_status=status, key_valid=True, rate_limited=False, model_ids=ids)

    async def chat(
        self, model: str, messages: list[dict[str, Any]], **options: Any
    ) -> ChatCompletionResponse:
        """One chat completion through the official SDK (no retries: a retry costs quota).

        ``options`` are passed to ``chat.complete_async`` (``tools``, ``response_format``, ...).
        Raises :class:`UpstreamHTTPError`, :class:`UpstreamTimeout` or :class:`UpstreamUnavailable`.
        """
        from mistralai.client import Mistral
        from mistralai.client.errors import MistralError

        url = f"{self._base}/v1/chat/completions"
        rec = RequestRecord(
            method="POST", url=url, body={"model": model, "messages": len(messages)}
        )
        record(rec)
        client = Mistral(
            api_key=self._api_key.get_secret_value(),
            server_url=self._base,
            # The SDK is typed against its vendored httpx fork; an httpx client has the same
            # build_request/send surface (the tests run the SDK over one).
            async_client=self._http,  # type: ignore[arg-type]
            timeout_ms=int(self._timeout_s * 1000),
        )
        started = time.perf_counter()
        try:
            response = await asyncio.wait_for(
                client.chat.complete_async(model=model, messages=messages, **options),  # type: ignore[arg-type]
                timeout=self._timeout_s,
            )
        except MistralError as exc:
            rec.status_code = exc.status_code
            rec.error = f"HTTP {exc.status_code}: {exc.body[:200]}"
            raise UpstreamHTTPError(
                f"POST {url}: {rec.error}", rec, status_code=exc.status_code, body=exc.body
            ) from None
        except (TimeoutError, httpx.TimeoutException):
            rec.error = f"no answer within {self._timeout_s:g} s"
            raise UpstreamTimeout(f"POST {url}: {rec.error}", rec) from None
        except httpx.TransportError as exc:
            rec.error = f"connection failed: {type(exc).__name__}: {exc}"
            raise UpstreamUnavailable(f"POST {url}: {rec.error}", rec) from None
        finally:
            rec.duration_ms = (time.perf_counter() - started) * 1000
        rec.status_code = 200
        return response
