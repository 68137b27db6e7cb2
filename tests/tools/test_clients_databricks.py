"""The Databricks serving adapter against hand-written wire answers (``httpx.MockTransport``)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tools.clients.databricks import DatabricksServing, EndpointConfig
from tools.clients.errors import BadResponse, Conflict, NotFound, UpstreamTimeout
from tools.clients.http import recording

BASE = "https://workspace.example.com"


def serving(
    handler: Callable[[httpx.Request], httpx.Response], token: str = ""
) -> DatabricksServing:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return DatabricksServing(client, BASE, token=token, timeout_s=2.0, retries=1)


ENDPOINT: dict[str, Any] = {
    "name": "sentiment-endpoint",
    "id": "ep-1",
    "creator": "someone@example.com",
    "last_updated_timestamp": 1_700_000_000_000,
    "state": {"ready": "READY", "config_update": "SOME_NEW_STATE", "brand_new_field": 1},
    "config": {
        "served_entities": [
            {
                "name": "sentiment-4",
                "entity_name": "main.ml.sentiment",
                "entity_version": "4",
                "workload_size": "Medium",
                "scale_to_zero_enabled": True,
                "state": {"deployment": "DEPLOYMENT_READY", "deployment_state_message": ""},
                "unknown": {"nested": True},
            }
        ],
        "traffic_config": {
            "routes": [{"served_entity_name": "sentiment-4", "traffic_percentage": 100}]
        },
    },
    "tags": [{"key": "team", "value": "ml"}],
}


async def test_get_endpoint_ignores_unknown_keys_and_keeps_unknown_states() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ENDPOINT)

    endpoint = await serving(handler, token="dapi-secret").get_endpoint("sentiment-endpoint")

    assert endpoint.state.config_update == "SOME_NEW_STATE"
    assert endpoint.config.served_entities[0].workload_size == "Medium"
    assert endpoint.config.traffic_config.routes[0].traffic_percentage == 100
    assert seen[0].url.path == "/api/2.0/serving-endpoints/sentiment-endpoint"
    assert seen[0].headers["Authorization"] == "Bearer dapi-secret"


async def test_the_token_is_never_recorded() -> None:
    with recording() as records:
        await serving(
            lambda r: httpx.Response(200, json=ENDPOINT), token="dapi-secret"
        ).get_endpoint("sentiment-endpoint")
    assert records and "dapi-secret" not in json.dumps([r.model_dump() for r in records])
    assert "dapi-secret" not in records[0].as_curl()


async def test_legacy_served_models_are_read_as_entities() -> None:
    legacy = {
        "name": "old",
        "config": {
            "served_models": [{"name": "m-2", "model_name": "m", "model_version": 2}],
            "traffic_config": {"routes": [{"served_model_name": "m-2", "traffic_percentage": 100}]},
        },
    }
    endpoint = await serving(lambda r: httpx.Response(200, json=legacy)).get_endpoint("old")
    entity = endpoint.config.served_entities[0]
    assert (entity.entity_name, entity.entity_version) == ("m", "2")
    assert endpoint.config.traffic_config.routes[0].served_entity_name == "m-2"


async def test_missing_endpoint_is_not_found() -> None:
    body = {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": "Endpoint with name 'x' does not exist.",
    }
    with pytest.raises(NotFound) as caught:
        await serving(lambda r: httpx.Response(404, json=body)).get_endpoint("x")
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"


async def test_update_config_sends_entities_routes_and_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ENDPOINT["config"])

    config = EndpointConfig.model_validate(ENDPOINT["config"])
    await serving(handler).update_config("sentiment-endpoint", config, idempotency_key="k-1")

    request = seen[0]
    assert request.method == "PUT"
    assert request.url.path == "/api/2.0/serving-endpoints/sentiment-endpoint/config"
    assert request.headers["Idempotency-Key"] == "k-1"
    sent = json.loads(request.content)
    assert sent["traffic_config"]["routes"] == [
        {"served_entity_name": "sentiment-4", "traffic_percentage": 100}
    ]
    assert sent["served_entities"][0]["entity_version"] == "4"
    assert "state" not in sent["served_entities"][0]


async def test_update_while_in_progress_is_a_conflict() -> None:
    body = {"error_code": "RESOURCE_CONFLICT", "message": "update in progress"}
    config = EndpointConfig.model_validate(ENDPOINT["config"])
    with pytest.raises(Conflict):
        await serving(lambda r: httpx.Response(409, json=body)).update_config(
            "sentiment-endpoint", config, idempotency_key="k"
        )


async def test_invocation_errors_are_answers_not_exceptions() -> None:
    body = {"error_code": "BAD_REQUEST", "message": "missing field 'text'"}
    answer = await serving(lambda r: httpx.Response(400, json=body)).invoke("e", {"inputs": {}})
    assert answer.http_status == 400
    assert answer.error_code == "BAD_REQUEST"
    assert answer.error_message == "missing field 'text'"
    assert answer.predictions is None


async def test_invocation_goes_to_the_serving_path() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"predictions": [{"label": "positive"}]})

    answer = await serving(handler).invoke("sentiment-endpoint", {"dataframe_records": [{}]})
    assert seen[0].url.path == "/serving-endpoints/sentiment-endpoint/invocations"
    assert answer.predictions == [{"label": "positive"}]


async def test_garbage_answer_is_a_bad_response_naming_the_request() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>proxy error</html>")

    with pytest.raises(BadResponse) as caught:
        await serving(handler).list_endpoints()
    assert "/api/2.0/serving-endpoints" in caught.value.reason


async def test_json_of_the_wrong_shape_is_a_bad_response() -> None:
    with pytest.raises(BadResponse) as caught:
        await serving(lambda r: httpx.Response(200, json={"endpoints": {"a": 1}})).list_endpoints()
    assert "endpoints" in caught.value.reason
    with pytest.raises(BadResponse):
        await serving(lambda r: httpx.Response(200, json={"id": "no name"})).get_endpoint("x")


async def test_empty_workspace_lists_nothing() -> None:
    assert await serving(lambda r: httpx.Response(200, json={})).list_endpoints() == []


async def test_workspace_export_decodes_base64_sql() -> None:
    sql = "SELECT ai_query('e', named_struct('text', t)) FROM x"
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        content = base64.b64encode(sql.encode()).decode()
        return httpx.Response(200, json={"content": content, "file_type": "sql"})

    assert await serving(handler).export_source("/Repos/p/q.sql") == sql
    assert seen[0].url.params["path"] == "/Repos/p/q.sql"
    assert seen[0].url.params["format"] == "SOURCE"


async def test_workspace_export_that_is_not_base64_is_a_bad_response() -> None:
    handler = lambda r: httpx.Response(200, json={"content": "%%% not base64 %%%"})  # noqa: E731
    with pytest.raises(BadResponse):
        await serving(handler).export_source("/p.sql")


async def test_audit_events_parse_with_their_config() -> None:
    event = {
        "timestamp": 1_700_000_000_000,
        "type": "endpoint_deleted",
        "resource": "sentiment-endpoint",
        "actor": "ops@example.com",
        "details": {},
        "config": ENDPOINT["config"],
    }
    events = await serving(lambda r: httpx.Response(200, json={"events": [event]})).serving_events(
        "sentiment-endpoint", 60
    )
    assert events[0].config is not None
    assert events[0].config.served_entities[0].entity_version == "4"


async def test_pipelines_and_their_spec() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/2.0/pipelines":
            return httpx.Response(200, json={"statuses": [{"pipeline_id": "p1", "name": "n"}]})
        return httpx.Response(
            200,
            json={
                "pipeline_id": "p1",
                "spec": {
                    "libraries": [{"file": {"path": "/a.sql"}}, {"jar": "x.jar"}],
                    "configuration": {"ai_query.concurrency": "4"},
                },
            },
        )

    api = serving(handler)
    assert [p.pipeline_id for p in await api.list_pipelines()] == ["p1"]
    detail = await api.get_pipeline("p1")
    assert [lib.path for lib in detail.spec.libraries] == ["/a.sql", None]
    assert detail.spec.configuration["ai_query.concurrency"] == "4"


async def test_a_silent_upstream_times_out_within_the_deadline() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(UpstreamTimeout):
        await serving(handler).get_endpoint("x")
