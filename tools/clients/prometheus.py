"""Prometheus HTTP API adapter: instant queries and the SLIs of ``tools/sli_queries.yaml``.

We call the HTTP API with httpx instead of ``prometheus-api-client`` at runtime: that client is
synchronous, and its urllib3 retry (3 tries, 1 s backoff on 408/429/5xx) stalls a diagnosis behind a
dead Prometheus. Here every query goes through :func:`tools.clients.http.request_json` (one
deadline, a bounded retry budget, a recorded request) and also passes Prometheus' own ``timeout``
parameter so the server gives up when we do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.clients.errors import UpstreamHTTPError
from tools.clients.wire import bad_response, request_recorded
from tools.sli_queries import LABEL_SLIS, render

# The label that names each SLI's sample in the query that asks for all of them at once.
SLI_LABEL = "sli"

SliValue = float | str | None


class Sample(BaseModel):
    """One sample of an instant vector. ``value`` is ``None`` for NaN (e.g. 0/0 with no traffic)."""

    model_config = ConfigDict(extra="ignore")

    metric: dict[str, str] = Field(default_factory=dict)
    timestamp: float
    value: float | None


class MetricsAPI(Protocol):
    """What the tools need from a metrics backend."""

    async def query(self, promql: str) -> list[Sample]: ...

    async def sli(self, name: str, target: str, window_minutes: int = 30) -> float | None: ...

    async def sli_label(self, name: str, target: str, window_minutes: int = 30) -> str | None: ...

    async def all_slis(self, target: str, window_minutes: int = 30) -> dict[str, SliValue]: ...


def parse_value(raw: Any) -> float | None:
    """A Prometheus sample value (a string, possibly NaN/+Inf/-Inf). NaN becomes ``None``."""
    value = float(raw)
    return None if math.isnan(value) else value


def parse_vector(body: Any) -> list[Sample]:
    """The samples of a ``/api/v1/query`` answer. Raises ``ValueError`` on anything else.

    A scalar result becomes one sample without labels.
    """
    if not isinstance(body, Mapping) or not isinstance(body.get("data"), Mapping):
        raise ValueError("answer has no data object")
    data = body["data"]
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return [Sample(timestamp=float(result[0]), value=parse_value(result[1]))]
    if kind != "vector" or not isinstance(result, list):
        raise ValueError(f"expected a vector result, got resultType={kind!r}")
    samples = []
    for item in result:
        pair = item.get("value") if isinstance(item, Mapping) else None
        if not isinstance(pair, list) or len(pair) != 2:
            raise ValueError(f"sample without a [time, value] pair: {item!r}"[:200])
        samples.append(
            Sample(
                metric=item.get("metric") or {},
                timestamp=float(pair[0]),
                value=parse_value(pair[1]),
            )
        )
    return samples


def _value(_name: str, samples: list[Sample]) -> float | None:
    """A numeric SLI: the first sample's value (``None``: no series, or NaN)."""
    return samples[0].value if samples else None


def _label(name: str, samples: list[Sample]) -> str | None:
    """A label-valued SLI: its label on the first sample (``None``: no series, or no label)."""
    return (samples[0].metric.get(LABEL_SLIS.get(name, name)) or None) if samples else None


class PrometheusSLI:
    """Instant queries against a Prometheus-compatible HTTP API, and the named SLIs."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        timeout_s: float,
        retries: int,
        queries: Mapping[str, str],
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._timeout_s = timeout_s
        self._retries = retries
        self._queries = dict(queries)

    async def query(self, promql: str, *, post: bool = False) -> list[Sample]:
        """Run one instant query (``post``: in a form body, for queries too long for a URL).
        Raises :class:`UpstreamError` subclasses; an ``error`` envelope becomes
        :class:`UpstreamHTTPError` (with an HTTP error status) or :class:`BadResponse`."""
        url = f"{self._base}/api/v1/query"
        params = {"query": promql, "timeout": f"{self._timeout_s:g}s"}
        status, body, rec = await request_recorded(
            self._http,
            "POST" if post else "GET",
            url,
            params=None if post else params,
            form=params if post else None,
            timeout_s=self._timeout_s,
            retries=self._retries,
        )
        if isinstance(body, Mapping) and body.get("status") == "error":
            rec.error = f"Prometheus {body.get('errorType', 'error')}: {body.get('error', '')}"
            raise UpstreamHTTPError(
                f"GET {url}: {rec.error}",
                rec,
                status_code=status,
                error_code=str(body.get("errorType")),
                body=body,
            )
        try:
            return parse_vector(body)
        except (ValueError, TypeError, ValidationError) as exc:
            raise bad_response(rec, f"not a Prometheus answer: {exc}") from None

    def promql(self, name: str, target: str, window_minutes: int = 30) -> str:
        """The PromQL of one SLI for ``target``. Raises ``KeyError`` for an unknown SLI."""
        if name not in self._queries:
            raise KeyError(f"unknown SLI {name!r}; known: {', '.join(sorted(self._queries))}")
        return render(self._queries[name], target, window_minutes)

    async def sli(self, name: str, target: str, window_minutes: int = 30) -> float | None:
        """The value of one SLI, or ``None`` when Prometheus has no series (or the value is NaN)."""
        return _value(name, await self.query(self.promql(name, target, window_minutes)))

    async def sli_label(self, name: str, target: str, window_minutes: int = 30) -> str | None:
        """A label-valued SLI (e.g. ``deployed_version``): the label of the first sample, or
        ``None`` when there is no series or the label is absent."""
        return _label(name, await self.query(self.promql(name, target, window_minutes)))

    def all_slis_promql(self, target: str, window_minutes: int = 30) -> str:
        """One instant query for every SLI: each SLI's samples labelled ``sli="<name>"`` with
        ``label_replace`` and joined with ``or`` (the labels differ, so nothing is dropped)."""
        return " or ".join(
            f"label_replace({self.promql(name, target, window_minutes)}, "
            f'"{SLI_LABEL}", "{name}", "", "")'
            for name in self._queries
        )

    async def all_slis(self, target: str, window_minutes: int = 30) -> dict[str, SliValue]:
        """Every SLI of the query file in one request, read as :meth:`sli` and :meth:`sli_label`
        read them one by one: the first sample of each, ``None`` for no series or NaN."""
        samples = await self.query(self.all_slis_promql(target, window_minutes), post=True)
        by_name: dict[str, list[Sample]] = {}
        for one in samples:
            by_name.setdefault(one.metric.get(SLI_LABEL, ""), []).append(one)
        return {
            name: (_label if name in LABEL_SLIS else _value)(name, by_name.get(name, []))
            for name in self._queries
        }
