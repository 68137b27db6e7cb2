"""The Mistral adapter: the model list over our HTTP core, and chat through the official SDK,
both against hand-written answers and against the sandbox's stand-in over ASGI."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from sandbox.platform import SANDBOX_API_KEY
from sandbox.runtime import Sandbox
from tools.clients.errors import BadResponse, UpstreamHTTPError
from tools.clients.http import recording
from tools.clients.mistral import MistralProvider

BASE = "https://api.mistral.example"


def provider(handler: Callable[[httpx.Request], httpx.Response]) -> MistralProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return MistralProvider(client, BASE, api_key=SecretStr("s3cret"), timeout_s=2.0, retries=1)


async def test_list_models_sends_the_key_and_records_no_secret() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Bearer s3cret"
        data = [{"id": "open-mistral-7b", "object": "model", "new": 1}, {"id": "ft:x"}]
        return httpx.Response(200, json={"object": "list", "data": data})

    with recording() as requests:
        models = await provider(handler).list_models()
    assert models.model_ids == ["open-mistral-7b", "ft:x"] and models.key_valid
    assert "s3cret" not in requests[0].model_dump_json()


@pytest.mark.parametrize(
    ("status", "message", "key_valid", "rate_limited"),
    [
        (401, "Unauthorized", False, False),
        (403, "Forbidden", False, False),
        (429, "Requests rate limit exceeded", True, True),
    ],
)
async def test_key_and_quota_answers_are_data(
    status: int, message: str, key_valid: bool, rate_limited: bool
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"message": message})

    with recording() as requests:
        models = await provider(handler).list_models()
    assert (models.http_status, models.key_valid, models.rate_limited) == (
        status,
        key_valid,
        rate_limited,
    )
    assert models.message == message and models.model_ids == []
    assert requests[0].error == f"HTTP {status}: {message}"


async def test_model_list_without_ids_is_a_bad_response() -> None:
    with pytest.raises(BadResponse):
        await provider(
            lambda r: httpx.Response(200, json={"data": [{"object": "model"}]})
        ).list_models()


async def test_sdk_chat_runs_over_our_client() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url == f"{BASE}/v1/chat/completions"
        assert request.headers["Authorization"] == "Bearer s3cret"
        body = json.loads(request.content)
        return httpx.Response(
            200,
            json={
                "id": "c1",
                "object": "chat.completion",
                "created": 1,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "OK"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
            },
        )

    with recording() as requests:
        response = await provider(handler).chat("m-1", [{"role": "user", "content": "hi"}])
    assert response.choices[0].message.content == "OK"
    assert requests[0].status_code == 200 and requests[0].body == {"model": "m-1", "messages": 1}


async def test_sdk_chat_errors_become_upstream_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"message": "Requests rate limit exceeded"})

    with recording() as requests, pytest.raises(UpstreamHTTPError) as caught:
        await provider(handler).chat("m-1", [{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 429
    assert "rate limit" in (requests[0].error or "")


async def test_sdk_against_the_sandbox_stand_in(sandbox: Sandbox) -> None:
    async with sandbox.http_client() as http:
        mistral = MistralProvider(
            http, "http://sandbox/mistral", api_key=SANDBOX_API_KEY, timeout_s=5.0, retries=0
        )
        models = await mistral.list_models()
        model = models.model_ids[0]
        response = await mistral.chat(model, [{"role": "user", "content": "ping"}])
        assert response.choices[0].message.content
        with pytest.raises(UpstreamHTTPError) as caught:
            await mistral.chat("no-such-model", [{"role": "user", "content": "ping"}])
        assert caught.value.status_code == 404

        await sandbox.inject("provider.invalid_key")
        refused = await mistral.list_models()
        assert refused.http_status == 401 and not refused.key_valid
