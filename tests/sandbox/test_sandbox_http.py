"""The sandbox's HTTP surface speaks the wire formats of docs/sandbox-api.md."""

from __future__ import annotations

import base64

import httpx
import pytest

from sandbox.default_world import SENTIMENT_ENDPOINT, SENTIMENT_MODEL, default_world
from sandbox.runtime import Sandbox
from sandbox.simulation import slis
from tools.sli_queries import LABEL_SLIS, load_queries, render

EP = SENTIMENT_ENDPOINT
CONFIG_PATH = f"/api/2.0/serving-endpoints/{EP}/config"


def _entity(version: str, size: str = "Medium") -> dict[str, str]:
    return {"entity_name": SENTIMENT_MODEL, "entity_version": version, "workload_size": size}


async def test_endpoint_wire_format(sandbox: Sandbox) -> None:
    async with sandbox.http_client() as http:
        body = (await http.get(f"/api/2.0/serving-endpoints/{EP}")).json()
        listed = (await http.get("/api/2.0/serving-endpoints")).json()["endpoints"]
        missing = await http.get("/api/2.0/serving-endpoints/sentiment_endpoint")
    assert body["state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}
    entity = body["config"]["served_entities"][0]
    assert entity["entity_version"] == "4" and entity["state"]["deployment"] == "DEPLOYMENT_READY"
    assert body["config"]["traffic_config"]["routes"][0]["traffic_percentage"] == 100
    assert isinstance(body["creation_timestamp"], int)
    assert {"key": "env", "value": "prod"} in body["tags"]
    assert EP in [e["name"] for e in listed]
    assert missing.status_code == 404
    assert missing.json() == {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": "Endpoint with name 'sentiment_endpoint' does not exist.",
    }


async def test_config_update_is_validated_applied_and_audited(sandbox: Sandbox) -> None:
    async with sandbox.http_client() as http:
        bad_sum = await http.put(
            CONFIG_PATH,
            json={
                "served_entities": [_entity("3") | {"name": "a"}, _entity("4") | {"name": "b"}],
                "traffic_config": {
                    "routes": [
                        {"served_entity_name": "a", "traffic_percentage": 50},
                        {"served_entity_name": "b", "traffic_percentage": 40},
                    ]
                },
            },
        )
        bad_version = await http.put(CONFIG_PATH, json={"served_entities": [_entity("9")]})
        bad_size = await http.put(CONFIG_PATH, json={"served_entities": [_entity("3", "Huge")]})
        ok = await http.put(
            CONFIG_PATH, json={"served_entities": [_entity("3")]}, headers={"X-Actor": "U123"}
        )
        events = (
            await http.get(
                "/api/2.0/audit/serving-events", params={"resource": EP, "since_minutes": 5}
            )
        ).json()["events"]
    assert bad_sum.status_code == 400 and "sum to 100" in bad_sum.json()["message"]
    assert bad_version.status_code == 400 and "entity_version" in bad_version.json()["message"]
    assert bad_size.status_code == 400 and "workload_size" in bad_size.json()["message"]
    assert ok.status_code == 200
    assert ok.json()["config"]["served_entities"][0]["entity_version"] == "3"
    assert slis(sandbox.world, EP)["deployed_version"] == "3"
    assert [(e["type"], e["actor"]) for e in events] == [("endpoint_updated", "U123")]


async def test_update_in_progress_conflicts_unless_stuck(sandbox_factory) -> None:  # type: ignore[no-untyped-def]
    world = default_world()
    world.endpoint(EP).config_update = "IN_PROGRESS"  # type: ignore[union-attr]
    world.endpoint(EP).updated_minutes_ago = 5  # type: ignore[union-attr]
    box = await sandbox_factory(world)
    async with box.http_client() as http:
        busy = await http.put(CONFIG_PATH, json={"served_entities": [_entity("4")]})
        await box.inject("endpoint.stuck_updating")
        superseded = await http.put(CONFIG_PATH, json={"served_entities": [_entity("4")]})
    assert busy.status_code == 409 and busy.json()["error_code"] == "RESOURCE_CONFLICT"
    assert superseded.status_code == 200
    assert superseded.json()["state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}
    assert "pending_config" not in superseded.json()


async def test_idempotency_key_replays_without_applying_again(sandbox: Sandbox) -> None:
    async with sandbox.http_client() as http:
        headers = {"Idempotency-Key": "rollback-1"}
        first = await http.put(
            CONFIG_PATH, json={"served_entities": [_entity("3")]}, headers=headers
        )
        second = await http.put(
            CONFIG_PATH, json={"served_entities": [_entity("3")]}, headers=headers
        )
    updates = [
        e for e in sandbox.world.events if e.type == "endpoint_updated" and e.minutes_ago == 0
    ]
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert len(updates) == 1


async def test_delete_then_recreate_from_the_audited_config(sandbox: Sandbox) -> None:
    async with sandbox.http_client() as http:
        assert (await http.delete(f"/api/2.0/serving-endpoints/{EP}")).status_code == 200
        events = (await http.get("/api/2.0/audit/serving-events", params={"resource": EP})).json()
        deleted = [e for e in events["events"] if e["type"] == "endpoint_deleted"][-1]
        created = await http.post(
            "/api/2.0/serving-endpoints", json={"name": EP, "config": deleted["config"]}
        )
        again = await http.post(
            "/api/2.0/serving-endpoints", json={"name": EP, "config": deleted["config"]}
        )
    assert deleted["actor"] == "model-incident-bot"
    assert created.status_code == 200 and created.json()["state"]["ready"] == "READY"
    assert again.status_code == 409 and again.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"


async def test_invocations_and_pipelines(sandbox: Sandbox) -> None:
    async with sandbox.http_client() as http:
        ok = await http.post(
            f"/serving-endpoints/{EP}/invocations", json={"dataframe_records": [{"text": "hi"}]}
        )
        bad = await http.post(
            f"/serving-endpoints/{EP}/invocations", json={"dataframe_records": [{"txt": "hi"}]}
        )
        statuses = (await http.get("/api/2.0/pipelines")).json()["statuses"]
        detail = (await http.get(f"/api/2.0/pipelines/{statuses[0]['pipeline_id']}")).json()
        path = detail["spec"]["libraries"][0]["file"]["path"]
        export = (
            await http.get("/api/2.0/workspace/export", params={"path": path, "format": "SOURCE"})
        ).json()
    assert set(ok.json()["predictions"][0]) == {"label", "score"}
    assert bad.status_code == 400 and bad.json()["error_code"] == "BAD_REQUEST"
    assert "txt" in bad.json()["message"]
    assert detail["spec"]["configuration"]["ai_query.concurrency"] == "2"
    sql = base64.b64decode(export["content"]).decode()
    assert f"ai_query(\n    '{EP}'" in sql and export["file_type"] == "sql"


async def test_gateway_health_fallback_and_restart(sandbox: Sandbox) -> None:
    async with sandbox.http_client() as http:
        assert (await http.get("/gateway/health")).json()["status"] == "ok"
        await sandbox.inject("provider.finetuned_model_gone", "qa_agent")
        health = (await http.get("/gateway/health")).json()
        agent = (await http.get("/gateway/health/qa_agent")).json()
        probe = await http.post(
            "/gateway/agents/qa_agent/chat",
            json={"messages": [{"role": "user", "content": "hi"}], "use_finetuned": True},
        )
        no_fallback = await http.post(
            "/gateway/agents/qa_agent/chat",
            json={"messages": [], "use_finetuned": True, "use_fallback": False},
        )
        unknown = await http.get("/gateway/health/nobody")
        patched = await http.patch("/gateway/agents/qa_agent/config", json={"use_finetuned": False})
        errors = (
            await http.get("/gateway/logs", params={"level": "ERROR", "source": "qa_agent"})
        ).json()
    assert health["status"] == "degraded" and health["agents"]["qa_agent"] == "degraded"
    assert "404" in agent["last_error"]
    assert probe.json()["fell_back"] is True and probe.json()["model_used"] == "open-mistral-7b"
    assert no_fallback.status_code == 502 and no_fallback.json()["model_used"] is None
    assert unknown.status_code == 404 and "qa_agent" in unknown.json()["agents"]
    assert patched.json()["use_finetuned"] is False and patched.json()["status"] == "ok"
    assert errors["lines"] and all(line["level"] == "ERROR" for line in errors["lines"])


async def test_restart_picks_up_a_rotated_key(sandbox: Sandbox) -> None:
    await sandbox.inject("provider.invalid_key")
    async with sandbox.http_client() as http:
        before = await http.get("/mistral/v1/models", headers={"Authorization": "Bearer k"})
        restarted = await http.post("/gateway/restart")
        after = await http.get("/mistral/v1/models", headers={"Authorization": "Bearer k"})
    assert before.status_code == 401 and before.json() == {"message": "Unauthorized"}
    assert restarted.json()["restarted"] is True
    assert after.status_code == 200


@pytest.mark.parametrize(
    ("fault", "status", "message"),
    [
        ("provider.forbidden", 403, "Forbidden"),
        ("provider.rate_limited", 429, "Requests rate limit exceeded"),
    ],
)
async def test_mistral_errors(sandbox: Sandbox, fault: str, status: int, message: str) -> None:
    await sandbox.inject(fault)
    async with sandbox.http_client() as http:
        answer = await http.get("/mistral/v1/models", headers={"Authorization": "Bearer k"})
    assert answer.status_code == status and answer.json() == {"message": message}


async def test_mistral_chat_and_unknown_model(sandbox: Sandbox) -> None:
    auth = {"Authorization": "Bearer k"}
    async with sandbox.http_client() as http:
        ok = await http.post(
            "/mistral/v1/chat/completions",
            json={"model": "mistral-small-latest", "messages": [{"role": "user", "content": "hi"}]},
            headers=auth,
        )
        gone = await http.post(
            "/mistral/v1/chat/completions", json={"model": "ft:gone", "messages": []}, headers=auth
        )
    assert ok.json()["choices"][0]["message"]["role"] == "assistant"
    assert ok.json()["usage"]["total_tokens"] > 0
    assert gone.status_code == 404 and gone.json() == {"message": "Invalid model: ft:gone"}


async def test_prometheus_answers_every_sli_query(sandbox: Sandbox) -> None:
    expected = slis(sandbox.world, EP)
    async with sandbox.http_client() as http:
        for name, template in load_queries().items():
            answer = await http.get(
                "/prometheus/api/v1/query", params={"query": render(template, EP, 30)}
            )
            body = answer.json()
            assert body["status"] == "success", name
            if expected.get(name) is None:
                assert body["data"]["result"] == [], name
                continue
            (sample,) = body["data"]["result"]
            if name in LABEL_SLIS:
                assert sample["metric"][LABEL_SLIS[name]] == expected[name]
            else:
                assert float(sample["value"][1]) == pytest.approx(expected[name]), name
        bad = await http.get("/prometheus/api/v1/query", params={"query": "up"})
        ranged = await http.get(
            "/prometheus/api/v1/query_range",
            params={
                "query": render(load_queries()["accuracy"], EP, 5),
                "start": 0,
                "end": 60,
                "step": 15,
            },
        )
    assert bad.status_code == 400 and bad.json()["errorType"] == "bad_data"
    assert len(ranged.json()["data"]["result"][0]["values"]) == 5


async def test_prometheus_answers_a_union_of_labelled_sli_queries_as_a_form(
    sandbox: Sandbox,
) -> None:
    def part(name: str, target: str) -> str:
        template = load_queries()[name]
        return f'label_replace({render(template, target, 30)}, "sli", "{name}", "", "")'

    # A name with a quote and " or " in it stays inside its string: the union is cut only at
    # the top level.
    tricky = 'x" or label_replace(up'
    union = " or ".join(
        [part("accuracy", EP), part("deployed_version", EP), part("null_rate", tricky)]
    )
    async with sandbox.http_client() as http:
        answer = await http.post("/prometheus/api/v1/query", data={"query": union})
        foreign = await http.post(
            "/prometheus/api/v1/query", data={"query": f"{part('accuracy', EP)} or up"}
        )
    result = answer.json()["data"]["result"]
    assert [sample["metric"]["sli"] for sample in result] == ["accuracy", "deployed_version"]
    assert result[1]["metric"]["version"] == "4" and result[0]["metric"]["target"] == EP
    assert foreign.status_code == 400 and foreign.json()["errorType"] == "bad_data"


async def test_prometheus_has_no_series_for_a_deleted_endpoint(sandbox: Sandbox) -> None:
    await sandbox.inject("endpoint.deleted")
    query = render(load_queries()["error_rate"], EP, 30)
    async with sandbox.http_client() as http:
        body = (await http.get("/prometheus/api/v1/query", params={"query": query})).json()
    assert body == {"status": "success", "data": {"resultType": "vector", "result": []}}


async def test_metrics_exposition(sandbox: Sandbox) -> None:
    async with sandbox.http_client() as http:
        await http.get("/metrics")
        text = (await http.get("/metrics")).text
    assert "# TYPE model_request_duration_seconds histogram" in text
    assert f'model_requests_total{{target="{EP}",code="200"}}' in text
    assert (
        f'model_deployed_version_info{{target="{EP}",version="4",expected_version="4"}} 1' in text
    )
    assert 'model_accuracy_trend_info{target="qa_agent",trend="stable"} 1' in text


async def test_outages(sandbox: Sandbox) -> None:
    world = sandbox.world.model_copy(deep=True)
    world.outages.serving_api = "down"
    world.outages.prometheus = "garbage"
    world.outages.gateway = "slow"
    await sandbox.set_world(world)
    sandbox.state.slow_seconds = 5
    async with sandbox.http_client(timeout=0.2) as http:
        down = await http.get(f"/api/2.0/serving-endpoints/{EP}")
        garbage = await http.get("/prometheus/api/v1/query", params={"query": "x"})
        with pytest.raises(httpx.ReadTimeout):
            await http.get("/gateway/health")
    assert down.status_code == 503
    assert garbage.status_code == 200 and garbage.text.startswith("<html>")


async def test_control_plane(sandbox: Sandbox) -> None:
    async with sandbox.http_client() as http:
        catalogue = (await http.get("/sandbox/faults")).json()["faults"]
        injected = await http.post("/sandbox/faults/latency.cold_start", json={"target": EP})
        unknown = await http.post("/sandbox/faults/nope", json={})
        wrong_target = await http.post("/sandbox/faults/latency.cold_start", json={"target": "x"})
        world = (await http.get("/sandbox/world")).json()
        replaced = await http.put("/sandbox/world", json=default_world().model_dump(mode="json"))
    assert {"id", "title", "source", "target_kind"} <= set(catalogue[0])
    assert injected.status_code == 200
    assert unknown.status_code == 404 and wrong_target.status_code == 400
    assert world["endpoints"][0]["idle_minutes"] == 45
    assert replaced.status_code == 200 and sandbox.world.endpoint(EP).idle_minutes == 0  # type: ignore[union-attr]
