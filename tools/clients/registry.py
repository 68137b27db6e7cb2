"""MLflow model registry adapter over the real ``MlflowClient``.

MLflow's client is synchronous, so each call runs in a worker thread under one deadline. Each call
is recorded as the equivalent client call, e.g.
``MlflowClient().get_model_version_by_alias('m', 'champion')``, so a person can repeat it.
mlflow is imported lazily: importing it takes about two seconds and the bot must start fast.
A version's signature is read from its ``MLmodel`` file alone and parsed here: mlflow's signature
classes need numpy, which the bot does not install.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field

from tools.clients.errors import (
    BadResponse,
    NotFound,
    UpstreamError,
    UpstreamHTTPError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tools.clients.http import record
from tools.result import RequestRecord

if TYPE_CHECKING:
    from mlflow import MlflowClient

T = TypeVar("T")


class RegisteredModelInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    aliases: dict[str, str] = Field(default_factory=dict, description="alias -> version")
    creation_timestamp: int | None = None  # epoch ms
    last_updated_timestamp: int | None = None


class ModelVersionInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    version: str
    status: str = "READY"  # PENDING_REGISTRATION | FAILED_REGISTRATION | READY (kept as a string)
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    aliases: list[str] = Field(default_factory=list)
    source: str = ""
    run_id: str | None = None
    creation_timestamp: int | None = None  # epoch ms
    last_updated_timestamp: int | None = None


class SignatureField(BaseModel):
    """One column of an MLflow column-based signature (tensor specs keep their type only)."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    type: str = "unknown"
    required: bool = True


class RegistryAPI(Protocol):
    """What the tools need from a model registry."""

    async def connect(self) -> None: ...

    async def get_model(self, name: str) -> RegisteredModelInfo: ...

    async def list_models(self) -> list[str]: ...

    async def search_versions(self, name: str) -> list[ModelVersionInfo]: ...

    async def get_version(self, name: str, version: str) -> ModelVersionInfo: ...

    async def aliases(self, name: str) -> dict[str, str]: ...

    async def version_by_alias(self, name: str, alias: str) -> ModelVersionInfo: ...

    async def signature(
        self, name: str, version: str
    ) -> tuple[list[SignatureField], list[SignatureField]]: ...

    async def set_alias(self, name: str, alias: str, version: str) -> None: ...


def _in_daemon_thread(fn: Callable[[], T]) -> asyncio.Future[T]:
    """Run ``fn`` in a daemon thread. Not ``asyncio.to_thread``: MLflow's REST client retries a
    dead server for minutes, and the default executor's threads are joined when the event loop
    closes, so one abandoned call would hold up shutdown long after we stopped waiting for it."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():  # cancelled by the deadline: nobody is waiting any more
            outcome()

    def work() -> None:
        try:
            result = fn()
        except BaseException as exc:
            done: Callable[[], None] = partial(future.set_exception, exc)
        else:
            done = partial(future.set_result, result)
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle, done)

    threading.Thread(target=work, name="mlflow-call", daemon=True).start()
    return future


def _version_info(mv: Any) -> ModelVersionInfo:
    return ModelVersionInfo(
        name=mv.name,
        version=str(mv.version),
        status=str(mv.status or "READY"),
        description=mv.description or "",
        tags=dict(mv.tags or {}),
        aliases=list(mv.aliases or []),
        source=mv.source or "",
        run_id=mv.run_id or None,
        creation_timestamp=mv.creation_timestamp,
        last_updated_timestamp=mv.last_updated_timestamp,
    )


def spark_type(col: Any) -> str:
    """A column spec's type as an ``ai_query`` returnType spells it: MLflow writes an array as
    ``{"type": "array", "items": {...}}`` and a struct as ``{"type": "object", "properties":
    {...}}``, a pipeline as ``ARRAY<...>`` and ``STRUCT<name: ...>``."""
    if not isinstance(col, dict):
        return "unknown"
    kind = str(col.get("type") or "unknown").lower()
    if kind == "array":
        return f"array<{spark_type(col.get('items'))}>"
    if kind == "map":
        return f"map<string, {spark_type(col.get('values'))}>"
    if kind == "object":
        props = col.get("properties")
        fields = props.items() if isinstance(props, dict) else []
        return "struct<" + ", ".join(f"{name}: {spark_type(sub)}" for name, sub in fields) + ">"
    return kind


def parse_signature_fields(raw: Any) -> list[SignatureField]:
    """The columns of one side of an ``MLmodel`` signature (a JSON string, or already parsed)."""
    if raw in (None, ""):
        return []
    data = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(data, list):
        raise ValueError(f"signature side is not a list: {str(data)[:100]}")
    return [
        SignatureField.model_validate({**col, "type": spark_type(col)})
        for col in data
        if isinstance(col, dict)
    ]


def _call_text(method: str, *args: str) -> str:
    return f"MlflowClient().{method}({', '.join(repr(a) for a in args)})"


class MlflowRegistry:
    """The MLflow registry at ``tracking_uri`` (also used as the registry URI)."""

    def __init__(self, tracking_uri: str, *, timeout_s: float) -> None:
        self._uri = tracking_uri
        self._timeout_s = timeout_s
        self._client: MlflowClient | None = None

    def _mlflow(self) -> MlflowClient:
        # Built on first use, in the worker thread: the import and a SQL store's set-up are slow.
        if self._client is None:
            from mlflow import MlflowClient

            # An empty URI means mlflow's own default (MLFLOW_TRACKING_URI or ./mlruns).
            uri = self._uri or None
            self._client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        return self._client

    async def connect(self) -> None:
        """Build the client now rather than on the first call: importing mlflow and setting up
        a SQL store is local work (seconds on a cold start, about 0.1 s warm). A long-running
        bot pays it once; the first call pays it otherwise, outside its deadline."""
        if self._client is None:
            await _in_daemon_thread(self._mlflow)

    async def _run(self, call_text: str, fn: Callable[[MlflowClient], T]) -> T:
        await self.connect()  # local set-up must not eat the call's deadline
        rec = RequestRecord(method="MLFLOW", url=call_text)
        record(rec)
        started = time.perf_counter()
        try:
            result = await asyncio.wait_for(
                _in_daemon_thread(lambda: fn(self._mlflow())), timeout=self._timeout_s
            )
        except TimeoutError:
            rec.error = f"no answer within {self._timeout_s:g} s"
            raise UpstreamTimeout(f"{call_text}: {rec.error}", rec) from None
        except UpstreamError:
            raise
        except Exception as exc:
            raise _map_error(exc, call_text, rec) from None
        finally:
            rec.duration_ms = (time.perf_counter() - started) * 1000
        rec.status_code = 200
        return result

    async def get_model(self, name: str) -> RegisteredModelInfo:
        """The registered model (description, tags, aliases). Raises :class:`NotFound`."""
        rm = await self._run(
            _call_text("get_registered_model", name), lambda c: c.get_registered_model(name)
        )
        return RegisteredModelInfo(
            name=rm.name,
            description=rm.description or "",
            tags=dict(rm.tags or {}),
            aliases={str(k): str(v) for k, v in (rm.aliases or {}).items()},
            creation_timestamp=rm.creation_timestamp,
            last_updated_timestamp=rm.last_updated_timestamp,
        )

    async def list_models(self) -> list[str]:
        """Every registered model's name (for did-you-mean suggestions)."""

        def names(c: MlflowClient) -> list[str]:
            found: list[str] = []
            token: str | None = None
            while True:
                page = c.search_registered_models(max_results=1000, page_token=token)
                found += [m.name for m in page]
                token = page.token
                if not token:
                    return found

        return await self._run(_call_text("search_registered_models"), names)

    async def search_versions(self, name: str) -> list[ModelVersionInfo]:
        """Every version of ``name``, oldest first (empty when the model has none or is unknown)."""
        escaped = name.replace("'", "\\'")
        query = f"name='{escaped}'"
        versions = await self._run(
            _call_text("search_model_versions", query), lambda c: c.search_model_versions(query)
        )
        infos = [_version_info(mv) for mv in versions]
        return sorted(
            infos, key=lambda v: (int(v.version) if v.version.isdigit() else 0, v.version)
        )

    async def get_version(self, name: str, version: str) -> ModelVersionInfo:
        """One version. Raises :class:`NotFound`."""
        mv = await self._run(
            _call_text("get_model_version", name, version),
            lambda c: c.get_model_version(name, version),
        )
        return _version_info(mv)

    async def aliases(self, name: str) -> dict[str, str]:
        """The model's aliases, alias → version. Raises :class:`NotFound`."""
        return (await self.get_model(name)).aliases

    async def version_by_alias(self, name: str, alias: str) -> ModelVersionInfo:
        """The version an alias points to. :class:`NotFound` for an unknown model or alias."""
        mv = await self._run(
            _call_text("get_model_version_by_alias", name, alias),
            lambda c: c.get_model_version_by_alias(name, alias),
        )
        return _version_info(mv)

    async def signature(
        self, name: str, version: str
    ) -> tuple[list[SignatureField], list[SignatureField]]:
        """``(inputs, outputs)`` from the version's ``MLmodel`` file; both empty when the model was
        logged without a signature. Only that one file is downloaded, never the weights."""
        info = await self.get_version(name, version)
        if not info.source:
            raise BadResponse(
                f"model {name} version {version} has no artifact source",
                RequestRecord(method="MLFLOW", url=_call_text("get_model_version", name, version)),
            )
        artifact_uri = f"{info.source.rstrip('/')}/MLmodel"
        call_text = f"mlflow.artifacts.download_artifacts(artifact_uri={artifact_uri!r})"

        def read_mlmodel(_: MlflowClient) -> str:
            import mlflow.artifacts

            with tempfile.TemporaryDirectory() as tmp:
                path = mlflow.artifacts.download_artifacts(
                    artifact_uri=artifact_uri,
                    dst_path=tmp,
                    tracking_uri=self._uri or None,
                    registry_uri=self._uri or None,
                )
                return Path(path).read_text(encoding="utf-8")

        text = await self._run(call_text, read_mlmodel)
        try:
            mlmodel = yaml.safe_load(text) or {}
            signature = mlmodel.get("signature") or {}
            return (
                parse_signature_fields(signature.get("inputs")),
                parse_signature_fields(signature.get("outputs")),
            )
        except (ValueError, AttributeError, yaml.YAMLError) as exc:
            rec = RequestRecord(method="MLFLOW", url=call_text, error=f"unreadable MLmodel: {exc}")
            raise BadResponse(f"{call_text}: unreadable MLmodel: {exc}", rec) from None

    async def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` at ``version`` (moves it if it pointed elsewhere)."""
        await self._run(
            _call_text("set_registered_model_alias", name, alias, version),
            lambda c: c.set_registered_model_alias(name, alias, version),
        )


def _map_error(exc: Exception, call_text: str, rec: RequestRecord) -> UpstreamError:
    """Turn an MLflow (or store) exception into our error tree."""
    from mlflow.exceptions import MlflowException

    message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, MlflowException):
        code = str(exc.error_code)
        status = int(exc.get_http_status_code())  # type: ignore[no-untyped-call]
        rec.status_code = status
        rec.error = f"{code}: {message}"
        reason = f"{call_text}: {rec.error}"
        # A missing alias is INVALID_PARAMETER_VALUE on SQL stores; for us it is "not found" too.
        alias_missing = code == "INVALID_PARAMETER_VALUE" and "alias" in message.lower()
        if code == "RESOURCE_DOES_NOT_EXIST" or alias_missing:
            return NotFound(reason, rec, status_code=404, error_code=code)
        if _is_connection_failure(message):
            return UpstreamUnavailable(reason, rec)
        return UpstreamHTTPError(reason, rec, status_code=status, error_code=code)
    rec.error = f"{type(exc).__name__}: {message}"
    return UpstreamUnavailable(f"{call_text}: {rec.error}", rec)


def _is_connection_failure(message: str) -> bool:
    lowered = message.lower()
    return any(
        marker in lowered
        for marker in (
            "max retries exceeded",
            "connection refused",
            "failed to establish",
            "unable to open database",
        )
    )
