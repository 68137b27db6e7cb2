"""The local chat server's HTTP app: ``POST /v1/chat/completions`` and ``GET /v1/models`` in the
wire format, answers from a :class:`Script`; every request is kept and readable at
``GET /_local/calls``."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from localllm.script import Reply, Script, content_of

MODELS = ["mistral-small-latest", "local-model"]


def _completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    content = content_of(reply)
    message: dict[str, Any] = {"role": "assistant", "content": content, "tool_calls": None}
    if reply.tool_call is not None:
        arguments = reply.tool_call.get("arguments", "")
        message["content"] = content or ""
        message["tool_calls"] = [
            {
                "id": "call-1",
                "type": "function",
                "function": {"name": reply.tool_call.get("name", ""), "arguments": arguments},
            }
        ]
    # About 4 characters a token, as BPE tokenisers count English and JSON.
    chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
    prompt_tokens = reply.prompt_tokens if reply.prompt_tokens is not None else chars // 4 + 1
    default_completion = len(json.dumps(message.get("content") or message)) // 4 + 1
    completion = (
        reply.completion_tokens if reply.completion_tokens is not None else default_completion
    )
    return {
        "id": "cmpl-local",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
        },
    }


def _dribble(data: bytes, pause_s: float) -> AsyncIterator[bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        step = max(1, len(data) // 20)
        for i in range(0, len(data), step):
            yield data[i : i + step]
            await asyncio.sleep(pause_s)

    return chunks()


def _request_parts(body: dict[str, Any]) -> tuple[str | None, str]:
    fmt = body.get("response_format") or {}
    schema = fmt.get("json_schema") or {} if isinstance(fmt, dict) else {}
    messages = [m for m in body.get("messages", []) if isinstance(m, dict)]
    user = " ".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")
    return (schema.get("name") if isinstance(schema, dict) else None), user


def create_app(script: Script) -> FastAPI:
    app = FastAPI(title="local chat completions")
    calls: list[dict[str, Any]] = []
    app.state.calls = calls

    def refused(request: Request) -> JSONResponse | None:
        if script.api_key and request.headers.get("authorization") != f"Bearer {script.api_key}":
            return JSONResponse({"message": "Unauthorized"}, status_code=401)
        return None

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        return refused(request) or JSONResponse(
            {"object": "list", "data": [{"id": m, "object": "model"} for m in MODELS]}
        )

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        prompt, user = _request_parts(body)
        calls.append(
            {"body": body, "prompt": prompt, "incident": request.headers.get("x-incident-id")}
        )
        if (no := refused(request)) is not None:
            return no
        reply = script.reply_for(prompt, user)
        calls[-1]["status"] = reply.status
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.status != 200:
            return JSONResponse({"message": reply.message or "error"}, status_code=reply.status)
        completion = _completion(body, reply)
        calls[-1]["usage"] = completion["usage"]
        data = json.dumps(completion).encode()
        if reply.dribble_s:
            return StreamingResponse(_dribble(data, reply.dribble_s), media_type="application/json")
        return Response(data, media_type="application/json")

    @app.get("/_local/calls")
    async def recorded() -> list[dict[str, Any]]:
        return calls

    return app
