"""The two chat providers: Mistral through its SDK, any OpenAI-compatible server through httpx.

Both make exactly one HTTP request per call with an explicit deadline (the whole answer, body
included, must arrive within it: a server that dribbles a slow stream is cut off like one that
never answers) and turn every failure into :class:`LLMFailure`. Retries are the assistant's.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
from pydantic import SecretStr

from bot.llm.wire import ChatReply, ChatRequest, LLMFailure, ToolCallAnswer, failure_for_status


def _tool_call(calls: Any) -> ToolCallAnswer | None:
    """The first tool call of a message (plain JSON data), if it has one."""
    if not isinstance(calls, list) or not calls or not isinstance(calls[0], dict):
        return None
    function = calls[0].get("function")
    if not isinstance(function, dict):
        return None
    arguments = function.get("arguments")
    if not isinstance(arguments, (str, dict)):
        arguments = ""
    return ToolCallAnswer(name=str(function.get("name", "")), arguments=arguments)


def reply_from_body(body: Any, latency_ms: float) -> ChatReply:
    """A chat-completions response body (the wire format) read into a :class:`ChatReply`."""
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
        raise LLMFailure("bad_response", "the answer is not a chat completion")
    choices = body["choices"]
    message = choices[0].get("message") if choices and isinstance(choices[0], dict) else None
    message = message if isinstance(message, dict) else {}
    content = message.get("content")
    usage_body = body.get("usage")
    usage: dict[str, Any] = usage_body if isinstance(usage_body, dict) else {}
    return ChatReply(
        content=content if isinstance(content, str) else None,
        tool_call=_tool_call(message.get("tool_calls")),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        latency_ms=latency_ms,
    )


class OpenAICompatibleChat:
    """``POST {base}/v1/chat/completions`` on a self-hosted server (vLLM, Ollama, llama.cpp)."""

    name = "openai-compatible"

    def __init__(self, base_url: str, api_key: SecretStr, http: httpx.AsyncClient) -> None:
        self._url = base_url.rstrip("/") + "/v1/chat/completions"
        self._key = api_key
        self._http = http

    async def complete(self, request: ChatRequest, timeout_s: float) -> ChatReply:
        headers = {"Content-Type": "application/json", **request.headers()}
        if self._key.get_secret_value():
            headers["Authorization"] = f"Bearer {self._key.get_secret_value()}"
        body = {
            "model": request.model,
            "messages": request.messages(),
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "response_format": request.response_format(),
        }
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s):
                response = await self._http.post(
                    self._url, json=body, headers=headers, timeout=timeout_s
                )
        except (TimeoutError, httpx.TimeoutException):
            raise LLMFailure("timeout", f"no answer within {timeout_s:g} s") from None
        except httpx.TransportError as exc:
            raise LLMFailure("unavailable", f"{type(exc).__name__}: {exc}") from None
        latency = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise failure_for_status(response.status_code, response.text[:200])
        try:
            parsed = response.json()
        except json.JSONDecodeError:
            raise LLMFailure("bad_response", "the answer is not JSON") from None
        return reply_from_body(parsed, latency)


class MistralChat:
    """The Mistral API through the official SDK (``mistralai.client``), on ``base_url`` so that
    tests reach a local server. The SDK's own retries stay off: the assistant owns the budget."""

    name = "mistral"

    def __init__(self, base_url: str, api_key: SecretStr, http: httpx.AsyncClient) -> None:
        from mistralai.client import Mistral

        self._client = Mistral(
            api_key=api_key.get_secret_value(),
            server_url=base_url.rstrip("/"),
            # Typed against the SDK's vendored httpx; an httpx client has the same surface.
            async_client=http,  # type: ignore[arg-type]
        )

    async def complete(self, request: ChatRequest, timeout_s: float) -> ChatReply:
        from mistralai.client.errors import MistralError, NoResponseError

        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s):
                response = await self._client.chat.complete_async(
                    model=request.model,
                    messages=request.messages(),  # type: ignore[arg-type]
                    temperature=request.temperature,
                    max_tokens=request.max_tokens,
                    response_format=request.response_format(),  # type: ignore[arg-type]
                    timeout_ms=int(timeout_s * 1000),
                    http_headers=request.headers(),
                )
        except (TimeoutError, httpx.TimeoutException):
            raise LLMFailure("timeout", f"no answer within {timeout_s:g} s") from None
        except MistralError as exc:
            if exc.status_code == 200:
                raise LLMFailure("bad_response", exc.message[:200]) from None
            raise failure_for_status(exc.status_code, exc.body[:200]) from None
        except (httpx.TransportError, NoResponseError) as exc:
            raise LLMFailure("unavailable", f"{type(exc).__name__}: {exc}") from None
        latency = (time.perf_counter() - started) * 1000
        return reply_from_body(response.model_dump(mode="json", by_alias=True), latency)
