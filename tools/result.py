"""The typed result every tool returns: a finding is data, never an exception."""

from __future__ import annotations

import json
import shlex
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class ToolStatus(StrEnum):
    OK = "ok"  # the tool learned something (which may be "the endpoint does not exist")
    ERROR = "error"  # the request failed in a way that says nothing about the question asked
    NO_DATA = "no_data"  # the source answered but had nothing to say (no series, no logs)
    # A change was sent, but the state read back is not the state asked for and the platform
    # replayed an earlier answer to the idempotency key: the key met another state or other
    # parameters. Never a success: the change is not in place and a person must look.
    CONFLICT = "conflict"


class RequestRecord(BaseModel):
    """The exact request a tool made, so a person can re-run it. Secrets are never stored."""

    method: str
    url: str
    params: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    form: dict[str, str] = Field(default_factory=dict)  # an urlencoded form body
    status_code: int | None = None
    duration_ms: float | None = None
    error: str | None = None
    # The platform answered with its stored reply to an earlier request under the same
    # ``Idempotency-Key`` (header ``Idempotent-Replayed: true``) instead of handling this one.
    replayed: bool | None = None

    def as_curl(self) -> str:
        """A shell command that repeats the request (without credentials)."""
        if self.method == "MLFLOW":
            return self.url
        url = self.url
        if self.params:
            from urllib.parse import urlencode

            url = f"{url}?{urlencode(self.params)}"
        parts = ["curl", "-sS", "-X", self.method, shlex.quote(url)]
        if self.body is not None:
            parts += [
                "-H",
                "'Content-Type: application/json'",
                "-d",
                shlex.quote(json.dumps(self.body)),
            ]
        for key, value in self.form.items():
            parts += ["--data-urlencode", shlex.quote(f"{key}={value}")]
        return " ".join(parts)


class ToolResult(BaseModel):
    """What a tool found: status, a one-line summary, typed evidence and the requests behind it."""

    tool: str
    params: dict[str, Any] = Field(default_factory=dict)
    status: ToolStatus
    summary: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    requests: list[RequestRecord] = Field(default_factory=list)
    error: str | None = None
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is ToolStatus.OK
