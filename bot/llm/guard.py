"""The answer of a model is untrusted: parsed, validated against the prompt's JSON schema and
checked against what the caller offered, or refused. Nothing here runs anything it says."""

from __future__ import annotations

import json
from typing import Any

from bot.llm.wire import ChatReply


class InvalidAnswer(ValueError):
    """The answer does not match the schema (or chose something that was not offered)."""


def _decode(raw: str | dict[str, Any]) -> Any:
    if isinstance(raw, dict):
        return raw
    text = raw.strip()
    if text.startswith("```"):  # a fenced JSON block: take what is between the fences
        text = text.strip("`").removeprefix("json").strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidAnswer(f"not JSON: {exc.msg} at {exc.pos}") from None


def answer_document(reply: ChatReply, schema_name: str) -> Any:
    """The JSON document of a reply: its content, or the arguments of a tool call named after
    the schema (a string or an object). A call of any other tool is refused, never run."""
    if reply.content and reply.content.strip():
        return _decode(reply.content)
    if reply.tool_call is not None:
        if reply.tool_call.name != schema_name:
            raise InvalidAnswer(f"called a tool that was not offered: {reply.tool_call.name!r}")
        return _decode(reply.tool_call.arguments)
    raise InvalidAnswer("empty answer")


def validated(reply: ChatReply, schema_name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The reply's document when it matches ``schema``; :class:`InvalidAnswer` otherwise."""
    import jsonschema  # type: ignore[import-untyped]  # 50 ms, paid by LLM_MODE=mistral only

    document = answer_document(reply, schema_name)
    try:
        jsonschema.validate(document, schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(answer)"
        raise InvalidAnswer(f"{where}: {exc.message[:200]}") from None
    if not isinstance(document, dict):
        raise InvalidAnswer("the answer is not an object")
    return document


def estimate_tokens(*texts: str) -> int:
    """A conservative token estimate (about 4 characters a token) to check a budget before a
    call; the provider's own count replaces it afterwards."""
    return sum(len(t) for t in texts) // 3 + 1
