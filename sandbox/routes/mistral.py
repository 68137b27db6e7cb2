"""A stand-in for the Mistral API: model list and chat completions, failing as ``world.provider``
says (401 invalid key, 403 forbidden, 429 rate limited, 404 unknown model)."""

from __future__ import annotations

import time
import zlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox.routes.common import Answer
from sandbox.simulation import provider_call
from sandbox.state import SandboxState
from sandbox.world import World

CREATED = 1_760_000_000


def _check_access(world: World, request: Request) -> None:
    auth = request.headers.get("authorization", "")
    provider = world.provider
    if not provider.reachable:
        raise Answer(JSONResponse({"message": "Service unavailable"}, status_code=503))
    if (
        not auth.startswith("Bearer ")
        or len(auth) <= len("Bearer ")
        or provider.auth == "invalid_key"
    ):
        raise Answer(JSONResponse({"message": "Unauthorized"}, status_code=401))
    if provider.auth == "forbidden":
        raise Answer(JSONResponse({"message": "Forbidden"}, status_code=403))
    if provider.rate_limited:
        raise Answer(JSONResponse({"message": "Requests rate limit exceeded"}, status_code=429))


def mistral_router(state: SandboxState) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        _check_access(state.world, request)
        data = [
            {
                "id": model_id,
                "object": "model",
                "created": CREATED,
                "owned_by": "mistralai" if not model_id.startswith("ft:") else "sandbox-org",
                "capabilities": {"completion_chat": True, "function_calling": True},
                "type": "fine-tuned" if model_id.startswith("ft:") else "base",
            }
            for model_id in state.world.provider.available_models
        ]
        return {"object": "list", "data": data}

    @router.post("/v1/chat/completions")
    async def chat(request: Request) -> dict[str, Any]:
        _check_access(state.world, request)
        body = await request.json()
        model = body.get("model") if isinstance(body, dict) else None
        if model not in state.world.provider.available_models:
            raise Answer(JSONResponse({"message": f"Invalid model: {model}"}, status_code=404))
        call = provider_call(state.world, str(model))
        if not call.ok:  # the model's own errors: forbidden for this key, rate limit, 5xx
            raise Answer(JSONResponse({"message": call.message}, status_code=call.code))
        messages = body.get("messages") or []
        last = (
            messages[-1].get("content", "") if messages and isinstance(messages[-1], dict) else ""
        )
        fmt = (body.get("response_format") or {}).get("type")
        content = (
            "{}"
            if fmt in ("json_object", "json_schema")
            else f"Sandbox answer to: {str(last)[:200]}"
        )
        prompt_tokens = sum(len(str(m).split()) for m in messages)
        completion_tokens = len(content.split())
        return {
            "id": f"cmpl-{zlib.crc32(str(messages).encode()):08x}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "tool_calls": None},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    return router
