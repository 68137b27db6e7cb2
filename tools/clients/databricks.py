"""Databricks Model Serving adapter: serving endpoints, pipelines, workspace files, audit events.

Every answer is parsed loosely (unknown keys ignored, enum values kept as plain strings) because a
newer workspace adds fields and states we must not choke on in the middle of an incident.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tools.clients.errors import BadResponse
from tools.clients.http import request_json
from tools.result import RequestRecord

M = TypeVar("M", bound=BaseModel)


class Wire(BaseModel):
    """Base of every wire model: tolerant of what the platform adds later."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class EndpointState(Wire):
    ready: str = ""
    config_update: str = ""


class DeploymentStatus(Wire):
    deployment: str = ""
    deployment_state_message: str = ""


class ServedEntity(Wire):
    name: str = ""
    entity_name: str = ""
    entity_version: str = ""
    workload_size: str = ""
    workload_type: str = ""
    scale_to_zero_enabled: bool = False
    state: DeploymentStatus = Field(default_factory=DeploymentStatus)

    @model_validator(mode="before")
    @classmethod
    def _legacy_served_model(cls, data: Any) -> Any:
        # Older endpoints describe `served_models` with model_name / model_version.
        if isinstance(data, dict):
            data = dict(data)
            data.setdefault("entity_name", data.get("model_name", ""))
            data.setdefault("entity_version", data.get("model_version", ""))
            if data.get("entity_version") is not None:
                data["entity_version"] = str(data["entity_version"])
        return data

    def to_request(self) -> dict[str, Any]:
        """The entity as the config update request expects it."""
        fields: dict[str, Any] = {
            "name": self.name,
            "entity_name": self.entity_name,
            "entity_version": self.entity_version,
            "workload_size": self.workload_size,
            "workload_type": self.workload_type,
        }
        # An empty field is one the platform did not tell us: leave it to the platform's default.
        return {k: v for k, v in fields.items() if v} | {
            "scale_to_zero_enabled": self.scale_to_zero_enabled
        }


class Route(Wire):
    served_entity_name: str = ""
    traffic_percentage: int = 0

    @model_validator(mode="before")
    @classmethod
    def _legacy_served_model_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("served_entity_name"):
            data = {**data, "served_entity_name": data.get("served_model_name", "")}
        return data


class TrafficConfig(Wire):
    routes: list[Route] = Field(default_factory=list)


class EndpointConfig(Wire):
    served_entities: list[ServedEntity] = Field(default_factory=list)
    traffic_config: TrafficConfig = Field(default_factory=TrafficConfig)

    @model_validator(mode="before")
    @classmethod
    def _legacy_served_models(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("served_entities") and data.get("served_models"):
            data = {**data, "served_entities": data["served_models"]}
        return data

    def to_request(self) -> dict[str, Any]:
        """The body of ``PUT .../config`` (and the ``config`` of a create) for this config."""
        return {
            "served_entities": [e.to_request() for e in self.served_entities],
            "traffic_config": {
                "routes": [
                    {
                        "served_entity_name": r.served_entity_name,
                        "traffic_percentage": r.traffic_percentage,
                    }
                    for r in self.traffic_config.routes
                ]
            },
        }


class Tag(Wire):
    key: str
    value: str = ""


class ServingEndpoint(Wire):
    name: str
    id: str = ""
    creator: str = ""
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    state: EndpointState = Field(default_factory=EndpointState)
    config: EndpointConfig = Field(default_factory=EndpointConfig)
    pending_config: EndpointConfig | None = None
    tags: list[Tag] = Field(default_factory=list)


class PipelineStatus(Wire):
    pipeline_id: str
    name: str = ""
    state: str = ""


class LibraryFile(Wire):
    path: str = ""


class Library(Wire):
    file: LibraryFile | None = None
    notebook: LibraryFile | None = None

    @property
    def path(self) -> str | None:
        source = self.file or self.notebook
        return source.path if source and source.path else None


class PipelineSpec(Wire):
    libraries: list[Library] = Field(default_factory=list)
    configuration: dict[str, str] = Field(default_factory=dict)


class PipelineDetail(Wire):
    pipeline_id: str
    name: str = ""
    state: str = ""
    spec: PipelineSpec = Field(default_factory=PipelineSpec)
    latest_updates: list[dict[str, Any]] = Field(default_factory=list)


class AuditEvent(Wire):
    timestamp: int
    type: str
    resource: str = ""
    actor: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
    config: EndpointConfig | None = None


class Invocation(Wire):
    """One invocation's answer: kept even when the endpoint answered with an error status."""

    http_status: int
    body: Any = None
    latency_ms: float = 0.0

    @property
    def error_code(self) -> str | None:
        if isinstance(self.body, dict) and self.body.get("error_code"):
            return str(self.body["error_code"])
        return None

    @property
    def error_message(self) -> str | None:
        if isinstance(self.body, dict) and self.http_status >= 400:
            message = self.body.get("message") or self.body.get("error")
            return str(message) if message else None
        return None

    @property
    def predictions(self) -> list[Any] | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("predictions"), list):
            return list(self.body["predictions"])
        return None


class ServingAPI(Protocol):
    """What the tools need from the serving platform."""

    async def get_endpoint(self, name: str) -> ServingEndpoint: ...
    async def list_endpoints(self) -> list[ServingEndpoint]: ...
    async def create_endpoint(
        self, name: str, config: EndpointConfig, *, idempotency_key: str
    ) -> ServingEndpoint: ...
    async def update_config(
        self, name: str, config: EndpointConfig, *, idempotency_key: str
    ) -> ServingEndpoint | None: ...
    async def delete_endpoint(self, name: str, *, idempotency_key: str) -> None: ...
    async def invoke(self, name: str, payload: dict[str, Any]) -> Invocation: ...
    async def list_pipelines(self) -> list[PipelineStatus]: ...
    async def get_pipeline(self, pipeline_id: str) -> PipelineDetail: ...
    async def export_source(self, path: str) -> str: ...
    async def serving_events(self, resource: str, since_minutes: float) -> list[AuditEvent]: ...


# Statuses an invocation may answer with that are findings about the model, not adapter failures.
_INVOCATION_FINDINGS = frozenset({400, 404, 422, 429, 500, 503})


class DatabricksServing:
    """:class:`ServingAPI` over the Databricks REST API (or the sandbox, which speaks it)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        token: str = "",
        timeout_s: float,
        retries: int,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout_s = timeout_s
        self._retries = retries

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
        allow_status: frozenset[int] = frozenset(),
    ) -> tuple[int, Any]:
        headers = dict(self._headers)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return await request_json(
            self._http,
            method,
            f"{self._base}{path}",
            params=params,
            json=json,
            headers=headers,
            timeout_s=self._timeout_s,
            retries=self._retries,
            allow_status=allow_status,
        )

    def _parse(self, model: type[M], body: Any, method: str, path: str) -> M:
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            url = f"{self._base}{path}"
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"]) or "body"
            reason = f"{method} {url}: unexpected answer ({where}: {problem['msg']})"
            raise BadResponse(reason, RequestRecord(method=method, url=url, error=reason)) from None

    def _items(self, body: Any, key: str, method: str, path: str) -> list[Any]:
        if body is None:
            return []
        items = body.get(key, []) if isinstance(body, dict) else None
        if not isinstance(items, list):
            url = f"{self._base}{path}"
            reason = f"{method} {url}: unexpected answer (no list under {key!r})"
            raise BadResponse(reason, RequestRecord(method=method, url=url, error=reason))
        return items

    async def get_endpoint(self, name: str) -> ServingEndpoint:
        """One endpoint. Raises :class:`NotFound` when it does not exist."""
        path = f"/api/2.0/serving-endpoints/{quote(name, safe='')}"
        _, body = await self._call("GET", path)
        return self._parse(ServingEndpoint, body, "GET", path)

    async def list_endpoints(self) -> list[ServingEndpoint]:
        """Every endpoint of the workspace."""
        path = "/api/2.0/serving-endpoints"
        _, body = await self._call("GET", path)
        return [
            self._parse(ServingEndpoint, e, "GET", path)
            for e in self._items(body, "endpoints", "GET", path)
        ]

    async def create_endpoint(
        self, name: str, config: EndpointConfig, *, idempotency_key: str
    ) -> ServingEndpoint:
        """Create an endpoint. Raises :class:`Conflict` when one with that name exists."""
        path = "/api/2.0/serving-endpoints"
        request = {"name": name, "config": config.to_request()}
        _, body = await self._call("POST", path, json=request, idempotency_key=idempotency_key)
        if isinstance(body, dict) and "name" in body:
            return self._parse(ServingEndpoint, body, "POST", path)
        return ServingEndpoint(name=name, config=config)

    async def update_config(
        self, name: str, config: EndpointConfig, *, idempotency_key: str
    ) -> ServingEndpoint | None:
        """Replace the served entities and traffic routes (a new deployment). Returns the endpoint
        when the platform answers with it (a replayed answer is the first call's endpoint)."""
        path = f"/api/2.0/serving-endpoints/{quote(name, safe='')}/config"
        _, body = await self._call(
            "PUT", path, json=config.to_request(), idempotency_key=idempotency_key
        )
        if isinstance(body, dict) and "name" in body:
            return self._parse(ServingEndpoint, body, "PUT", path)
        return None

    async def delete_endpoint(self, name: str, *, idempotency_key: str) -> None:
        """Delete an endpoint."""
        path = f"/api/2.0/serving-endpoints/{quote(name, safe='')}"
        await self._call("DELETE", path, idempotency_key=idempotency_key)

    async def invoke(self, name: str, payload: dict[str, Any]) -> Invocation:
        """Send one request to the endpoint; model-level errors are returned, not raised."""
        path = f"/serving-endpoints/{quote(name, safe='')}/invocations"
        started = time.perf_counter()
        status, body = await self._call(
            "POST", path, json=payload, allow_status=_INVOCATION_FINDINGS
        )
        latency_ms = (time.perf_counter() - started) * 1000
        return Invocation(http_status=status, body=body, latency_ms=latency_ms)

    async def list_pipelines(self) -> list[PipelineStatus]:
        """Every pipeline of the workspace (id, name, state)."""
        path = "/api/2.0/pipelines"
        _, body = await self._call("GET", path)
        return [
            self._parse(PipelineStatus, p, "GET", path)
            for p in self._items(body, "statuses", "GET", path)
        ]

    async def get_pipeline(self, pipeline_id: str) -> PipelineDetail:
        """One pipeline with its spec (source files, configuration)."""
        path = f"/api/2.0/pipelines/{quote(pipeline_id, safe='')}"
        _, body = await self._call("GET", path)
        return self._parse(PipelineDetail, body, "GET", path)

    async def export_source(self, path: str) -> str:
        """The source text of a workspace file (the SQL of a pipeline)."""
        api = "/api/2.0/workspace/export"
        _, body = await self._call("GET", api, params={"path": path, "format": "SOURCE"})
        content = body.get("content") if isinstance(body, dict) else None
        try:
            if not isinstance(content, str):
                raise ValueError("no content")
            return base64.b64decode(content, validate=True).decode("utf-8")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            url = f"{self._base}{api}"
            reason = f"GET {url}: workspace export of {path!r} is not base64 text"
            raise BadResponse(
                reason, RequestRecord(method="GET", url=url, params={"path": path}, error=reason)
            ) from None

    async def serving_events(self, resource: str, since_minutes: float) -> list[AuditEvent]:
        """Audit events about one resource (endpoint, model or agent), newest last or first."""
        path = "/api/2.0/audit/serving-events"
        params = {"resource": resource, "since_minutes": f"{since_minutes:g}"}
        _, body = await self._call("GET", path, params=params)
        return [
            self._parse(AuditEvent, e, "GET", path)
            for e in self._items(body, "events", "GET", path)
        ]
