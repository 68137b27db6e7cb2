"""Agent gateway adapter: the HTTP API in front of the fine-tuned agent fleet.

Routes and answers are those of docs/sandbox-api.md ("Agent gateway").
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field

from tools.clients.wire import field_list, parse_model, request_recorded
from tools.result import RequestRecord


class _Loose(BaseModel):
    # Parse loosely: the gateway may add fields, and status strings are kept as they come.
    model_config = ConfigDict(extra="ignore")


class GatewayHealth(_Loose):
    status: str = "unknown"  # ok | degraded | down (kept as a string: unknown values survive)
    agents: dict[str, str] = Field(default_factory=dict)
    # A newer provider key waits in the secret store than the one the gateway loaded at start.
    key_rotation_pending: bool | None = None


class AgentState(_Loose):
    agent: str
    status: str = "unknown"
    finetuned_model: str | None = None
    baseline_model: str | None = None
    use_finetuned: bool | None = None
    use_fallback: bool | None = None
    rollout_percentage: int | None = None
    last_error: str | None = None
    # The serving endpoint the fine-tuned model is served from (None: the provider serves it).
    endpoint: str | None = None


class ChatAnswer(_Loose):
    content: str | None = None
    model_used: str | None = None
    fell_back: bool = False
    error: str | None = None
    http_status: int = 200

    @property
    def answered(self) -> bool:
        return self.http_status < 400 and self.model_used is not None


class GatewayLogLine(_Loose):
    timestamp: float | str | None = None
    level: str = "INFO"
    source: str = ""
    message: str = ""


class RestartAnswer(_Loose):
    restarted: bool = False
    at: float | None = None


class GatewayAPI(Protocol):
    """What the tools need from the agent gateway."""

    async def health(self) -> GatewayHealth: ...

    async def agent_health(self, agent: str) -> AgentState: ...

    async def list_agents(self) -> list[AgentState]: ...

    async def chat(
        self,
        agent: str,
        messages: list[dict[str, str]],
        use_finetuned: bool = True,
        use_fallback: bool = True,
    ) -> ChatAnswer: ...

    async def logs(
        self, since_minutes: int = 60, level: str | None = None, source: str | None = None
    ) -> list[GatewayLogLine]: ...

    async def patch_agent(
        self, agent: str, changes: dict[str, Any], idempotency_key: str
    ) -> AgentState: ...

    async def restart(self, idempotency_key: str) -> RestartAnswer: ...


class AgentGateway:
    """The gateway's HTTP API over a shared :class:`httpx.AsyncClient`."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, *, timeout_s: float, retries: int):
        self._http = http
        self._base = base_url.rstrip("/")
        self._timeout_s = timeout_s
        self._retries = retries

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        allow_status: frozenset[int] = frozenset(),
        retries: int | None = None,
    ) -> tuple[int, Any, RequestRecord]:
        return await request_recorded(
            self._http,
            method,
            f"{self._base}{path}",
            params=params,
            json=json,
            headers=headers,
            timeout_s=self._timeout_s,
            retries=self._retries if retries is None else retries,
            allow_status=allow_status,
        )

    async def health(self) -> GatewayHealth:
        """``GET /health``: the gateway's status and each agent's."""
        _, body, rec = await self._call("GET", "/health")
        return parse_model(GatewayHealth, body, rec, "a gateway health answer")

    async def agent_health(self, agent: str) -> AgentState:
        """``GET /health/{agent}``. Raises :class:`NotFound`, whose ``body`` lists known agents."""
        _, body, rec = await self._call("GET", f"/health/{quote(agent, safe='')}")
        return parse_model(AgentState, body, rec, "an agent health answer")

    async def list_agents(self) -> list[AgentState]:
        """``GET /agents``: every agent with its configuration."""
        _, body, rec = await self._call("GET", "/agents")
        items = field_list(body, "agents", rec, "an agent list")
        return [parse_model(AgentState, item, rec, "an agent list") for item in items]

    async def chat(
        self,
        agent: str,
        messages: list[dict[str, str]],
        use_finetuned: bool = True,
        use_fallback: bool = True,
    ) -> ChatAnswer:
        """``POST /agents/{agent}/chat``. A 502 (neither model answered) is an answer, not an error.

        Not retried: a chat costs provider quota, and a retry would hide the first failure.
        """
        status, body, rec = await self._call(
            "POST",
            f"/agents/{quote(agent, safe='')}/chat",
            json={
                "messages": messages,
                "use_finetuned": use_finetuned,
                "use_fallback": use_fallback,
            },
            allow_status=frozenset({502}),
            retries=0,
        )
        answer = parse_model(ChatAnswer, body, rec, "a chat answer")
        answer.http_status = status
        return answer

    async def logs(
        self, since_minutes: int = 60, level: str | None = None, source: str | None = None
    ) -> list[GatewayLogLine]:
        """``GET /logs``: raw (unredacted) log lines; redact before showing them to anyone."""
        params = {"since_minutes": str(int(since_minutes))}
        if level:
            params["level"] = level
        if source:
            params["source"] = source
        _, body, rec = await self._call("GET", "/logs", params=params)
        items = field_list(body, "lines", rec, "a log answer")
        return [parse_model(GatewayLogLine, item, rec, "a log answer") for item in items]

    async def patch_agent(
        self, agent: str, changes: dict[str, Any], idempotency_key: str
    ) -> AgentState:
        """``PATCH /agents/{agent}/config`` with only the fields to change."""
        _, body, rec = await self._call(
            "PATCH",
            f"/agents/{quote(agent, safe='')}/config",
            json=changes,
            headers={"Idempotency-Key": idempotency_key},
        )
        return parse_model(AgentState, body, rec, "an agent answer")

    async def restart(self, idempotency_key: str) -> RestartAnswer:
        """``POST /restart``: the gateway re-reads its provider credentials."""
        _, body, rec = await self._call(
            "POST", "/restart", headers={"Idempotency-Key": idempotency_key}
        )
        return parse_model(RestartAnswer, body, rec, "a restart answer")
