"""The Prometheus adapter against hand-written wire answers, and the SLI templates."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from tools.clients.errors import BadResponse, UpstreamHTTPError, UpstreamTimeout
from tools.clients.http import recording
from tools.clients.prometheus import PrometheusSLI
from tools.readonly.slis import NUMERIC_SLIS, SlisEvidence
from tools.sli_queries import LABEL_SLIS, load_queries, render

BASE = "http://prometheus.example:9090"


def vector(*samples: tuple[dict[str, str], str]) -> dict[str, object]:
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": m, "value": [1_700_000_000.5, v]} for m, v in samples],
        },
    }


def prometheus(
    handler: Callable[[httpx.Request], httpx.Response], *, retries: int = 1, timeout_s: float = 2.0
) -> PrometheusSLI:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return PrometheusSLI(client, BASE, timeout_s=timeout_s, retries=retries, queries=load_queries())


async def test_sli_fills_the_template_and_passes_prometheus_timeout() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=vector(({"target": "ep"}, "0.25")))

    value = await prometheus(handler, timeout_s=3.0).sli("error_rate", "ep", 15)

    assert value == 0.25
    assert seen[0].url.path == "/api/v1/query"
    query = seen[0].url.params["query"]
    assert query == render(load_queries()["error_rate"], "ep", 15)
    assert 'target="ep"' in query and "[15m]" in query and "{" + "window}" not in query
    assert seen[0].url.params["timeout"] == "3s"


async def test_nan_is_no_value_and_inf_is_kept() -> None:
    answers = iter(["NaN", "+Inf"])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=vector(({}, next(answers))))

    prom = prometheus(handler)
    assert await prom.sli("null_rate", "ep") is None
    assert await prom.sli("latency_p99_ms", "ep") == math.inf


async def test_empty_vector_means_no_series() -> None:
    prom = prometheus(lambda r: httpx.Response(200, json=vector()))
    assert await prom.sli("error_rate", "ep") is None
    assert await prom.sli_label("deployed_version", "ep") is None


async def test_label_slis_read_their_label() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        labels = {"target": "ep", "version": "4", "expected_version": "5", "trend": "sudden_drop"}
        return httpx.Response(200, json=vector((labels, "1")))

    prom = prometheus(handler)
    assert await prom.sli_label("deployed_version", "ep") == "4"
    assert await prom.sli_label("expected_version", "ep") == "5"
    assert await prom.sli_label("accuracy_trend", "ep") == "sudden_drop"


async def test_all_slis_is_one_posted_query_read_by_the_sli_label() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json=vector(
                ({"sli": "error_rate", "target": "ep"}, "0.5"),
                ({"sli": "error_rate", "target": "ep"}, "0.9"),  # only the first one counts
                ({"sli": "null_rate"}, "NaN"),
                ({"sli": "deployed_version", "version": "4"}, "1"),
                ({"sli": "expected_version"}, "1"),  # its label is missing
                ({"sli": "not_an_sli"}, "3"),
            ),
        )

    values = await prometheus(handler, timeout_s=3.0).all_slis('e"p', 15)

    [request] = seen
    assert request.method == "POST" and request.url.path == "/api/v1/query"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = dict(httpx.QueryParams(request.content.decode()))
    assert form["timeout"] == "3s"
    parts = form["query"].split(" or label_replace(")
    assert len(parts) == len(load_queries())
    error_rate = render(load_queries()["error_rate"], 'e"p', 15)  # the name escaped
    assert f'label_replace({error_rate}, "sli", "error_rate", "", "")' in form["query"]
    assert set(values) == set(load_queries())
    assert values["error_rate"] == 0.5 and values["deployed_version"] == "4"
    assert values["null_rate"] is None and values["expected_version"] is None
    assert values["latency_p95_ms"] is None  # no sample: no series


async def test_error_envelope_names_error_type_and_message() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"}
        return httpx.Response(400, json=body)

    with recording() as requests, pytest.raises(UpstreamHTTPError) as caught:
        await prometheus(handler).query("rate(")
    assert caught.value.status_code == 400
    assert caught.value.error_code == "bad_data"
    assert "parse error at char 5" in caught.value.reason
    assert requests[0].params["query"] == "rate(" and requests[0].error


async def test_error_envelope_with_status_200_is_still_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"status": "error", "errorType": "timeout", "error": "query timed out"}
        return httpx.Response(200, json=body)

    with recording() as requests, pytest.raises(UpstreamHTTPError) as caught:
        await prometheus(handler).query("up")
    assert caught.value.error_code == "timeout"
    assert requests[0].error is not None and "query timed out" in requests[0].error


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>502 Bad Gateway</html>"),
        httpx.Response(200, json={"status": "success", "data": {"resultType": "matrix"}}),
        httpx.Response(
            200,
            json={
                "status": "success",
                "data": {"resultType": "vector", "result": [{"metric": {}}]},
            },
        ),
        httpx.Response(
            200,
            json={
                "status": "success",
                "data": {"resultType": "vector", "result": [{"value": [1, "x"]}]},
            },
        ),
    ],
    ids=["html", "matrix", "no-value", "not-a-number"],
)
async def test_garbage_is_a_bad_response(response: httpx.Response) -> None:
    with recording() as requests, pytest.raises(BadResponse):
        await prometheus(lambda r: response).query("up")
    assert requests[0].error


async def test_503_is_retried_within_the_budget_then_raised() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(
            503, json={"status": "error", "errorType": "unavailable", "error": "overloaded"}
        )

    with pytest.raises(UpstreamHTTPError) as caught:
        await prometheus(handler, retries=2).query("up")
    assert calls == 3
    assert caught.value.status_code == 503


async def test_503_then_success_recovers() -> None:
    answers = iter([httpx.Response(503), httpx.Response(200, json=vector(({}, "7")))])
    assert await prometheus(lambda r: next(answers), retries=1).sli("memory_mb", "ep") == 7.0


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """A TCP server that accepts connections and never answers."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


async def test_a_silent_prometheus_times_out_within_the_deadline(silent_server: str) -> None:
    async with httpx.AsyncClient() as client:
        prom = PrometheusSLI(client, silent_server, timeout_s=0.3, retries=3, queries={})
        started = asyncio.get_running_loop().time()
        with recording() as requests, pytest.raises(UpstreamTimeout):
            await prom.query("up")
        assert asyncio.get_running_loop().time() - started < 1.5
    assert requests[0].error == "no answer within 0.3 s"


def test_target_cannot_break_out_of_the_label_matcher() -> None:
    query = render('x{target="{target}"}[{window}m]', 'a"} or vector(1) #', 5)
    assert query == 'x{target="a\\"} or vector(1) #"}[5m]'


def test_every_sli_of_the_tool_has_exactly_one_template() -> None:
    queries = load_queries()
    evidence_slis = set(SlisEvidence.model_fields) - {"accuracy_drop", "missing"}
    assert set(queries) == evidence_slis == set(NUMERIC_SLIS) | set(LABEL_SLIS)
    for name, template in queries.items():
        assert "{target}" in template, name
        assert re.search(r"\b(model_[a-z_]+)", template), name


def test_tools_doc_lists_the_same_slis() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "tools.md").read_text(encoding="utf-8")
    row = next(line for line in doc.splitlines() if line.startswith("| `slis`"))
    documented = set(re.findall(r"`([a-z0-9_]+)`", row.split("|")[3]))
    assert documented - {"missing"} == set(SlisEvidence.model_fields) - {"missing"}
