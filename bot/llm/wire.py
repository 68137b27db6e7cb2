"""What the assistant sends to a chat-completions provider and what it reads back, independent of
the provider (the Mistral SDK or an OpenAI-compatible server over httpx)."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

FailureKind = Literal[
    "unauthorised", "rate_limited", "http_error", "timeout", "unavailable", "bad_response"
]


class ChatRequest(BaseModel):
    """One chat completion: a system and a user message and a JSON schema for the answer."""

    model_config = ConfigDict(frozen=True)

    model: str
    system: str
    user: str
    schema_name: str
    json_schema: dict[str, Any]
    temperature: float = 0
    max_tokens: int = Field(gt=0)
    # Sent as ``X-Incident-Id``: an opaque id that lets a provider's logs (and the eval's stand-in)
    # count calls per incident. Never anything from the incident's content.
    incident_id: str | None = None

    def headers(self) -> dict[str, str]:
        return {"X-Incident-Id": self.incident_id} if self.incident_id else {}

    def messages(self) -> list[dict[str, Any]]:
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]

    def response_format(self) -> dict[str, Any]:
        """``response_format`` of the wire format: the answer must match ``json_schema``."""
        return {
            "type": "json_schema",
            "json_schema": {"name": self.schema_name, "schema": self.json_schema, "strict": True},
        }


class ToolCallAnswer(BaseModel):
    """A structured answer given as a tool call; ``arguments`` may be a JSON string or an
    object (both occur on the wire). It is only read, never run."""

    name: str
    arguments: str | dict[str, Any]


class ChatReply(BaseModel):
    """What came back: text and/or a tool call, and the tokens it cost."""

    content: str | None = None
    tool_call: ToolCallAnswer | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0


class LLMFailure(Exception):
    """The provider gave no answer: a status (401, 429, 5xx), a timeout or no connection."""

    def __init__(self, kind: FailureKind, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind
        self.status_code = status_code

    @property
    def retryable(self) -> bool:
        """A 401 will not get better by asking again; the rest may."""
        return self.kind != "unauthorised"


class ChatProvider(Protocol):
    """A chat-completions provider; one call, no retries (the assistant owns the budget)."""

    name: str

    async def complete(self, request: ChatRequest, timeout_s: float) -> ChatReply: ...


def failure_for_status(status: int, message: str) -> LLMFailure:
    if status in (401, 403):
        return LLMFailure("unauthorised", f"HTTP {status}: {message}", status)
    if status == 429:
        return LLMFailure("rate_limited", f"HTTP 429: {message}", status)
    return LLMFailure("http_error", f"HTTP {status}: {message}", status)
